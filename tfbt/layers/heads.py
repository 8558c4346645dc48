"""Heads that turn a user representation into task outputs."""

from __future__ import annotations

import keras
import numpy as np


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
