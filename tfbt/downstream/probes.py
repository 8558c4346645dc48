"""Quick probes of a pretrained encoder: embed users, fit a linear classifier on them.

``embed_users`` and ``linear_probe`` are the quick check used by the pretraining tests;
``probe_label`` runs them on a dataset folder (what ``tfbt demo`` reports). The full transfer
protocol is ``tfbt.downstream.protocol``.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf

from tfbt import data


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
