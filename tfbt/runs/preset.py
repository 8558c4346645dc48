"""Named training presets (``tfbt train --preset btsr-ml1m``): settings shipped as JSON files.

Each file in ``tfbt/runs/presets/`` (read by ``tfbt.presets``, which also builds a preset's
model in Python) holds ``name``, ``description``, ``source`` (where every value
comes from: the paper's repository and config file, and what is our own assumption) and
``settings`` (``TrainConfig`` fields). A preset fills the fields its file names; flags given
explicitly on the command line override it, and fields it does not name keep their defaults.
"""

from __future__ import annotations

from tfbt import presets
from tfbt.presets import PRESET_DIR, names as preset_names  # noqa: F401  (callers use them)


def load_preset(name: str, fields) -> dict:
    """The ``settings`` of a preset (a shipped name or a JSON file path), checked against
    ``fields`` (the ``TrainConfig`` field names)."""
    settings = presets.load(name)
    unknown = sorted(set(settings) - set(fields))
    if unknown or "data" in settings or "output" in settings:
        raise ValueError(f"{presets.preset_file(name)}: settings {unknown or ['data/output']} "
                         f"are not training options (known: "
                         f"{', '.join(sorted(set(fields) - {'data', 'output'}))})")
    return settings


def under_preset(name: str, given: dict, fields) -> dict:
    """``given`` (the settings set explicitly) over the settings of preset ``name``.

    A preset's ``alpha`` is BT-SR's weight: with ``model="sasrec"`` given and no ``alpha``, it
    is left out, so ``--preset btsr-ml1m --model sasrec`` is the SASRec baseline of the
    preset's settings (alpha 0) rather than an error about an ``--alpha`` nobody gave.
    """
    settings = load_preset(name, fields)
    if given.get("model") == "sasrec" and "alpha" not in given:
        settings.pop("alpha", None)
    return {**settings, **given}
