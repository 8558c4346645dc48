"""What a ``tfbt experiment liu2025`` run is: its settings, tasks, modes and encoder variants."""

from __future__ import annotations

import dataclasses

import numpy as np

from tfbt import downstream
from tfbt.data.augment_spec import format_augmentations, parse_augmentations

MODES = ("bt_frozen", "bt_finetuned", "scratch", "dual_encoder_frozen")
TASKS = (downstream.NEXT_ITEM, "favorite_genre", "gender", "age", "occupation")
ABLATIONS = ("augment", "batch_size", "lambd")
ROLES = ("train", "valid", "test")


@dataclasses.dataclass
class ExperimentConfig:
    """The whole grid and the settings of every stage (saved in ``results.json``).

    ``tasks=None`` runs next-item plus every known label the dataset has. ``augment``,
    ``batch_size`` and ``lambd`` (with ``pretrain_epochs`` etc.) define the main BT encoder;
    ``*_ablation`` list the values each ablation section compares. ``next_item_heads``: the
    next-item heads of the frozen and fine-tuned modes (``tfbt.downstream.NEXT_ITEM_HEADS``);
    each one is its own column, ``mode`` for ``dense`` and ``mode/item-embeddings`` otherwise.
    ``next_item_end``: where training and validation users' next-item examples end
    (``tfbt.downstream.make_task``).
    """

    data: str
    output: str
    seeds: tuple[int, ...] = (0, 1, 2)
    fractions: tuple[float, ...] = (0.01, 0.05, 0.1, 0.25, 1.0)
    modes: tuple[str, ...] = MODES
    tasks: tuple[str, ...] | None = None
    max_len: int = 200
    next_item_cuts: int = 5
    next_item_end: str = "last"
    split_seed: int = 0
    valid_fraction: float = 0.1
    test_fraction: float = 0.2
    encoder_run: str | None = None
    encoder_args: dict = dataclasses.field(default_factory=dict)
    augment: str = "segment_mask:0.2"
    batch_size: int = 128
    lambd: float = 0.0051
    lambda_on: str = "off_diagonal"
    pretrain_epochs: int = 20
    pretrain_learning_rate: float = 1e-3
    projector: tuple[int, ...] = (256, 256)
    dual_epochs: int = 20
    dual_batch_size: int = 128
    dual_learning_rate: float = 1e-3
    augment_ablation: tuple[str, ...] = ()
    batch_size_ablation: tuple[int, ...] = ()
    lambd_ablation: tuple[float, ...] = ()
    ablation_modes: tuple[str, ...] = ("bt_frozen",)
    ablation_fractions: tuple[float, ...] | None = None
    ablation_tasks: tuple[str, ...] | None = None
    next_item_heads: tuple[str, ...] = ("dense",)
    fit: downstream.FitConfig = dataclasses.field(default_factory=downstream.FitConfig)


def validate(config: ExperimentConfig, metadata) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Checks the grid against the dataset before any training; returns the tasks of the main
    grid and of the ablations."""
    for name, values, allowed in (("modes", config.modes, MODES),
                                  ("ablation modes", config.ablation_modes, MODES)):
        unknown = sorted(set(values) - set(allowed))
        if unknown or not values:
            raise ValueError(f"{name}: unknown or empty {unknown or list(values)}; expected some "
                             f"of {', '.join(allowed)}")
    if not config.seeds or not config.fractions:
        raise ValueError("seeds and fractions must not be empty")
    unknown = sorted(set(config.next_item_heads) - set(downstream.NEXT_ITEM_HEADS))
    if unknown or not config.next_item_heads:
        raise ValueError(f"next-item heads: unknown or empty {unknown or []}; expected some of "
                         f"{', '.join(downstream.NEXT_ITEM_HEADS)}")
    for fraction in (*config.fractions, *(config.ablation_fractions or ())):
        if not 0 < fraction <= 1:
            raise ValueError(f"label fraction {fraction} is not in (0, 1]")
    for spec in (config.augment, *config.augment_ablation):
        parse_augmentations(spec)
    for batch in (config.batch_size, *config.batch_size_ablation):
        if not 2 <= batch <= metadata.num_users:
            raise ValueError(f"pretraining batch size {batch}: Barlow Twins needs 2..num_users "
                             f"({metadata.num_users} in {config.data}) sequences per batch")
    available = (downstream.NEXT_ITEM, *sorted(metadata.labels))
    chosen = []
    for flag, tasks in (("--tasks", config.tasks), ("--ablation-tasks", config.ablation_tasks)):
        missing = [task for task in tasks or () if task not in available]
        if missing:
            raise ValueError(f"{flag}: {missing} not available in {config.data}; it has "
                             f"{', '.join(available)}")
        chosen.append(tuple(tasks) if tasks else None)
    main = chosen[0] or tuple(task for task in TASKS if task in available)
    return main, chosen[1] or main


def task_modes(config: ExperimentConfig, task: str, modes) -> list[str]:
    """The result columns of ``modes`` for ``task``: next-item frozen and fine-tuned modes once
    per head of ``config.next_item_heads`` (``scratch`` always has the dense head)."""
    if task != downstream.NEXT_ITEM:
        return list(modes)
    return [mode if head == "dense" else f"{mode}/{head}" for mode in modes
            for head in config.next_item_heads if head == "dense" or mode != "scratch"]


def split_mode(mode: str) -> tuple[str, str]:
    """``"bt_frozen/item-embeddings"`` -> ``("bt_frozen", "item-embeddings")``; a plain mode
    has the ``dense`` head."""
    base, _, head = mode.partition("/")
    return base, head or "dense"


# ---------------------------------------------------------------------------------------------
# Encoders


@dataclasses.dataclass(frozen=True)
class Variant:
    """One BT pretraining setting: a section of the results and the value it varies."""

    section: str
    name: str
    augment: str
    batch_size: int
    lambd: float

    @property
    def slug(self) -> str:
        text = f"{format_augmentations(parse_augmentations(self.augment))}_b{self.batch_size}_" \
               f"l{self.lambd:g}"
        return "".join(c if c.isalnum() or c in "._-" else "-" for c in text)


def variants(config: ExperimentConfig) -> list[Variant]:
    """The main variant, then one per ablation value (sections ``augment``, ``batch_size``,
    ``lambd``)."""
    main = Variant("main", "main", config.augment, config.batch_size, config.lambd)
    out = [main]
    out += [dataclasses.replace(main, section="augment", name=spec, augment=spec)
            for spec in config.augment_ablation]
    out += [dataclasses.replace(main, section="batch_size", name=str(b), batch_size=b)
            for b in config.batch_size_ablation]
    out += [dataclasses.replace(main, section="lambd", name=f"{v:g}", lambd=v)
            for v in config.lambd_ablation]
    return out


def summarize(cells: list[dict]) -> list[dict]:
    """Mean and sample standard deviation (ddof=1; 0 for one seed) over seeds per group."""
    groups: dict[tuple, list[float]] = {}
    for cell in cells:
        key = (cell["section"], cell["variant"], cell["task"], cell["metric"], cell["mode"],
               cell["fraction"])
        groups.setdefault(key, []).append(cell["value"])
    return [{"section": k[0], "variant": k[1], "task": k[2], "metric": k[3], "mode": k[4],
             "fraction": k[5], "mean": float(np.mean(v)),
             "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "n": len(v)}
            for k, v in groups.items()]
