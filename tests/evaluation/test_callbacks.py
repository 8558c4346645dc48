"""``tfbt.evaluation.FullRankingEarlyStopping`` in a plain ``model.fit``, and the package's place
below ``tfbt.runs``."""

import ast
import json
from pathlib import Path

import keras
import numpy as np
import pytest

import tfbt
from tfbt import data
from tfbt.evaluation import FullRankingEarlyStopping, full_ranking

PACKAGE = Path(tfbt.__file__).parent


def test_evaluation_never_imports_runs():
    for path in (PACKAGE / "evaluation").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(name.startswith("tfbt.runs") for name in names), path


class WeightsPerEpoch(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


@pytest.mark.parametrize("with_state_dir", [False, True])
def test_best_weights_come_back_and_the_state_is_kept(synthetic_data, tmp_path, with_state_dir):
    folder = synthetic_data(60, 40, 12)
    metadata = data.load_metadata(folder)
    tfbt.set_seed(0)
    model = tfbt.sequential_recommender(metadata, max_len=8, hidden_dim=8, learning_rate=0.05)
    valid = data.evaluation_dataset(folder, "valid", max_len=8)
    early = FullRankingEarlyStopping(valid, num_items=metadata.num_items, patience=2,
                                     monitor="MRR", verbose=False,
                                     state_dir=tmp_path if with_state_dir else None)
    seen = WeightsPerEpoch()  # runs after early stopping's validation, before any restore
    history = model.fit(data.next_item_dataset(folder, batch_size=16, max_len=8), epochs=6,
                        verbose=0, callbacks=[early, seen])
    curve = history.history["val_MRR"]
    best = int(np.argmax(curve))
    assert early.state["best_epoch"] == best + 1 and early.state["best"] == curve[best]
    assert len(curve) == early.state["epochs"] == min(6, best + 3)  # patience 2
    for restored, kept in zip(model.get_weights(), seen.weights[best]):
        np.testing.assert_array_equal(restored, kept)
    assert full_ranking(model, valid, metadata.num_items, progress=False)["MRR"] == curve[best]
    if with_state_dir:
        state = json.loads((tmp_path / FullRankingEarlyStopping.STATE_FILE).read_text())
        assert state["best_epoch"] == best + 1 and len(state["evaluations"]) == len(curve)
        resumed = FullRankingEarlyStopping(valid, num_items=metadata.num_items, patience=2,
                                           monitor="MRR", state_dir=tmp_path, resume=True,
                                           verbose=False)
        resumed.on_train_begin()
        assert resumed.state == state
        # Killed after the last validation was stored but before the backup saved its epoch:
        # the epoch runs again on resume and its validation replaces the stored one.
        resumed.set_model(model)
        epochs = [e["epoch"] for e in state["evaluations"]]
        resumed.on_epoch_end(epochs[-1] - 1)
        assert [e["epoch"] for e in resumed.state["evaluations"]] == epochs
    with pytest.raises(ValueError, match="state_dir"):
        FullRankingEarlyStopping(valid, num_items=metadata.num_items, resume=True)
