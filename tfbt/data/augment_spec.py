"""The augmentation spec grammar, ``"name[:ratio][@probability], ..."`` (``parse_augmentations``),
apart from the ops themselves (``tfbt.data.augment``) so that a command line can check a spec
without loading TensorFlow.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple, Sequence

AUGMENTATIONS = ("random_mask", "segment_mask", "permute", "crop")
_RATIO_REQUIRED = ("random_mask", "segment_mask", "crop")


class Augmentation(NamedTuple):
    """One step of a ``SequenceAugmenter``: op name, ratio (None: op default), row probability."""

    name: str
    ratio: float | None = None
    probability: float = 1.0


def parse_augmentations(spec: str) -> list[Augmentation]:
    """Parses ``"name[:ratio][@probability], ..."`` into a list of ``Augmentation``.

    ``name`` is one of ``AUGMENTATIONS``. ``ratio`` (in [0, 1]) is required for ``random_mask``,
    ``segment_mask`` and ``crop``; for ``permute`` it is the shuffled block's share of the row
    and defaults to the whole row. ``probability`` (in [0, 1], default 1) is the chance that a
    row gets this step. Whitespace around tokens is ignored; an empty spec means no
    augmentation. Example: ``"crop:0.8@0.5, segment_mask:0.2, permute@0.1"``.

    Raises:
      ValueError: naming the offending token and what was expected.
    """
    if not spec.strip():
        return []
    result = []
    for token in spec.split(","):
        token = token.strip()
        head, has_probability, probability = token.partition("@")
        name, has_ratio, ratio = head.partition(":")
        result.append(_validated(
            name.strip(),
            _parse_number(ratio, "ratio", token) if has_ratio else None,
            _parse_number(probability, "probability", token) if has_probability else 1.0,
            token))
    return result


def format_augmentations(augmentations: Sequence[Augmentation]) -> str:
    """The inverse of ``parse_augmentations`` (for logs, configs and run names)."""
    parts = []
    for aug in augmentations:
        text = aug.name
        if aug.ratio is not None:
            text += f":{aug.ratio}"
        if aug.probability != 1.0:
            text += f"@{aug.probability}"
        parts.append(text)
    return ",".join(parts)


def augmentation_steps(augmentations) -> list[Augmentation]:
    """The steps of a spec string, or of a sequence of ``(name, ratio, probability)`` triples,
    checked."""
    if isinstance(augmentations, str):
        return parse_augmentations(augmentations)
    return [_validated(*_unpack(aug), token=repr(aug)) for aug in augmentations]


def _unpack(aug):
    if isinstance(aug, (str, bytes)) or not isinstance(aug, Sequence) or len(aug) != 3:
        raise ValueError(f"augmentation {aug!r}: expected a (name, ratio, probability) triple")
    return tuple(aug)


def _validated(name, ratio, probability, token):
    if name not in AUGMENTATIONS:
        raise ValueError(f"augmentation {token!r}: unknown name {name!r}; expected one of "
                         f"{', '.join(AUGMENTATIONS)}")
    if ratio is None and name in _RATIO_REQUIRED:
        raise ValueError(f"augmentation {token!r}: {name} needs a ratio, e.g. '{name}:0.2'")
    checks = ([("ratio", ratio)] if ratio is not None else []) + [("probability", probability)]
    for label, value in checks:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
            raise ValueError(f"augmentation {token!r}: {label} must be a number in [0, 1], "
                             f"got {value!r}")
    return Augmentation(name, None if ratio is None else float(ratio), float(probability))


def _parse_number(text: str, label: str, token: str) -> float:
    try:
        return float(text)  # float("") raises too: "crop:" or "permute@" is an error
    except ValueError:
        raise ValueError(f"augmentation {token!r}: {label} {text.strip()!r} is not a number") \
            from None
