"""Heads that turn a user representation into task outputs."""

from __future__ import annotations

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="tfbt")
class PullTowards(keras.regularizers.Regularizer):
    """``l2 * sum((w - target)**2)``: an L2 penalty towards ``target`` instead of zero.

    On a head's output bias with ``target`` = the log prior, a few labelled examples cannot
    trade the prior for their own classes without paying for it (a plain L2 would pull the
    bias towards the uniform distribution, an unpenalised bias not at all).
    """

    def __init__(self, l2, target):
        self.l2, self.target = float(l2), _floats(target)

    def __call__(self, weights):
        shift = weights - keras.ops.convert_to_tensor(self.target, weights.dtype)
        return self.l2 * keras.ops.sum(keras.ops.square(shift))

    def get_config(self):
        return {"l2": self.l2, "target": self.target}


@keras.saving.register_keras_serializable(package="tfbt")
class DownstreamHead(keras.layers.Layer):
    """Standardisation -> [Dense(hidden_units, relu) -> Dropout] -> Dense(num_outputs) logits.

    The standardisation is fixed (``mean``/``variance`` of the unlabelled training pool's
    representations), so a handful of labelled users does not have to estimate it. With
    ``output_bias`` (the log prior of the outputs) the output kernel starts at zero, so the
    untrained head predicts exactly the prior (the majority class, the popularity ranking) and
    training moves it from there.

    Args:
      num_outputs: classes (or catalogue size N for next-item: column j scores item j + 1).
      hidden_units: width of the hidden layer; 0 = a linear head.
      dropout: rate before the output layer when there is a hidden layer.
      mean, variance: ``[D]`` standardisation statistics (none: no standardisation).
      output_bias: ``[num_outputs]`` initial output bias (none: zeros, Glorot output kernel).
      l2: L2 penalty ``l2 * sum(W**2)`` on the kernels and ``l2 * sum((b - output_bias)**2)``
        on the output bias (``PullTowards``: held near the prior, not pulled to uniform; the
        same objective as ``tfbt.downstream.logistic.fit_softmax_regression``).

    Call: ``[B, D]`` -> float ``[B, num_outputs]`` logits.
    """

    def __init__(self, num_outputs, hidden_units=0, dropout=0.0, mean=None, variance=None,
                 output_bias=None, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        if int(num_outputs) < 1 or int(hidden_units) < 0:
            raise ValueError(f"num_outputs must be >= 1 and hidden_units >= 0, got "
                             f"{num_outputs}, {hidden_units}")
        self.num_outputs, self.hidden_units = int(num_outputs), int(hidden_units)
        self.dropout = float(dropout)
        self.mean, self.variance = _floats(mean), _floats(variance)
        self.output_bias = _floats(output_bias)
        if self.output_bias is not None and len(self.output_bias) != self.num_outputs:
            raise ValueError(f"output_bias has {len(self.output_bias)} values for "
                             f"{self.num_outputs} outputs")
        self.l2 = float(l2)
        if self.l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {l2}")
        regularizer = keras.regularizers.L2(self.l2) if self.l2 else None
        self.blocks = []
        if self.mean is not None:
            self.blocks.append(keras.layers.Normalization(mean=self.mean, variance=self.variance,
                                                          name="standardize"))
        if self.hidden_units:
            self.blocks += [keras.layers.Dense(self.hidden_units, activation="relu",
                                               kernel_regularizer=regularizer, name="hidden"),
                            keras.layers.Dropout(self.dropout, name="dropout")]
        prior = self.output_bias is not None
        self.blocks.append(keras.layers.Dense(
            self.num_outputs, kernel_regularizer=regularizer,
            bias_regularizer=(PullTowards(self.l2, self.output_bias)
                              if prior and self.l2 else None),
            kernel_initializer="zeros" if prior else "glorot_uniform",
            bias_initializer=(keras.initializers.Constant(np.asarray(self.output_bias))
                              if prior else "zeros"),
            name="logits"))

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

    def set_linear(self, kernel, bias):
        """Sets a linear head (``hidden_units=0``) to ``kernel [D, num_outputs]``, ``bias``
        (e.g. from ``tfbt.downstream.logistic.fit_softmax_regression``)."""
        if self.hidden_units:
            raise ValueError("set_linear needs a linear head (hidden_units=0)")
        self.blocks[-1].set_weights([kernel, bias])

    def get_config(self):
        return {**super().get_config(), "num_outputs": self.num_outputs,
                "hidden_units": self.hidden_units, "dropout": self.dropout, "mean": self.mean,
                "variance": self.variance, "output_bias": self.output_bias, "l2": self.l2}


def _floats(values):
    return None if values is None else [float(v) for v in np.ravel(values)]


@keras.saving.register_keras_serializable(package="tfbt")
class ItemEmbeddingHead(keras.layers.Layer):
    """Next-item scores from pretrained item embeddings: ``project(u) · Eᵀ + b``.

    A fresh ``Dense(N)`` learns one vector per item from the labelled users alone; this head
    reuses what pretraining learned about items instead. ``project`` is a ``DownstreamHead``
    with ``embedding_dim`` outputs (standardisation, optional hidden layer, linear map; it
    starts at zero), ``E`` the encoder's item embeddings (a fixed weight) and ``b`` a trainable
    per-item bias that starts at ``output_bias`` (the log popularity), so the untrained head
    ranks by popularity.

    Args:
      num_items: catalogue size N (column j scores item j + 1).
      embedding_dim: size E of the item embeddings.
      hidden_units, dropout, mean, variance, l2: of the projection (see ``DownstreamHead``);
        ``l2`` also holds the item bias near ``output_bias`` (``PullTowards``).
      output_bias: ``[N]`` initial item bias (none: zeros).
      item_embeddings: ``[N, E]`` initial table (none: zeros, e.g. before ``set_weights``);
        not part of the config: it is saved with the weights.

    Call: ``[B, D]`` -> float ``[B, N]`` scores.
    """

    def __init__(self, num_items, embedding_dim, hidden_units=0, dropout=0.0, mean=None,
                 variance=None, output_bias=None, l2=0.0, item_embeddings=None, **kwargs):
        super().__init__(**kwargs)
        self.num_items, self.embedding_dim = int(num_items), int(embedding_dim)
        self.output_bias = _floats(output_bias)
        if self.output_bias is not None and len(self.output_bias) != self.num_items:
            raise ValueError(f"output_bias has {len(self.output_bias)} values for "
                             f"{self.num_items} items")
        if item_embeddings is not None and np.shape(item_embeddings) != (
                self.num_items, self.embedding_dim):
            raise ValueError(f"item_embeddings has shape {np.shape(item_embeddings)}; expected "
                             f"({self.num_items}, {self.embedding_dim})")
        self.initial_table = item_embeddings
        self.project = DownstreamHead(self.embedding_dim, hidden_units, dropout, mean, variance,
                                      output_bias=np.zeros(self.embedding_dim), l2=l2,
                                      name="project")

    def build(self, input_shape):
        self.project.build(input_shape)
        table = self.initial_table
        self.table = self.add_weight(
            shape=(self.num_items, self.embedding_dim), trainable=False, name="item_embeddings",
            initializer="zeros" if table is None else keras.initializers.Constant(
                np.asarray(table, "float32")))
        bias = self.output_bias
        self.bias = self.add_weight(
            shape=(self.num_items,), name="item_bias",
            initializer="zeros" if bias is None else keras.initializers.Constant(
                np.asarray(bias, "float32")),
            regularizer=(PullTowards(self.project.l2, bias)
                         if bias is not None and self.project.l2 else None))
        self.initial_table = None  # the weight holds it now

    def call(self, x, training=None):
        user = self.project(x, training=training)
        return keras.ops.matmul(user, keras.ops.transpose(self.table)) + self.bias

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_items)

    def set_linear(self, kernel, bias):
        """Sets a linear projection to ``kernel [D, E]`` (no projection bias) and the item
        bias to ``bias [N]``."""
        self.project.set_linear(kernel, np.zeros(self.embedding_dim, "float32"))
        self.bias.assign(bias)

    def get_config(self):
        project = self.project.get_config()
        return {**super().get_config(), "num_items": self.num_items,
                "embedding_dim": self.embedding_dim, "output_bias": self.output_bias,
                **{key: project[key] for key in ("hidden_units", "dropout", "mean", "variance",
                                                 "l2")}}
