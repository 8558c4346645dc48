"""make_dataset(users=...): the pipeline of a subset of users (tfbt train --train-fraction)."""

import numpy as np
import pytest

from tfbt import data


def test_only_the_chosen_users_are_read(synthetic_data):
    folder = synthetic_data(60, 40, 10)
    chosen = [3, 17, 18, 42]
    batches = list(data.make_dataset(folder, mode="next_item", batch_size=3, max_len=8,
                                     users=chosen))
    assert sorted(np.concatenate([b["user_id"].numpy() for b in batches])) == chosen
    assert [len(b["user_id"]) for b in batches] == [3, 1]  # full batches of the subset
    everyone = next(iter(data.make_dataset(folder, mode="next_item", batch_size=100,
                                           max_len=8)))
    row = {int(u): i for i, u in enumerate(everyone["user_id"].numpy())}
    for batch in batches:
        for user, items in zip(batch["user_id"].numpy(), batch["items"].numpy()):
            np.testing.assert_array_equal(items, everyone["items"].numpy()[row[int(user)]])
    with pytest.raises(ValueError, match=r"users must be ids in 1\.\.60, got 0\.\.5"):
        data.make_dataset(folder, users=[0, 5])
