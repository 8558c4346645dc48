"""The Barlow Twins projector."""

from __future__ import annotations

from collections.abc import Sequence

import keras


@keras.saving.register_keras_serializable(package="tfbt")
class ProjectorMLP(keras.layers.Layer):
    """The Barlow Twins projector: ``(Dense -> BatchNorm -> ReLU) * (n - 1) -> Dense``.

    As in Zbontar et al. and Liu et al. (a 2-layer MLP by default); the last layer has no
    bias since the loss standardises every column anyway.

    Args:
      units: widths of the layers; the last one is the projection size.

    Call: ``[batch, dim]`` -> ``[batch, units[-1]]``.
    """

    def __init__(self, units: Sequence[int] = (256, 256), **kwargs):
        super().__init__(**kwargs)
        self.units = tuple(int(u) for u in units)
        if not self.units or min(self.units) < 1:
            raise ValueError(f"ProjectorMLP units must be positive integers, got {units!r}")
        self.hidden = [
            (keras.layers.Dense(u, use_bias=False, name=f"dense_{i}"),
             keras.layers.BatchNormalization(name=f"batch_norm_{i}"))
            for i, u in enumerate(self.units[:-1])]
        self.output_dense = keras.layers.Dense(self.units[-1], use_bias=False, name="projection")

    def build(self, input_shape):
        shape = tuple(input_shape)
        for dense, norm in self.hidden:
            dense.build(shape)
            shape = dense.compute_output_shape(shape)
            norm.build(shape)
        self.output_dense.build(shape)

    def call(self, x, training=None):
        for dense, norm in self.hidden:
            x = keras.ops.relu(norm(dense(x), training=training))
        return self.output_dense(x)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units[-1])

    def get_config(self):
        return {**super().get_config(), "units": list(self.units)}
