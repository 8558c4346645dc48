"""Using learned user representations downstream: the transfer protocol of Liu et al. (2025).

A pretrained encoder is judged by what a small head on top of it can predict from few labels.
The pieces, in the order the experiment uses them:

* ``load_users``: every user's whole chronological sequence and labels, row-aligned.
* ``split_users``: a seeded partition of users into a training pool, validation users and test
  users (disjoint; the same for every label fraction and transfer mode); ``label_subset``: the
  labelled part of the training pool for a label fraction (nested: for one seed the 1% users are
  among the 5% users, and so on).
* ``make_task``: the examples of one task for the three user roles. Every input is a left-padded
  item history ``[n, max_len]`` (``tfbt.data`` conventions):

  - user classification (``favorite_genre``, ``gender``, ``age``, ``occupation``): input = the
    user's training sequence ``items[:-2]`` (what pretraining saw), target = the label; users
    without the label (-1) are left out;
  - ``next_item``: training users give their last ``cuts`` (prefix, following item) pairs that
    end at ``items[-2]`` (``cuts=1``: ``items[:-2] -> items[-2]``); validation users
    ``items[:-2] -> items[-2]``; test users ``items[:-1] -> items[-1]``. Scores are ranked over
    the whole catalogue with the history's items removed (``tfbt.evaluate.evaluate_scores``);
    Recall@K = HR@K (one target per user).

* ``DownstreamHead``: fixed standardisation -> optional hidden layer -> logits; and the three
  ways to train it: ``train_frozen`` (head on fixed features), ``train_finetuned`` (LP-FT: the
  head from ``train_frozen``, then encoder and head together at a lower learning rate) and
  ``train_scratch`` (the same architecture, randomly initialised, trained with the head). Each
  fits with ``model.fit`` and early stopping on the validation users' loss, picks the learning
  rate by the validation metric, and reports test metrics of the chosen model only.

``embed_users`` and ``linear_probe`` are the quick probe used by the pretraining tests;
``probe_label`` runs them on a dataset folder (what ``tfbt demo`` reports).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfbt import data
from tfbt.evaluate import evaluate_scores
from tfrecords_builder.schema import MISSING_LABEL

NEXT_ITEM = "next_item"
MIN_ITEMS = 3  # a user needs a training sequence items[:-2] of at least one item


def embed_users(encoder, dataset: tf.data.Dataset, labels=()) -> dict[str, np.ndarray]:
    """Runs ``encoder`` over every batch (inference mode) and gathers the results.

    Args:
      encoder: callable ``items [B, L] -> [B, D]`` (a Keras model or layer).
      dataset: batches with ``items`` and ``user_id`` (``tfbt.data.make_dataset``).
      labels: label keys of the batches to collect alongside.

    Returns:
      ``{"user_id": [U], "embeddings": [U, D], label: [U] ...}`` as NumPy arrays.
    """
    step = tf.function(lambda items: encoder(items, training=False), reduce_retracing=True)
    parts: dict[str, list] = {"user_id": [], "embeddings": [], **{name: [] for name in labels}}
    for batch in dataset:
        parts["embeddings"].append(step(batch["items"]).numpy())
        parts["user_id"].append(batch["user_id"].numpy())
        for name in labels:
            parts[name].append(batch[name].numpy())
    return {key: np.concatenate(value) for key, value in parts.items()}


def linear_probe(train_x, train_y, test_x, test_y, *, num_classes: int, epochs: int = 200,
                 learning_rate: float = 0.05, l2: float = 1e-4, seed: int = 0) -> dict:
    """Multinomial logistic regression on fixed features; returns test accuracy and macro-F1.

    Features are standardised with the training split's statistics. Rows whose label is
    negative (missing) are ignored on both sides.

    Args:
      train_x, test_x: ``[N, D]`` features. train_y, test_y: ``[N]`` int labels.
      num_classes: size of the label vocabulary.
    """
    train_keep, test_keep = train_y >= 0, test_y >= 0
    train_x, train_y = train_x[train_keep], train_y[train_keep]
    test_x, test_y = test_x[test_keep], test_y[test_keep]
    mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
    keras.utils.set_random_seed(seed)
    probe = keras.Sequential([
        keras.Input(shape=(train_x.shape[1],)),
        keras.layers.Dense(num_classes, kernel_regularizer=keras.regularizers.L2(l2)),
    ])
    probe.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    # Full-batch steps as one epoch of a repeated dataset: the same updates as `epochs` epochs of
    # one batch, without Keras's per-epoch overhead (~15x faster for the default 200).
    full_batch = tf.data.Dataset.from_tensors(((train_x - mean) / std, train_y)).repeat(epochs)
    probe.fit(full_batch, epochs=1, verbose=0, shuffle=False)
    predicted = np.argmax(probe.predict((test_x - mean) / std, verbose=0), axis=1)
    return {"accuracy": float(np.mean(predicted == test_y)),
            "macro_f1": macro_f1(test_y, predicted),
            "num_train": int(len(train_y)), "num_test": int(len(test_y))}


def probe_label(encoder, data_dir: str | os.PathLike, label: str, *, max_len: int,
                seed: int = 0, metadata=None, batch_size: int = 512, **probe_kwargs) -> dict:
    """How linearly decodable ``label`` is from ``encoder``'s frozen user embeddings.

    The quick check of a pretrained encoder (not the full protocol of ``make_task``): every
    user's training sequence (``tfbt.data`` ``sequence`` mode, the most recent ``max_len``
    items) is embedded, a random half of the users (a function of ``seed`` and the user ids, not
    of the pipeline's order) trains ``linear_probe`` and the other half tests it. Users without
    the label are ignored.

    Returns:
      ``linear_probe``'s dict: ``accuracy``, ``macro_f1``, ``num_train``, ``num_test``.
    """
    meta = metadata or data.load_metadata(data_dir)
    if label not in meta.labels:
        raise ValueError(f"{data_dir} has no label {label!r}; it has {sorted(meta.labels)}")
    dataset = data.make_dataset(data_dir, max_len=max_len, batch_size=batch_size,
                                labels=[label], metadata=meta)
    users = embed_users(encoder, dataset, labels=[label])
    # The pipeline may interleave shards in any order: split by user id, not by position.
    order = np.argsort(users["user_id"], kind="stable")
    order = order[np.random.default_rng(seed).permutation(len(order))]
    train, test = order[: len(order) // 2], order[len(order) // 2:]
    x, y = users["embeddings"], users[label]
    return linear_probe(x[train], y[train], x[test], y[test], seed=seed,
                        num_classes=len(meta.labels[label]), **probe_kwargs)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted mean of per-class F1 over the classes present in ``y_true``."""
    scores = []
    for c in np.unique(y_true):
        tp = np.sum((y_pred == c) & (y_true == c))
        predicted, actual = np.sum(y_pred == c), np.sum(y_true == c)
        scores.append(0.0 if tp == 0 else 2 * tp / (predicted + actual))
    return float(np.mean(scores)) if scores else 0.0


# ---------------------------------------------------------------------------------------------
# Users, splits and task examples


@dataclasses.dataclass(frozen=True)
class Users:
    """Every usable user's whole chronological sequence and labels, row-aligned.

    Attributes:
      user_id: int ``[U]`` dataset user indices.
      sequences: ``U`` int32 arrays, all of each user's items in order (at least ``MIN_ITEMS``).
      labels: label name -> int ``[U]`` class index (``-1`` when missing).
      num_classes: label name -> vocabulary size.
      num_items: catalogue size N (items are 1..N).
    """

    user_id: np.ndarray
    sequences: tuple[np.ndarray, ...]
    labels: dict[str, np.ndarray]
    num_classes: dict[str, int]
    num_items: int


def load_users(data_dir: str | os.PathLike, labels: Sequence[str] = (), *,
               metadata=None) -> Users:
    """Reads every user with at least ``MIN_ITEMS`` items and the requested labels."""
    meta = metadata or data.load_metadata(data_dir)
    dataset = data.make_dataset(data_dir, mode="eval", split="test", max_len=1, batch_size=4096,
                                labels=labels, metadata=meta)
    user_ids, sequences, label_parts = [], [], {name: [] for name in labels}
    for batch in dataset:
        seen, target = batch["seen"], batch["target"].numpy()
        histories = np.split(seen.values.numpy(), seen.row_splits.numpy()[1:-1])
        sequences += [np.append(history, last).astype(np.int32)
                      for history, last in zip(histories, target)]
        user_ids.append(batch["user_id"].numpy())
        for name in labels:
            label_parts[name].append(batch[name].numpy())
    keep = np.array([len(seq) >= MIN_ITEMS for seq in sequences], bool)
    if not keep.any():
        raise ValueError(f"{data_dir}: no user has the {MIN_ITEMS} items the downstream tasks "
                         f"need (training sequence, validation and test targets)")
    return Users(
        user_id=np.concatenate(user_ids)[keep],
        sequences=tuple(seq for seq, kept in zip(sequences, keep) if kept),
        labels={name: np.concatenate(parts)[keep] for name, parts in label_parts.items()},
        num_classes={name: len(meta.labels[name]) for name in labels},
        num_items=meta.num_items)


@dataclasses.dataclass(frozen=True)
class UserSplit:
    """Disjoint sorted user rows: the training pool (labels come from here), validation users
    (early stopping and hyper-parameter choice) and test users (reported metrics)."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def split_users(num_users: int, *, valid_fraction: float = 0.1, test_fraction: float = 0.2,
                seed: int = 0) -> UserSplit:
    """A seeded partition of ``num_users`` rows; the same ``seed`` gives the same split."""
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if not 0 < value < 1:
            raise ValueError(f"{name} must be in (0, 1), got {value}")
    num_test = int(round(test_fraction * num_users))
    num_valid = int(round(valid_fraction * num_users))
    if min(num_test, num_valid, num_users - num_test - num_valid) < 1:
        raise ValueError(f"{num_users} users cannot be split into non-empty training, validation "
                         f"({valid_fraction}) and test ({test_fraction}) parts")
    order = np.random.default_rng(seed).permutation(num_users)
    return UserSplit(train=np.sort(order[num_test + num_valid:]),
                     valid=np.sort(order[num_test:num_test + num_valid]),
                     test=np.sort(order[:num_test]))


def label_subset(rows: np.ndarray, fraction: float, *, seed: int) -> np.ndarray:
    """The labelled users of a label fraction: the first ``max(1, round(fraction * n))`` of a
    ``seed``-ed permutation of ``rows``, so subsets are nested across fractions for one seed."""
    if not 0 < fraction <= 1:
        raise ValueError(f"label fraction must be in (0, 1], got {fraction}")
    order = np.random.default_rng(seed).permutation(np.asarray(rows))
    return np.sort(order[:max(1, int(round(fraction * len(order))))])


def pad_left(sequences: Sequence[np.ndarray], max_len: int) -> np.ndarray:
    """int32 ``[n, max_len]``: the last ``max_len`` items of each sequence, left-padded with 0."""
    out = np.zeros((len(sequences), max_len), np.int32)
    for row, seq in enumerate(sequences):
        recent = seq[-max_len:]
        out[row, max_len - len(recent):] = recent
    return out


@dataclasses.dataclass(frozen=True)
class Examples:
    """The examples of one user role of a task.

    Attributes:
      items: int32 ``[n, max_len]`` left-padded input histories.
      targets: int32 ``[n]``: class index, or item index 1..N for ``next_item``.
      rows: int ``[n]`` the user row of each example.
      seen: ``next_item`` only: ``n`` int arrays, each example's whole history (removed from
        the ranking); ``None`` for classification.
    """

    items: np.ndarray
    targets: np.ndarray
    rows: np.ndarray
    seen: tuple[np.ndarray, ...] | None = None

    def __len__(self):
        return len(self.targets)


@dataclasses.dataclass(frozen=True)
class Task:
    """A downstream task: its examples for the training pool, validation and test users."""

    name: str
    num_outputs: int
    train: Examples
    valid: Examples
    test: Examples

    @property
    def is_next_item(self) -> bool:
        return self.name == NEXT_ITEM

    @property
    def metrics(self) -> tuple[str, str]:
        """Reported metrics; the first one also picks hyper-parameters on validation users."""
        return ("recall@10", "recall@5") if self.is_next_item else ("accuracy", "macro_f1")

    def labelled(self, fraction: float, seed: int) -> np.ndarray:
        """bool ``[len(train)]``: the training examples of the labelled users for a fraction."""
        return np.isin(self.train.rows, label_subset(np.unique(self.train.rows), fraction,
                                                     seed=seed))


def make_task(users: Users, split: UserSplit, name: str, *, max_len: int,
              cuts: int = 1) -> Task:
    """Builds the examples of task ``name`` (``"next_item"`` or a label of ``users``)."""
    if name == NEXT_ITEM:
        return Task(name, users.num_items,
                    _next_item_examples(users, split.train, max_len, cuts, offset=2),
                    _next_item_examples(users, split.valid, max_len, 1, offset=2),
                    _next_item_examples(users, split.test, max_len, 1, offset=1))
    if name not in users.labels:
        raise ValueError(f"unknown task {name!r}: expected {NEXT_ITEM!r} or one of the loaded "
                         f"labels {sorted(users.labels)}")
    roles = []
    for rows in (split.train, split.valid, split.test):
        rows = rows[users.labels[name][rows] != MISSING_LABEL]
        if not len(rows):
            raise ValueError(f"task {name!r}: no user of a split has this label")
        roles.append(Examples(pad_left([users.sequences[r][:-2] for r in rows], max_len),
                              users.labels[name][rows].astype(np.int32), rows))
    return Task(name, users.num_classes[name], *roles)


def _next_item_examples(users, rows, max_len, cuts, *, offset):
    """Pairs (items[:t], items[t]) for the last ``cuts`` t <= len - offset (t >= 1)."""
    histories, targets, owners = [], [], []
    for row in rows:
        seq = users.sequences[row]
        for t in range(len(seq) - offset, max(len(seq) - offset - cuts, 0), -1):
            histories.append(seq[:t])
            targets.append(seq[t])
            owners.append(row)
    return Examples(pad_left(histories, max_len), np.asarray(targets, np.int32),
                    np.asarray(owners), tuple(histories))


# ---------------------------------------------------------------------------------------------
# Heads and their training


@keras.saving.register_keras_serializable(package="tfbt")
class DownstreamHead(keras.layers.Layer):
    """Standardisation -> [Dense(hidden_units, relu) -> Dropout] -> Dense(num_outputs) logits.

    The standardisation is fixed (``mean``/``variance`` of the unlabelled training pool's
    representations), so a handful of labelled users does not have to estimate it.

    Args:
      num_outputs: classes (or catalogue size N for next-item: column j scores item j + 1).
      hidden_units: width of the hidden layer; 0 = a linear head.
      dropout: rate before the output layer when there is a hidden layer.
      mean, variance: ``[D]`` standardisation statistics (none: no standardisation).

    Call: ``[B, D]`` -> float ``[B, num_outputs]`` logits.
    """

    def __init__(self, num_outputs, hidden_units=0, dropout=0.0, mean=None, variance=None,
                 **kwargs):
        super().__init__(**kwargs)
        if int(num_outputs) < 1 or int(hidden_units) < 0:
            raise ValueError(f"num_outputs must be >= 1 and hidden_units >= 0, got "
                             f"{num_outputs}, {hidden_units}")
        self.num_outputs, self.hidden_units = int(num_outputs), int(hidden_units)
        self.dropout = float(dropout)
        self.mean = None if mean is None else [float(v) for v in np.ravel(mean)]
        self.variance = None if variance is None else [float(v) for v in np.ravel(variance)]
        self.blocks = []
        if self.mean is not None:
            self.blocks.append(keras.layers.Normalization(mean=self.mean, variance=self.variance,
                                                          name="standardize"))
        if self.hidden_units:
            self.blocks += [keras.layers.Dense(self.hidden_units, activation="relu",
                                               name="hidden"),
                            keras.layers.Dropout(self.dropout, name="dropout")]
        self.blocks.append(keras.layers.Dense(self.num_outputs, name="logits"))

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.blocks:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, x, training=None):
        for layer in self.blocks:
            x = layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_outputs)

    def get_config(self):
        return {**super().get_config(), "num_outputs": self.num_outputs,
                "hidden_units": self.hidden_units, "dropout": self.dropout, "mean": self.mean,
                "variance": self.variance}


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


def evaluate(task: Task, model: Callable, inputs, examples: Examples) -> dict[str, float]:
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
        score = evaluate(task, model, inputs["valid"], task.valid)[task.metrics[0]]
        if best is None or score > best[0]:
            best = (score, learning_rate, stopper.best_epoch + 1, model.get_weights())
    score, learning_rate, best_epochs, weights = best
    model.set_weights(weights)
    return Outcome(model, float(learning_rate), int(best_epochs), float(score),
                   evaluate(task, model, inputs["test"], task.test), int(labelled.sum()))


def _fit_targets(task, targets):
    """Loss targets: class indices, or item index - 1 (column of the next-item logits)."""
    return targets - 1 if task.is_next_item else targets
