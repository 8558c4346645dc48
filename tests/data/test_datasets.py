"""``tfbt.data.next_item_dataset`` / ``evaluation_dataset``: the batches of ``tfbt train`` from a
dataset folder and a few keywords, no ``TrainConfig``."""

import numpy as np
import pytest

import tfbt
from tfbt import data
from tfbt.data import btsr_pairs, splits


def same_batches(a, b):
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for key in x:
            np.testing.assert_array_equal(np.asarray(x[key].to_tensor() if hasattr(
                x[key], "to_tensor") else x[key]), np.asarray(y[key].to_tensor() if hasattr(
                    y[key], "to_tensor") else y[key]))


def test_next_item_batches_with_and_without_twins(synthetic_data):
    folder = synthetic_data(60, 40, 12)

    def plain():  # shuffled as tfbt train shuffles, after the same global seed
        tfbt.set_seed(0)
        return data.make_dataset(folder, mode="next_item", batch_size=16, max_len=8,
                                 shuffle=True, seed=3)

    tfbt.set_seed(0)
    ours = data.next_item_dataset(folder, batch_size=16, max_len=8, seed=3)
    same_batches(ours, plain())
    tfbt.set_seed(0)
    twinned = data.next_item_dataset(folder, batch_size=16, max_len=8, seed=3,
                                     twins="last-item")
    same_batches(twinned, btsr_pairs.add_twins(plain(), folder, max_len=8, seed=3))
    assert {"twin_items", "has_twin", "paired"} <= set(twinned.element_spec)


def test_evaluation_batches_under_either_protocol(synthetic_data):
    folder = synthetic_data(60, 40, 12)
    same_batches(data.evaluation_dataset(folder, "test", max_len=8, batch_size=16),
                 data.make_dataset(folder, mode="eval", split="test", max_len=8,
                                   batch_size=16))
    options = splits.TemporalOptions(quantile=0.8, min_item_count=0, min_user_count=0)
    same_batches(data.evaluation_dataset(folder, "valid", protocol=options, max_len=8),
                 data.make_dataset(folder, mode="eval", split="valid", max_len=8,
                                   batch_size=1024, temporal=options))
    with pytest.raises(ValueError, match="protocol must be one of"):
        data.evaluation_dataset(folder, "valid", protocol="random")
