"""argparse types for numeric flags, shared by every command.

A bad value (``--learning-rate -1``, ``--epochs 0``, ``nan``) is refused while the arguments are
parsed, before any data is read or any folder written; argparse names the flag:
``tfbt train: error: argument --learning-rate: expected a number > 0, got '-1'``.
"""

from __future__ import annotations

import argparse
import json
import math


def _number(text: str, kind: type, expected: str):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _checked(kind: type, expected: str, ok):
    def parse(text: str):
        value = _number(text, kind, expected)
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    parse.__name__ = expected  # argparse's message for a failed type() names it
    return parse


positive_int = _checked(int, "an integer >= 1", lambda v: v >= 1)
non_negative_int = _checked(int, "an integer >= 0", lambda v: v >= 0)
any_int = _checked(int, "an integer", lambda v: True)
positive_float = _checked(float, "a number > 0", lambda v: v > 0)
non_negative_float = _checked(float, "a finite number >= 0", lambda v: v >= 0)
finite_float = _checked(float, "a finite number", lambda v: True)
fraction = _checked(float, "a number in [0, 1)", lambda v: 0 <= v < 1)


def share(text: str) -> float:
    """A fraction in (0, 1], or a percentage such as ``5%``."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1] (or a percentage such "
                                         f"as 5%), got {text!r}")
    return value


def positive_ints(text: str) -> tuple[int, ...]:
    """Comma-separated integers >= 1 (e.g. layer widths ``256,256``)."""
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers >= 1, got {text!r}")
    return tuple(positive_int(part) for part in parts)


class KeyValues(argparse.Action):
    """A repeatable ``KEY=VALUE`` option gathered into one dict (a value is read as JSON when
    it parses, else kept as text)."""

    def __call__(self, parser, namespace, values, option_string=None):
        key, sep, text = values.partition("=")
        if not sep or not key:
            parser.error(f"argument {option_string}: expected KEY=VALUE, got {values!r}")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        setattr(namespace, self.dest, {**(getattr(namespace, self.dest, None) or {}),
                                       key: value})
