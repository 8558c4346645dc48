"""argparse types for numeric flags, shared by every command.

A bad value (``--learning-rate -1``, ``--epochs 0``, ``nan``) is refused while the arguments are
parsed, before any data is read or any folder written; argparse names the flag:
``tfbt train: error: argument --learning-rate: expected a number > 0, got '-1'``.
"""

from __future__ import annotations

import argparse
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
