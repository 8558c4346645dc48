"""Named settings from the papers, usable from Python as from ``tfbt train --preset NAME``.

Each preset is a JSON file in ``tfbt/runs/presets/`` with ``name``, ``description``, ``source``
(where every value comes from) and ``settings`` (``tfbt train`` options by their Python names:
model sizes, loss, α/λ, batch size, split protocol, early stopping). In Python::

    settings = tfbt.presets.load("btsr-ml1m")
    model = tfbt.presets.recommender("btsr-ml1m", metadata)       # compiled, built
    train = tfbt.next_item_dataset(folder, batch_size=settings["batch_size"],
                                   max_len=settings["max_len"], twins=settings["twins"],
                                   protocol=tfbt.presets.protocol(settings))

Importing this module does not load TensorFlow (``tfbt train --help`` lists the names).
"""

from __future__ import annotations

import json
from pathlib import Path

PRESET_DIR = Path(__file__).parent / "runs" / "presets"


def names() -> list[str]:
    """The shipped presets' names."""
    return sorted(path.stem for path in PRESET_DIR.glob("*.json"))


def preset_file(name: str) -> Path:
    """The JSON file of a preset: a shipped name, or a path ending in ``.json``."""
    return Path(name) if str(name).endswith(".json") else PRESET_DIR / f"{name}.json"


def load(name: str) -> dict:
    """The ``settings`` of a preset: a shipped name or a path to a ``.json`` file of the same
    shape. Raises ``ValueError`` naming the preset or file on a bad one."""
    path = preset_file(name)
    if not path.is_file():
        raise ValueError(f"--preset {name}: no such preset; shipped: {', '.join(names())}"
                         f" (or give a .json file)")
    try:
        settings = json.loads(path.read_text())["settings"]
        if not isinstance(settings, dict):
            raise TypeError("settings is not an object")
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: expected a JSON object with a \"settings\" object ({err})")
    return settings


def protocol(settings: dict):
    """The split protocol of ``settings``: ``"leave-one-out"`` or the temporal options, as
    ``tfbt.data.next_item_dataset`` / ``evaluation_dataset`` / ``tfbt.evaluate`` take it."""
    if settings.get("split", "leave-one-out") != "temporal":
        return "leave-one-out"
    from tfbt.data.splits import TemporalOptions

    fields = {"quantile": "split_quantile", "min_item_count": "min_item_count",
              "min_user_count": "min_user_count", "train_users": "temporal_train_users"}
    return TemporalOptions(**{option: settings[name] for option, name in fields.items()
                              if name in settings})


def recommender(preset, metadata, **overrides):
    """The compiled, built ``SequentialRecommender`` of a preset (a name, a ``.json`` path or a
    settings dict) for the dataset of ``metadata``; ``overrides`` replace settings (e.g.
    ``seed=1``). A BT-SR preset without ``alpha`` gets ``DEFAULT_BTSR_ALPHA`` of its form."""
    from tfbt.losses.names import DEFAULT_BTSR_ALPHA
    from tfbt.models.builders import SETTINGS, sequential_recommender

    settings = {**(preset if isinstance(preset, dict) else load(preset)), **overrides}
    if settings.get("model") == "btsr" and settings.get("alpha") is None:
        settings["alpha"] = DEFAULT_BTSR_ALPHA[settings.get("bt_form", "authors")]
    return sequential_recommender(metadata, **{name: value for name, value in settings.items()
                                               if name in SETTINGS and value is not None})
