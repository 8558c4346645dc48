"""Command-line options generated from a config dataclass, so that each setting's default, type,
validation and help live in one place: its field.

A field declared with ``option(default, help=..., type=..., choices=...)`` becomes
``--field-name`` (underscores as dashes): its type is ``type``, else read from the annotation
(``int``, ``float``, ``str``, ``X | None``; a ``bool`` is ``--flag``/``--no-flag``), and its
help ends with the field's default. The options are added with ``argparse.SUPPRESS`` as their
default, so the parsed namespace holds exactly the settings the user gave (``given``) and the
dataclass fills in the rest: presets can tell an explicit flag from a default without argparse
internals.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Iterable

from tfbt import cli_types

_TYPES = {int: cli_types.any_int, float: cli_types.finite_float, str: str}


def option(default=dataclasses.MISSING, *, help: str, type=None, choices=None, metavar=None,
           flag: str | None = None, action=None, default_factory=dataclasses.MISSING,
           shown: str | None = None):
    """A dataclass field that is also a command-line option.

    ``help`` is plain text (``%`` needs no escaping); ``type`` parses and checks the text
    (``tfbt.cli_types``); ``flag`` replaces the name derived from the field's; ``action`` an
    argparse action class; ``shown`` how the default reads in ``--help`` when its ``str`` does
    not fit (or ``""`` when ``help`` already says it).
    """
    metadata = {"help": help, "type": type, "choices": choices, "metavar": metavar,
                "flag": flag, "action": action, "shown": shown}
    return dataclasses.field(default=default, default_factory=default_factory,
                             metadata={"option": metadata})


def add_options(parser: argparse.ArgumentParser, config_class, *,
                exclude: Iterable[str] = ()) -> None:
    """Adds an option for every ``option()`` field of ``config_class`` not in ``exclude``."""
    hints = typing.get_type_hints(config_class)
    for field in dataclasses.fields(config_class):
        spec = field.metadata.get("option")
        if spec is None or field.name in exclude:
            continue
        flag = spec["flag"] or "--" + field.name.replace("_", "-")
        kwargs = {"dest": field.name, "help": _help(field, spec),
                  "default": argparse.SUPPRESS}
        annotation = _without_none(hints[field.name])
        if spec["action"] is not None:
            kwargs["action"] = spec["action"]
        elif annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = spec["type"] or _TYPES[annotation]
            kwargs["choices"] = spec["choices"]
        if spec["metavar"]:
            kwargs["metavar"] = spec["metavar"]
        if _default(field) is dataclasses.MISSING:
            kwargs["required"] = True
        parser.add_argument(flag, **kwargs)


def given(args: argparse.Namespace, config_class) -> dict:
    """The fields of ``config_class`` set on the command line, by name."""
    names = {field.name for field in dataclasses.fields(config_class)}
    return {name: value for name, value in vars(args).items() if name in names}


def _default(field: dataclasses.Field):
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def _help(field: dataclasses.Field, spec: dict) -> str:
    text = spec["help"].replace("%", "%%")  # argparse %-formats help strings
    default = _default(field)
    if default is dataclasses.MISSING or spec["shown"] == "":
        return text
    if spec["shown"] is not None:
        shown = spec["shown"]
    elif isinstance(default, (tuple, list)):
        shown = ",".join(map(str, default))
    else:
        shown = str(default)
    return f"{text} (default: {shown})" if text else f"default: {shown}"


def _without_none(annotation):
    """``X`` of ``X | None``; any other annotation as it is."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation
