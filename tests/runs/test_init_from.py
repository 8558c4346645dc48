"""`tfbt train --init-from RUN`: SASRec starts from a Barlow Twins pretraining of its encoder."""

import argparse
import shutil

import numpy as np
import pytest

from tfbt import data
from tfbt.runs.init_from import initialize_from_pretraining
from tfbt.runs.layout import load_encoder
from tfbt.runs.pretrain import PretrainConfig, pretrain
from tfbt.runs.commands import add_train_arguments
from tfbt.runs.train import TrainConfig, build_model, training_users

MAX_LEN = 12


@pytest.fixture(scope="module")
def pretrained(synthetic_data, tmp_path_factory):
    dataset = synthetic_data(120, 60, 15)
    run = tmp_path_factory.mktemp("bt_sasrec")
    pretrain(PretrainConfig(data=str(dataset), output=str(run), encoder="sasrec",
                            encoder_args={"hidden_dim": 16, "num_blocks": 1}, max_len=MAX_LEN,
                            batch_size=60, epochs=1, projector=(32, 32)), verbose=0)
    return dataset, run


def _model(dataset, **overrides):
    values = dict(data=str(dataset), output="unused", max_len=MAX_LEN, hidden_dim=16,
                  num_blocks=1)
    config = TrainConfig(**{**values, **overrides}).resolved()
    return build_model(config, data.load_metadata(dataset))


def test_every_encoder_layer_is_copied(pretrained):
    dataset, run = pretrained
    model = _model(dataset)
    fresh = [w.copy() for w in model.encoder.get_weights()]
    copied = initialize_from_pretraining(model.encoder, run, dataset)
    assert set(copied) == {layer.name for layer in (
        model.encoder.item_embedding, model.encoder.position_embedding, *model.encoder.blocks,
        model.encoder.final_norm)}
    source = next(layer for layer in load_encoder(run).layers if hasattr(layer, "blocks"))
    for ours, theirs in zip(model.encoder.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    assert any(not np.array_equal(a, b) for a, b in zip(fresh, model.encoder.get_weights()))


def test_other_architecture_or_vocabulary_is_refused(pretrained, tmp_path):
    dataset, run = pretrained
    with pytest.raises(ValueError, match=r"architecture differs: hidden_dim 16 \(pretrained\) "
                                         r"vs 32 \(this run\)"):
        initialize_from_pretraining(_model(dataset, hidden_dim=32).encoder, run, dataset)
    other = tmp_path / "other"
    shutil.copytree(dataset, other)
    vocabulary = (other / "item_vocab.txt").read_text().splitlines()
    (other / "item_vocab.txt").write_text("\n".join(reversed(vocabulary)) + "\n")
    with pytest.raises(ValueError, match="item vocabulary differs"):
        initialize_from_pretraining(_model(other).encoder, run, other)


def test_train_fraction_picks_nested_seeded_users_and_flags_are_checked(pretrained):
    dataset, run = pretrained
    meta = data.load_metadata(dataset)
    subsets = [training_users(TrainConfig(data=str(dataset), output="o", train_fraction=f,
                                          seed=3), meta) for f in (0.05, 0.25, 1.0)]
    assert [len(s) for s in subsets[:2]] == [6, 30] and subsets[2] is None
    assert set(subsets[0]) <= set(subsets[1]) <= set(range(1, 121))
    with pytest.raises(ValueError, match=r"--train-fraction must be in \(0, 1\]"):
        TrainConfig(data="d", output="o", train_fraction=0.0).resolved()
    with pytest.raises(ValueError, match="--init-from starts SASRec"):
        TrainConfig(data="d", output="o", model="btsr", init_from=str(run)).resolved()
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    args = parser.parse_args(["--data", "d", "--output", "o", "--train-fraction", "5%",
                              "--init-from", str(run)])
    assert (args.train_fraction, args.init_from) == (0.05, str(run))
