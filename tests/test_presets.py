"""``tfbt.presets``: the shipped presets from Python, the same settings ``tfbt train --preset``
applies."""

import pytest

import tfbt
from tfbt.data import splits


def test_a_preset_builds_its_recommender_and_names_its_protocol(synthetic_data):
    metadata = tfbt.load_metadata(synthetic_data(60, 40, 12))
    settings = tfbt.presets.load("btsr-ml1m")
    model = tfbt.presets.recommender("btsr-ml1m", metadata)
    assert (model.alpha, model.lambd, model.bt_form) == (0.2, 0.05, "authors")
    assert model.max_len == settings["max_len"] == 200
    assert float(model.optimizer.beta_2) == pytest.approx(0.98)
    assert tfbt.presets.protocol(settings) == splits.TemporalOptions(0.95, 5, 20)
    assert tfbt.presets.protocol({"split": "leave-one-out"}) == "leave-one-out"
    smaller = tfbt.presets.recommender(settings, metadata, max_len=20, alpha=None)
    assert smaller.max_len == 20 and smaller.alpha == 0.2  # btsr's default alpha


def test_unknown_and_malformed_presets_are_named(tmp_path):
    assert "btsr-ml1m" in tfbt.presets.names()
    with pytest.raises(ValueError, match="no such preset; shipped: btsr-beauty"):
        tfbt.presets.load("nope")
    bad = tmp_path / "bad.json"
    bad.write_text('{"settings": [1]}')
    with pytest.raises(ValueError, match="bad.json: expected a JSON object"):
        tfbt.presets.load(str(bad))

