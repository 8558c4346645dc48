"""The transfer protocol of Liu et al. (2025): three ways to train a head, chosen on validation.

``train_frozen`` (head on fixed features), ``train_finetuned`` (LP-FT: the head from
``train_frozen``, then encoder and head together at a lower learning rate) and
``train_scratch`` (the same architecture, randomly initialised, trained with the head). Each
fits with ``model.fit`` and early stopping on the validation users' loss, picks the learning
rate by the validation metric, and reports test metrics of the chosen model only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfbt.downstream.probes import macro_f1
from tfbt.downstream.tasks import Examples, Task
from tfbt.evaluation import evaluate_scores
from tfbt.layers.heads import DownstreamHead


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """How heads are trained and chosen (on validation users only).

    Attributes:
      head_learning_rates: Adam learning rates tried for a head on fixed features.
      scratch_learning_rates: those tried for a randomly initialised encoder with its head.
      finetune_scale: fine-tuning learning rate = the chosen head learning rate times this.
      head_epochs / encoder_epochs: epoch caps (early stopping on validation loss picks the
        epoch, restoring its weights) without / with a trainable encoder.
      patience: epochs without validation-loss improvement before stopping.
      batch_size: training batch size.
      min_steps_per_epoch: an epoch is one pass over the labelled examples but at least this
        many batches (a 1% label fraction may be a single batch), so early stopping checks the
        validation loss at a sensible pace.
      hidden_units, dropout: the head's shape (see ``DownstreamHead``).
    """

    head_learning_rates: tuple[float, ...] = (1e-3, 1e-2)
    scratch_learning_rates: tuple[float, ...] = (1e-3,)
    finetune_scale: float = 0.1
    head_epochs: int = 200
    encoder_epochs: int = 30
    patience: int = 5
    batch_size: int = 64
    min_steps_per_epoch: int = 10
    hidden_units: int = 0
    dropout: float = 0.0


@dataclasses.dataclass
class Outcome:
    """A trained downstream model, what was chosen and its test metrics."""

    model: keras.Model
    learning_rate: float
    epochs: int
    valid_score: float
    test: dict[str, float]
    num_train: int


def train_frozen(task: Task, features: dict[str, np.ndarray], labelled: np.ndarray,
                 config: FitConfig, *, seed: int) -> Outcome:
    """A head on fixed representations (``features[role]``: ``[len(task.<role>), D]`` for
    roles ``train``, ``valid``, ``test``; ``labelled``: bool mask over ``task.train``)."""
    for role in ("train", "valid", "test"):
        if features[role].shape[0] != len(getattr(task, role)):
            raise ValueError(f"features[{role!r}] has {features[role].shape[0]} rows but task "
                             f"{task.name!r} has {len(getattr(task, role))} {role} examples")
    mean, variance = features["train"].mean(axis=0), features["train"].var(axis=0) + 1e-6

    def build():
        inputs = keras.Input((features["train"].shape[1],), name="representation")
        head = _head(task, config, mean, variance)
        return keras.Model(inputs, head(inputs), name=f"{task.name}_head")

    return _select(task, build, features, labelled, config.head_learning_rates,
                   config.head_epochs, config, seed)


def train_finetuned(task: Task, encoder: keras.Model, probe: Outcome, labelled: np.ndarray,
                    config: FitConfig, *, seed: int) -> Outcome:
    """LP-FT (Kumar et al. 2022): a copy of ``encoder`` under the head of ``probe`` (from
    ``train_frozen`` on this encoder's features), trained together at the probe's learning rate
    times ``config.finetune_scale``. ``encoder`` itself is never modified."""
    head = probe.model.layers[-1]

    def build():
        copy = _copy(encoder, keep_weights=True)
        new_head = DownstreamHead.from_config(head.get_config())
        model = _stack(copy, new_head, task)
        new_head.set_weights(head.get_weights())
        return model

    inputs = {"train": task.train.items, "valid": task.valid.items, "test": task.test.items}
    return _select(task, build, inputs, labelled, (probe.learning_rate * config.finetune_scale,),
                   config.encoder_epochs, config, seed)


def train_scratch(task: Task, encoder: keras.Model, labelled: np.ndarray, config: FitConfig, *,
                  seed: int) -> Outcome:
    """``encoder``'s architecture, freshly initialised (seeded), trained with a new head."""
    inputs = {"train": task.train.items, "valid": task.valid.items, "test": task.test.items}

    def build():
        copy = _copy(encoder, keep_weights=False)
        start = copy.predict(task.train.items, batch_size=1024, verbose=0)
        return _stack(copy, _head(task, config, start.mean(axis=0), start.var(axis=0) + 1e-6),
                      task)

    return _select(task, build, inputs, labelled, config.scratch_learning_rates,
                   config.encoder_epochs, config, seed)


def evaluate_task(task: Task, model: Callable, inputs, examples: Examples) -> dict[str, float]:
    """Metrics of ``model`` (``inputs [n, ...] -> logits [n, num_outputs]``) on ``examples``.

    Classification: ``accuracy`` and ``macro_f1``. Next-item: ``recall@5`` and ``recall@10``
    by full ranking over items 1..N with each example's history removed.
    """
    if not task.is_next_item:
        logits = model.predict(inputs, batch_size=1024, verbose=0)
        predicted = np.argmax(logits, axis=1)
        return {"accuracy": float(np.mean(predicted == examples.targets)),
                "macro_f1": macro_f1(examples.targets, predicted)}
    result = next_item_scores(lambda x: model(x, training=False), inputs, examples,
                              task.num_outputs)
    return {"recall@5": result["HR@5"], "recall@10": result["HR@10"]}


def next_item_scores(score: Callable, inputs, examples: Examples, num_items: int,
                     ks: Sequence[int] = (5, 10)) -> dict:
    """Full-ranking evaluation of ``score(inputs batch) -> [B, N]`` on next-item examples."""
    seen = tf.RaggedTensor.from_row_lengths(
        np.concatenate(examples.seen).astype(np.int32), [len(s) for s in examples.seen])
    dataset = tf.data.Dataset.from_tensor_slices(
        {"inputs": inputs, "target": examples.targets, "seen": seen}).batch(512)
    return evaluate_scores(lambda batch: score(batch["inputs"]), dataset, num_items=num_items,
                           ks=ks, progress=False)


def _head(task, config, mean, variance):
    return DownstreamHead(task.num_outputs, config.hidden_units, config.dropout, mean, variance,
                          name="head")


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


def _select(task, build, inputs, labelled, learning_rates, epochs, config, seed) -> Outcome:
    """Fits ``build()`` once per learning rate; keeps the best by the validation metric.

    One model is built and compiled, and restarted from the same initial weights and a fresh
    optimizer state for every learning rate, so the training step is traced only once.
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
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(learning_rates[0]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    initial, best = model.get_weights(), None
    for learning_rate in learning_rates:
        model.set_weights(initial)
        for variable in model.optimizer.variables:
            variable.assign(tf.zeros_like(variable))
        model.optimizer.learning_rate = learning_rate
        stopper = keras.callbacks.EarlyStopping(patience=config.patience,
                                                restore_best_weights=True)
        model.fit(train, validation_data=valid, epochs=epochs, steps_per_epoch=steps,
                  callbacks=[stopper], shuffle=False, verbose=0)  # already shuffled
        score = evaluate_task(task, model, inputs["valid"], task.valid)[task.metrics[0]]
        if best is None or score > best[0]:
            best = (score, learning_rate, stopper.best_epoch + 1, model.get_weights())
    score, learning_rate, best_epochs, weights = best
    model.set_weights(weights)
    return Outcome(model, float(learning_rate), int(best_epochs), float(score),
                   evaluate_task(task, model, inputs["test"], task.test), int(labelled.sum()))


def _fit_targets(task, targets):
    """Loss targets: class indices, or item index - 1 (column of the next-item logits)."""
    return targets - 1 if task.is_next_item else targets
