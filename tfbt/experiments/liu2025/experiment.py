"""``tfbt experiment liu2025``: the transfer experiment of Liu et al. (2025), end to end.

For every seed: pretrain the Barlow Twins CNN encoder (or reuse ``--encoder-run``) and train the
TFRS dual encoder once, then run every cell (task x label fraction x transfer mode) with the
protocol of ``tfbt.downstream``:

* ``bt_frozen``: a head on the frozen BT representations;
* ``bt_finetuned``: LP-FT: that head, then encoder and head together at a lower learning rate;
* ``scratch``: the same encoder architecture, randomly initialised, trained with the head;
* ``dual_encoder_frozen``: the same head on the dual encoder's frozen query-tower outputs.

Every head starts at the trivial baseline (the log class prior, the item popularity) and its
L2 penalty is chosen on validation users. Next-item heads: ``dense`` (one output per item) and
``item-embeddings`` (``--next-item-head``: a projection of the user representation scored
against the representation's own item embeddings, the BT encoder's or the dual encoder's
candidate tower's), each its own column.

Reference rows that use no downstream labels: ``most_popular`` and ``dual_encoder_retrieval``
(the dual encoder's own dot-product scores) for next-item, the majority class of the training
pool for classification. Ablations (``--augment``, ``--batch-sizes``, ``--lambd``) pretrain one
BT encoder per value and seed (reusing the main one for the main value) and run
``--ablation-modes`` on them, each in its own section.

Outputs in ``--output``: ``results.json`` (every cell: section, variant, task, metric, mode,
fraction, seed, value, and the chosen learning rate and epochs; plus mean ± std per group),
``results.md`` (tables in the paper's shape) and one PNG per section (both from
``tfbt.experiments.liu2025.report``), ``pretrain/`` and ``dual_encoder/`` (reused on a rerun). A rerun
skips the cells already in ``results.json``; it refuses an ``--output`` whose cells were made
with other settings (only the grid's extent, e.g. seeds or fractions, may change).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfbt import data, downstream
from tfbt.experiments.liu2025.config import (
    ROLES,
    ExperimentConfig,
    Variant,
    split_mode,
    summarize,
    task_modes,
    validate,
    variants,
)
from tfbt.experiments.liu2025.report import write_report
from tfbt.fs import kinds, lock
from tfbt.runs import environment, layout
from tfbt.runs.layout import load_encoder
from tfbt.runs.pretrain import PretrainConfig, pretrain


def bt_encoder(config: ExperimentConfig, variant: Variant, seed: int):
    """The pretrained encoder of ``variant`` for ``seed`` (trained once, then reused)."""
    if config.encoder_run and _same_setting(variant, variants(config)[0]):
        encoder = load_encoder(config.encoder_run.format(seed=seed))
    else:
        run = Path(config.output) / "pretrain" / variant.slug / f"seed{seed}"
        settings = PretrainConfig(
            data=config.data, output=str(run), encoder_args=dict(config.encoder_args),
            augment=variant.augment, max_len=config.max_len, batch_size=variant.batch_size,
            epochs=config.pretrain_epochs, learning_rate=config.pretrain_learning_rate,
            lambd=variant.lambd, lambda_on=config.lambda_on, projector=config.projector,
            seed=seed)
        _check_same_settings(run / "config.json", dataclasses.asdict(settings))
        if (run / "encoder.keras").is_file():
            encoder = load_encoder(run)
        else:
            print(f"pretraining BT encoder {variant.slug} seed {seed} -> {run}", flush=True)
            encoder, _ = pretrain(settings, verbose=2)
    if encoder.input_shape[1] != config.max_len:
        raise ValueError(f"encoder takes sequences of {encoder.input_shape[1]} items but "
                         f"--max-len is {config.max_len}")
    return encoder


def dual_encoder_arrays(config: ExperimentConfig, tasks: dict, seed: int) -> dict:
    """Query-tower features ``"{task}/{role}"`` and ``item_embeddings`` of the seed's dual
    encoder, cached in ``dual_encoder/seed{seed}.npz`` (retrained, deterministically, when the
    cache lacks a task)."""
    path = Path(config.output) / "dual_encoder" / f"seed{seed}.npz"
    needed = [f"{name}/{role}" for name in tasks for role in ROLES] + ["item_embeddings"]
    if path.is_file():
        with np.load(path) as cached:
            if all(key in cached for key in needed):
                return {key: cached[key] for key in cached.files}
    # Imported here: the baseline loads TensorFlow Recommenders and tf-keras.
    from tfbt.baselines import train_dual_encoder
    from tfbt.models.retrieval import user_vectors

    print(f"training the dual encoder, seed {seed}", flush=True)
    model = train_dual_encoder(config.data, max_len=config.max_len, epochs=config.dual_epochs,
                               batch_size=config.dual_batch_size,
                               learning_rate=config.dual_learning_rate, seed=seed, verbose=2,
                               **config.encoder_args)
    arrays = {"item_embeddings": np.asarray(model.item_embeddings())}
    for name, task in tasks.items():
        for role in ROLES:
            arrays[f"{name}/{role}"] = user_vectors(model, getattr(task, role).items)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return arrays


def _as_json(value):
    """``value`` as it reads back from a JSON file (tuples become lists)."""
    return json.loads(json.dumps(value))


def _check_same_settings(path: Path, settings: dict):
    if path.is_file():
        saved = json.loads(path.read_text())
        if saved != _as_json(settings):
            raise ValueError(f"{path.parent} was pretrained with other settings; use another "
                             f"--output (or delete that folder)")


# Settings a rerun may change: they only add or leave out cells, never change one.
GRID_FIELDS = frozenset({"output", "seeds", "fractions", "modes", "tasks", "augment_ablation",
                         "batch_size_ablation", "lambd_ablation", "ablation_modes",
                         "ablation_fractions", "ablation_tasks", "next_item_heads"})
# What tfbt did before a setting existed, for results.json files written without it.
LEGACY_SETTINGS = {"next_item_end": "second-to-last"}


def _check_resumable(path: Path, saved: dict, config: ExperimentConfig):
    """Raises when ``results.json`` at ``path`` was made with settings (``saved``) that change
    what a cell means; a setting added to tfbt after the file was written counts as what tfbt
    did then (``LEGACY_SETTINGS``, else its default)."""
    current = _as_json(dataclasses.asdict(config))
    defaults = {**_as_json(dataclasses.asdict(ExperimentConfig(data=config.data,
                                                               output=config.output))),
                **LEGACY_SETTINGS}
    differ = []
    for key, value in current.items():
        before = saved.get(key, defaults[key])
        if isinstance(value, dict) and isinstance(before, dict):
            before = {**defaults[key], **before}
        if key not in GRID_FIELDS and before != value:
            differ.append(f"{key} {before!r} -> {value!r}")
    if differ:
        raise ValueError(f"{path} holds results made with other settings ({'; '.join(differ)}); "
                         f"use another --output, or the same settings to resume")


# ---------------------------------------------------------------------------------------------
# Cells


class Results:
    """``results.json``'s cells, keyed for resuming, written atomically after every change;
    ``stages``: seconds of each encoder stage (pretraining or loading, features), the first
    time it ran."""

    def __init__(self, path: Path, config: ExperimentConfig):
        self.path, self.config = path, config
        saved = json.loads(path.read_text()) if path.is_file() else {}
        if saved:
            _check_resumable(path, saved["config"], config)
        self.cells, self.stages = saved.get("cells", []), saved.get("stages", {})
        self.done = {self._key(cell) for cell in self.cells}

    def timed(self, stage: str, work):
        """``work()``, its wall time recorded under ``stage`` unless already there."""
        start = time.time()
        value = work()
        self.stages.setdefault(stage, round(time.time() - start, 2))
        self.save()
        return value

    @staticmethod
    def _key(cell):
        return (cell["section"], cell["variant"], cell["task"], cell["mode"], cell["fraction"],
                cell["seed"])

    def has(self, section, variant, task, mode, fraction, seed) -> bool:
        return (section, variant, task, mode, fraction, seed) in self.done

    def copy(self, source: tuple, target: tuple) -> bool:
        """Copies the cell ``source`` (a ``has`` key) to ``(section, variant)`` ``target``;
        False when ``source`` is not done yet."""
        if source not in self.done:
            return False
        rows = [{**cell, "section": target[0], "variant": target[1]} for cell in self.cells
                if self._key(cell) == source]
        self.cells += rows
        self.done.add((*target, *source[2:]))
        self.save()
        return True

    def add(self, section, variant, task, mode, fraction, seed, values: dict, **extra):
        for metric, value in values.items():
            self.cells.append({"section": section, "variant": variant, "task": task,
                               "metric": metric, "mode": mode, "fraction": fraction,
                               "seed": seed, "value": float(value), **extra})
        self.done.add((section, variant, task, mode, fraction, seed))
        self.save()

    def save(self):
        layout.write_json(self.path, {"config": dataclasses.asdict(self.config),
                                        "cells": self.cells, "summary": summarize(self.cells),
                                        "stages": self.stages})


def _features(encoder, tasks):
    return {name: {role: encoder.predict(getattr(task, role).items, batch_size=1024, verbose=0)
                   for role in ROLES} for name, task in tasks.items()}


def plan(config: ExperimentConfig, main_tasks, ablation_tasks) -> list[tuple]:
    """Every cell ``(variant, seed, task, fraction, mode)`` in run order: the main grid for
    all seeds first, then each ablation variant."""
    cells = []
    for variant in variants(config):
        main = variant.section == "main"
        for seed in config.seeds:
            for name in (main_tasks if main else ablation_tasks):
                for fraction in (config.fractions if main
                                 else config.ablation_fractions or config.fractions):
                    for mode in task_modes(config, name, config.modes if main
                                           else config.ablation_modes):
                        cells.append((variant, seed, name, fraction, mode))
    return cells


def _run_cells(config, tasks, users, pending, results, progress):
    """Runs pending cells, loading each (variant, seed) encoder and dual encoder once."""
    cache = {}

    def dual_encoder(seed):  # trained (or loaded) only when a pending cell needs it
        if ("dual", seed) not in cache:
            cache[("dual", seed)] = results.timed(
                f"dual encoder seed {seed}", lambda: dual_encoder_arrays(config, tasks, seed))
        return cache[("dual", seed)]

    main = variants(config)[0]
    for (variant, seed), group in itertools.groupby(pending, key=lambda c: c[:2]):
        group = list(group)
        if variant.section != "main" and _same_setting(variant, main):
            group = [cell for cell in group if not results.copy(
                _key((main, *cell[1:])), (variant.section, variant.name))]
        if not group:
            continue
        _references(config, tasks, users, lambda: dual_encoder(seed), seed, results)
        encoder = results.timed(f"BT encoder {variant.slug} seed {seed}",
                                lambda: bt_encoder(config, variant, seed))
        features = results.timed(f"BT features {variant.slug} seed {seed}",
                                 lambda: _features(encoder, tasks))
        bt_items = downstream.item_embedding_table(encoder, users.num_items)
        for (name, fraction), cells in itertools.groupby(group, key=lambda c: c[2:4]):
            task, probes = tasks[name], {}
            labelled = task.labelled(fraction, seed)
            for *_, column in cells:
                start = time.time()
                mode, head = split_mode(column)
                fit = dataclasses.replace(config.fit, next_item_head=head)
                if mode in ("bt_frozen", "bt_finetuned") and head not in probes:
                    probes[head] = downstream.train_frozen(task, features[name], labelled, fit,
                                                           seed=seed, item_embeddings=bt_items)
                if mode == "bt_frozen":
                    outcome = probes[head]
                elif mode == "bt_finetuned":
                    outcome = downstream.train_finetuned(task, encoder, probes[head], labelled,
                                                         fit, seed=seed)
                elif mode == "scratch":
                    outcome = downstream.train_scratch(task, encoder, labelled, fit, seed=seed)
                else:
                    arrays = dual_encoder(seed)
                    de = {role: arrays[f"{name}/{role}"] for role in ROLES}
                    outcome = downstream.train_frozen(
                        task, de, labelled, fit, seed=seed,
                        item_embeddings=arrays["item_embeddings"][1:users.num_items + 1])
                results.add(variant.section, variant.name, name, column, fraction, seed,
                            outcome.test, learning_rate=outcome.learning_rate,
                            l2=outcome.l2, epochs=outcome.epochs, num_train=outcome.num_train,
                            valid_score=outcome.valid_score, kept_start=outcome.kept_start,
                            seconds=round(time.time() - start, 2))
                progress(f"seed {seed} {variant.section}/{variant.name} {name} "
                         f"{fraction * 100:g}% {column}: " + ", ".join(
                             f"{k}={v:.4f}" for k, v in outcome.test.items())
                         + f" (lr {outcome.learning_rate:g}, l2 {outcome.l2:g}, "
                         f"{outcome.epochs} epochs, "
                         f"{'start kept, ' if outcome.kept_start else ''}"
                         f"{outcome.num_train} examples, "
                         f"{time.time() - start:.1f}s)")


def _key(cell):
    """The ``Results`` key of a planned cell ``(variant, seed, task, fraction, mode)``."""
    variant, seed, task, fraction, mode = cell
    return variant.section, variant.name, task, mode, fraction, seed


def _same_setting(variant, other):
    return (variant.augment, variant.batch_size, variant.lambd) == (
        other.augment, other.batch_size, other.lambd)


def _references(config, tasks, users, dual_encoder, seed, results):
    """Rows that need no downstream labels (fraction ``None``)."""
    if downstream.NEXT_ITEM in tasks and not results.has(
            "reference", "reference", downstream.NEXT_ITEM, "dual_encoder_retrieval", None, seed):
        task, de_arrays = tasks[downstream.NEXT_ITEM], dual_encoder()
        table = tf.constant(de_arrays["item_embeddings"][1:users.num_items + 1])
        popularity = tf.constant(task.item_counts, tf.float32)  # what next-item heads start at
        rows = {
            "dual_encoder_retrieval": (lambda x: tf.matmul(x, table, transpose_b=True),
                                       de_arrays[f"{downstream.NEXT_ITEM}/test"]),
            "most_popular": (lambda x: tf.broadcast_to(popularity,
                                                       [tf.shape(x)[0], users.num_items]),
                             task.test.items)}
        for mode, (score, inputs) in rows.items():
            found = downstream.next_item_scores(score, inputs, task.test)
            results.add("reference", "reference", downstream.NEXT_ITEM, mode, None, seed,
                        {"recall@5": found["HR@5"], "recall@10": found["HR@10"]})
    for name, task in tasks.items():
        if task.is_next_item or results.has("reference", "reference", name, "majority", None,
                                            seed):
            continue
        majority = np.bincount(task.train.targets).argmax()
        predicted = np.full_like(task.test.targets, majority)
        results.add("reference", "reference", name, "majority", None, seed,
                    {"accuracy": float(np.mean(predicted == task.test.targets)),
                     "macro_f1": downstream.macro_f1(task.test.targets, predicted)})


EXPERIMENT_COMMAND = "experiment liu2025"  # what its folders are marked with (tfbt.fs.kinds)


def run_experiment(config: ExperimentConfig, *, log=print) -> dict:
    """Runs (or resumes) the whole grid; returns the ``results.json`` payload."""
    output = Path(config.output)
    kinds.claim(output, EXPERIMENT_COMMAND)
    metadata = data.load_metadata(config.data)
    main_tasks, ablation_tasks = validate(config, metadata)
    output.mkdir(parents=True, exist_ok=True)
    with lock.exclusive(output / lock.LOCK_FILE, f"experiment folder {output}"):
        kinds.mark(output, EXPERIMENT_COMMAND)
        return _run_grid(config, metadata, output, main_tasks, ablation_tasks, log)


def _run_grid(config: ExperimentConfig, metadata, output: Path, main_tasks, ablation_tasks,
              log) -> dict:
    """``run_experiment`` in its claimed and locked ``output``."""
    task_names = tuple(dict.fromkeys(main_tasks + ablation_tasks))
    results = Results(output / "results.json", config)  # refuses other settings before any work
    environment.set_seed(config.split_seed)
    users = downstream.load_users(config.data, [t for t in task_names
                                                if t != downstream.NEXT_ITEM], metadata=metadata)
    split = downstream.split_users(len(users.sequences), valid_fraction=config.valid_fraction,
                                   test_fraction=config.test_fraction, seed=config.split_seed)
    tasks = {name: downstream.make_task(users, split, name, max_len=config.max_len,
                                        cuts=config.next_item_cuts,
                                        next_item_end=config.next_item_end)
             for name in task_names}
    log(f"{len(users.sequences)} users: {len(split.train)} training pool, {len(split.valid)} "
        f"validation, {len(split.test)} test; tasks {', '.join(task_names)}")
    cells = plan(config, main_tasks, ablation_tasks)
    pending = [c for c in cells if not results.has(*_key(c))]
    log(f"{len(cells)} cells, {len(cells) - len(pending)} already in {results.path}")
    start = time.time()

    def progress(message):
        done = sum(results.has(*_key(c)) for c in cells)
        log(f"[{done}/{len(cells)} cells, {time.time() - start:.0f}s] {message}")
        if done % 20 == 0:
            write_report(output, results.cells, config, results.stages)

    _run_cells(config, tasks, users, pending, results, progress)
    results.save()
    write_report(output, results.cells, config, results.stages)
    return json.loads((output / "results.json").read_text())


