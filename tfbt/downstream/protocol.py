"""The transfer protocol of Liu et al. (2025): three ways to train a head, chosen on validation.

``train_frozen`` (head on fixed features), ``train_finetuned`` (LP-FT: the head from
``train_frozen``, then encoder and head together at a lower learning rate) and
``train_scratch`` (the same architecture, randomly initialised, trained with the head). Each
fits with ``model.fit`` and early stopping on the validation users' loss, picks the learning
rate and the head's L2 penalty by the validation metric, and reports test metrics of the chosen
model only. Every head starts at the trivial baseline (``Task.log_prior``: the majority class,
the popularity ranking), so training can only move it from there. ``FitConfig.probe="lbfgs"``
fits the frozen linear head with the standard self-supervised protocol instead (L-BFGS
logistic regression to convergence, ``tfbt.downstream.logistic``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfbt.downstream.logistic import fit_softmax_regression
from tfbt.downstream.probes import macro_f1
from tfbt.downstream.settings import NEXT_ITEM_HEADS, PROBES, FitConfig
from tfbt.downstream.tasks import Examples, Task
from tfbt.evaluation.ranking import rank_and_top_k
from tfbt.layers.heads import DownstreamHead, ItemEmbeddingHead


@dataclasses.dataclass
class Outcome:
    """A trained downstream model, what was chosen and its test metrics (``learning_rate`` and
    ``epochs`` are 0 for the L-BFGS probe). ``kept_start``: no trained candidate beat the
    untrained start (a new head's prior, or the probe a fine-tuning began from) on validation.
    """

    model: keras.Model
    learning_rate: float
    epochs: int
    valid_score: float
    test: dict[str, float]
    num_train: int
    l2: float = 0.0
    kept_start: bool = False


def train_frozen(task: Task, features: dict[str, np.ndarray], labelled: np.ndarray,
                 config: FitConfig, *, seed: int,
                 item_embeddings: np.ndarray | None = None) -> Outcome:
    """A head on fixed representations (``features[role]``: ``[len(task.<role>), D]`` for
    roles ``train``, ``valid``, ``test``; ``labelled``: bool mask over ``task.train``).

    ``item_embeddings``: ``[N, E]`` the representation's item embeddings (row j = item j + 1,
    ``item_embedding_table``), needed by ``next_item_head="item-embeddings"``.
    """
    for role in ("train", "valid", "test"):
        if features[role].shape[0] != len(getattr(task, role)):
            raise ValueError(f"features[{role!r}] has {features[role].shape[0]} rows but task "
                             f"{task.name!r} has {len(getattr(task, role))} {role} examples")
    mean, variance = features["train"].mean(axis=0), features["train"].var(axis=0) + 1e-6
    prior, table = task.log_prior(labelled), _item_table(task, config, item_embeddings)

    def build(l2):
        inputs = keras.Input((features["train"].shape[1],), name="representation")
        head = _head(task, config, mean, variance, prior, l2, table)
        return keras.Model(inputs, head(inputs), name=f"{task.name}_head")

    if config.probe == "lbfgs":
        return _select_lbfgs(task, build, features, labelled, config, (mean, variance), prior,
                             table)
    return _select(task, build, features, labelled, config.head_learning_rates,
                   config.head_l2s, config.head_epochs, config, seed)


def train_finetuned(task: Task, encoder: keras.Model, probe: Outcome, labelled: np.ndarray,
                    config: FitConfig, *, seed: int) -> Outcome:
    """LP-FT (Kumar et al. 2022): a copy of ``encoder`` under the head of ``probe`` (from
    ``train_frozen`` on this encoder's features, with its L2 penalty), trained together at the
    probe's learning rate (the smallest head learning rate after an L-BFGS probe) times
    ``config.finetune_scale``.

    How long to fine-tune is chosen on validation users like every other hyper-parameter, and
    0 epochs (the probe itself, ``Outcome.epochs == 0``) is a candidate: with few labels,
    fine-tuning that makes the validation metric worse is not kept (always fine-tuning can leave
    a head below most-popular; docs/benchmarks.md). ``encoder``
    itself is never modified; an ``ItemEmbeddingHead`` keeps its copy of the pretrained item
    embeddings fixed.
    """
    head = probe.model.layers[-1]

    def build(l2):
        copy = _copy(encoder, keep_weights=True)
        new_head = type(head).from_config({**head.get_config(), "l2": l2})
        model = _stack(copy, new_head, task)
        new_head.set_weights(head.get_weights())
        return model

    inputs = {"train": task.train.items, "valid": task.valid.items, "test": task.test.items}
    rate = probe.learning_rate or min(config.head_learning_rates)
    return _select(task, build, inputs, labelled, (rate * config.finetune_scale,), (probe.l2,),
                   config.encoder_epochs, config, seed)


def train_scratch(task: Task, encoder: keras.Model, labelled: np.ndarray, config: FitConfig, *,
                  seed: int) -> Outcome:
    """``encoder``'s architecture, freshly initialised (seeded), trained with a new head (a
    ``DownstreamHead`` for every task: random item embeddings carry no knowledge)."""
    inputs = {"train": task.train.items, "valid": task.valid.items, "test": task.test.items}
    prior = task.log_prior(labelled)

    def build(l2):
        copy = _copy(encoder, keep_weights=False)
        start = copy.predict(task.train.items, batch_size=1024, verbose=0)
        return _stack(copy, _head(task, config, start.mean(axis=0), start.var(axis=0) + 1e-6,
                                  prior, l2), task)

    return _select(task, build, inputs, labelled, config.scratch_learning_rates,
                   config.head_l2s, config.encoder_epochs, config, seed)


def item_embedding_table(encoder: keras.Model, num_items: int) -> np.ndarray:
    """``[N, E]`` the item embeddings of a tfbt encoder model (its layer with an
    ``item_embedding``), row j = item j + 1 (the padding row 0 dropped)."""
    owners = [layer for layer in encoder.layers if hasattr(layer, "item_embedding")]
    if not owners:
        raise ValueError(f"encoder {encoder.name!r} has no layer with an item embedding; "
                         f"--next-item-head item-embeddings needs one")
    table = keras.ops.convert_to_numpy(owners[0].item_embedding.embeddings)
    if table.shape[0] <= num_items:
        raise ValueError(f"encoder {encoder.name!r} embeds {table.shape[0] - 1} items but the "
                         f"dataset has {num_items}")
    return table[1:num_items + 1]


def evaluate_task(task: Task, model: Callable, inputs, examples: Examples) -> dict[str, float]:
    """Metrics of ``model`` (``inputs [n, ...] -> logits [n, num_outputs]``) on ``examples``.

    Classification: ``accuracy`` and ``macro_f1``. Next-item: ``recall@5`` and ``recall@10``
    by full ranking over items 1..N with each example's history removed. The model runs
    eagerly, batch by batch: nothing is traced, so the many candidate models of a grid cost no
    retracing.
    """
    return _metrics(task, examples, _predict(task, model, inputs, examples))


def _next_item_ranks(score: Callable, inputs, examples: Examples) -> np.ndarray:
    """int ``[n]``: each example's target rank (1 = first) under ``score(inputs batch) ->
    [B, N]``, by full ranking with the example's history removed (``rank_and_top_k``, run
    eagerly on batches of 512, so a new scorer is never traced)."""
    ranks = []
    for start in range(0, len(examples), 512):
        rows = slice(start, start + 512)
        seen = examples.seen[rows]
        seen = tf.RaggedTensor.from_row_lengths(np.concatenate(seen).astype(np.int64),
                                                [len(s) for s in seen])
        scores = tf.convert_to_tensor(score(inputs[rows]), tf.float32)
        ranks.append(rank_and_top_k(scores, examples.targets[rows], seen, 1)[0].numpy())
    return np.concatenate(ranks)


def next_item_scores(score: Callable, inputs, examples: Examples,
                     ks: Sequence[int] = (5, 10)) -> dict:
    """``HR@k`` (= Recall@k, one target per example) of ``_next_item_ranks``."""
    ranks = _next_item_ranks(score, inputs, examples)
    return {f"HR@{k}": float(np.mean(ranks <= k)) for k in ks}


def _item_table(task, config, item_embeddings):
    """The item table of the next-item head, or None for a ``DownstreamHead``."""
    if not task.is_next_item or config.next_item_head != "item-embeddings":
        return None
    if item_embeddings is None:
        raise ValueError("next_item_head 'item-embeddings' needs the representation's item "
                         "embeddings (train_frozen(..., item_embeddings=...))")
    if item_embeddings.shape[0] != task.num_outputs:
        raise ValueError(f"item_embeddings has {item_embeddings.shape[0]} rows for "
                         f"{task.num_outputs} items")
    return item_embeddings


def _head(task, config, mean, variance, prior, l2, table=None):
    """An ``ItemEmbeddingHead`` on ``table`` when there is one, else a ``DownstreamHead``;
    both start at the log prior ``prior``."""
    if table is not None:
        return ItemEmbeddingHead(task.num_outputs, table.shape[1], config.hidden_units,
                                 config.dropout, mean, variance, output_bias=prior, l2=l2,
                                 item_embeddings=table, name="head")
    return DownstreamHead(task.num_outputs, config.hidden_units, config.dropout, mean, variance,
                          output_bias=prior, l2=l2, name="head")


def _stack(encoder, head, task):
    items = keras.Input(encoder.input_shape[1:], dtype="int32", name="items")
    return keras.Model(items, head(encoder(items)), name=f"{task.name}_model")


def _copy(encoder, *, keep_weights):
    """A new model with ``encoder``'s architecture (fresh seeded weights, or a copy of its)."""
    copy = keras.models.clone_model(encoder)
    if keep_weights:
        copy.set_weights(encoder.get_weights())
    copy.trainable = True
    return copy


def _select(task, build, inputs, labelled, learning_rates, l2s, epochs, config, seed
            ) -> Outcome:
    """Fits ``build(l2)`` once per L2 penalty and learning rate; keeps one by the validation
    metric (``_simplest_within_se`` with ``config.selection_se``).

    The untrained start (a new head's prior, or the probe a fine-tuning starts from) is the
    first candidate (``epochs`` 0, ``learning_rate`` 0), so a model that training made worse on
    validation users is never chosen over where it started. One model is built and compiled per
    penalty, and restarted from the same initial weights and a fresh optimizer state for every
    learning rate, so its training step is traced once.
    """
    train_x, train_y = inputs["train"][labelled], _fit_targets(task, task.train.targets[labelled])
    if not len(train_y):
        raise ValueError(f"task {task.name!r}: no labelled training example")
    keras.utils.set_random_seed(seed)
    train = (tf.data.Dataset.from_tensor_slices((train_x, train_y))
             .shuffle(len(train_y), seed=seed).repeat().batch(config.batch_size))
    valid = tf.data.Dataset.from_tensor_slices(
        (inputs["valid"], _fit_targets(task, task.valid.targets))).batch(1024)
    steps = max(-(-len(train_y) // config.batch_size), config.min_steps_per_epoch)
    candidates = []  # (validation hits, learning rate, l2, epochs, model, weights)
    for l2 in l2s:
        model = build(l2)
        model.compile(optimizer=keras.optimizers.Adam(learning_rates[0]),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        initial = model.get_weights()
        if not candidates:
            candidates.append((_validation_hits(task, model, inputs), 0.0, l2, 0, model,
                               initial))
        for learning_rate in learning_rates:
            model.set_weights(initial)
            for variable in model.optimizer.variables:
                variable.assign(tf.zeros_like(variable))
            model.optimizer.learning_rate = learning_rate
            stopper = keras.callbacks.EarlyStopping(patience=config.patience,
                                                    restore_best_weights=True)
            model.fit(train, validation_data=valid, epochs=epochs, steps_per_epoch=steps,
                      callbacks=[stopper], shuffle=False, verbose=0)  # already shuffled
            candidates.append((_validation_hits(task, model, inputs), learning_rate, l2,
                               stopper.best_epoch + 1, model, model.get_weights()))
    chosen = _simplest_within_se([c[0] for c in candidates], config.selection_se)
    hits, learning_rate, l2, best_epochs, model, weights = candidates[chosen]
    model.set_weights(weights)
    return Outcome(model, float(learning_rate), int(best_epochs), float(hits.mean()),
                   evaluate_task(task, model, inputs["test"], task.test), int(labelled.sum()),
                   float(l2), kept_start=chosen == 0)


def _select_lbfgs(task, build, features, labelled, config, statistics, prior, table):
    """The standard linear probe: per L2 penalty, logistic regression fitted by L-BFGS on the
    standardised features (the head's own standardisation); chosen on validation as in
    ``_select``, the untrained start (the prior) being the first candidate."""
    mean, variance = statistics
    x = (features["train"][labelled] - mean) / np.sqrt(variance)
    y = _fit_targets(task, task.train.targets[labelled])
    if not len(y):
        raise ValueError(f"task {task.name!r}: no labelled training example")
    start = build(config.head_l2s[0])
    candidates = [(_validation_hits(task, start, features), config.head_l2s[0], start)]
    solution = None  # the path runs from the strongest penalty down, each fit warm-started
    for l2 in sorted(config.head_l2s, reverse=True):
        solution = weights, bias = fit_softmax_regression(
            x, y, l2=l2, bias=prior, table=table, iterations=config.lbfgs_iterations,
            start=solution)
        model = build(l2)
        model.get_layer("head").set_linear(weights, bias)
        candidates.append((_validation_hits(task, model, features), l2, model))
    chosen = _simplest_within_se([c[0] for c in candidates], config.selection_se)
    hits, l2, model = candidates[chosen]
    return Outcome(model, 0.0, 0, float(hits.mean()),
                   evaluate_task(task, model, features["test"], task.test),
                   int(labelled.sum()), float(l2), kept_start=chosen == 0)


def _predict(task, model, inputs, examples) -> np.ndarray:
    """Per example: the predicted class, or the target's rank (next item)."""
    if task.is_next_item:
        return _next_item_ranks(lambda x: model(x, training=False), inputs, examples)
    logits = [keras.ops.convert_to_numpy(model(inputs[i:i + 1024], training=False))
              for i in range(0, len(inputs), 1024)]
    return np.argmax(np.concatenate(logits), axis=1)


def _metrics(task, examples, predicted) -> dict[str, float]:
    if task.is_next_item:
        return {"recall@5": float(np.mean(predicted <= 5)),
                "recall@10": float(np.mean(predicted <= 10))}
    return {"accuracy": float(np.mean(predicted == examples.targets)),
            "macro_f1": macro_f1(examples.targets, predicted)}


def _validation_hits(task, model, inputs) -> np.ndarray:
    """float ``[n]`` per validation example: 1 where the primary metric counts it (right
    class, target in the top 10), so its mean is the validation score."""
    predicted = _predict(task, model, inputs["valid"], task.valid)
    hits = predicted <= 10 if task.is_next_item else predicted == task.valid.targets
    return hits.astype(np.float64)


def _simplest_within_se(hits: Sequence[np.ndarray], tolerance: float) -> int:
    """Index of the first candidate (the simplest: the start, then the strongest penalty first)
    whose validation score is at most ``tolerance`` standard errors below the best one's: the
    one-standard-error rule (Hastie, Tibshirani & Friedman 2009, 7.10), with the standard error
    of the per-example difference from the best (paired: both are scored on the same users, so
    a small gain on the same users is kept and a reshuffle of lucky hits is not). ``tolerance``
    0 keeps the first of the best."""
    scores = np.array([h.mean() for h in hits])
    best = hits[int(np.argmax(scores))]
    errors = np.array([(best - h).std(ddof=1) / np.sqrt(len(best)) if len(best) > 1 else 0.0
                       for h in hits])
    return int(np.argmax(scores >= scores.max() - tolerance * errors))  # the first True


def _fit_targets(task, targets):
    """Loss targets: class indices, or item index - 1 (column of the next-item logits)."""
    return targets - 1 if task.is_next_item else targets
