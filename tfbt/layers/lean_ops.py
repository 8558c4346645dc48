"""What two Keras layers compute, with fewer passes over memory: dropout and layer norm.

A SASRec training step on CPU is bound by element-wise passes over ``[B, L, D]`` and
``[B, H, L, L]`` tensors, not by arithmetic, and Keras' dropout (one 32-bit random float per
element) and layer normalisation (autodiff through the moments is a dozen passes) are large
shares of them (profiles in docs/benchmarks.md). These functions take the Keras layer itself,
for its weights and settings, so checkpoints and configs are unchanged:

* ``dropout(layer, x, training)``: masks from 16-bit draws, two per 32-bit random number.
* ``layer_norm(layer, x)``: the forward pass and a hand-written gradient over the last axis.
"""

from __future__ import annotations

import keras
import tensorflow as tf

_LEVELS = 1 << 16  # values of a 16-bit draw


def dropout(layer, x, training):
    """``layer(x, training=training)`` for a ``keras.layers.Dropout`` (no ``noise_shape``).

    An element is kept when its 16-bit draw is at least ``round(rate · 65536)``, so the keep
    probability is ``1 - rate`` rounded to a multiple of 1/65,536 (0.2 -> 0.8 within 3e-6), and
    kept elements are divided by that exact probability: the expectation is ``x``. The mask is
    applied as one multiplication, whose gradient is the same multiplication. Seeds come from
    the layer's own ``seed_generator``, one per call, as in Keras; the masks are as random as
    Keras' but not the same numbers, so seeded runs differ from runs with Keras' dropout.

    Args:
      layer: a ``keras.layers.Dropout`` (its ``rate`` and ``seed_generator`` are used).
      x: any shape, floating point.
      training: dropout is applied only when true.
    Returns:
      a tensor like ``x``.
    """
    if layer.noise_shape is not None:
        raise ValueError("dropout: noise_shape is not supported; call the layer itself")
    dropped = min(round(layer.rate * _LEVELS), _LEVELS - 1)
    if not training or dropped == 0:
        return x
    size = tf.size(x)
    bits = tf.random.stateless_uniform([(size + 1) // 2], seed=layer.seed_generator.next(),
                                       dtype=tf.int32, minval=None, maxval=None)
    draws = tf.reshape(tf.bitcast(bits, tf.uint16), [-1])[:size]             # two per draw
    keep = tf.reshape(draws >= tf.constant(dropped, tf.uint16), tf.shape(x))
    scale = tf.constant(_LEVELS / (_LEVELS - dropped), x.dtype)
    return x * tf.where(keep, scale, tf.zeros([], x.dtype))


def layer_norm(layer, x):
    """``layer(x)`` for a ``keras.layers.LayerNormalization`` over the last axis (with its
    ``gamma`` and ``beta``, no RMS scaling), computed in float32 as Keras does.

    The gradient is written out: with ``x̂ = (x - μ)·r`` (``r = 1/sqrt(σ² + ε)``) and
    ``g = dy·γ``, ``dx = r·(g - mean(g) - x̂·mean(g·x̂))``, ``dγ = Σ dy·x̂``, ``dβ = Σ dy``
    (sums over every axis but the last): about half the passes of autodiff through the
    moments. Same values as Keras within float32 rounding.

    Args:
      layer: a built ``LayerNormalization`` with ``axis=-1``, ``center`` and ``scale``.
      x: ``[..., D]``.
    Returns:
      ``[..., D]`` in the layer's compute dtype.
    """
    axis = layer.axis if isinstance(layer.axis, int) else tuple(layer.axis)
    if axis not in (-1, len(x.shape) - 1, (-1,), (len(x.shape) - 1,)) or layer.rms_scaling \
            or not (layer.center and layer.scale):
        raise ValueError("layer_norm: only last-axis LayerNormalization with gamma and beta")
    epsilon = layer.epsilon

    @tf.custom_gradient
    def normalise(x, gamma, beta):
        centred = x - tf.reduce_mean(x, axis=-1, keepdims=True)
        inverse = tf.math.rsqrt(tf.reduce_mean(tf.square(centred), -1, keepdims=True) + epsilon)
        normed = centred * inverse

        def gradient(upstream):
            scaled = upstream * gamma
            x_gradient = inverse * (scaled - tf.reduce_mean(scaled, axis=-1, keepdims=True)
                                    - normed * tf.reduce_mean(scaled * normed, -1, keepdims=True))
            rows = [-1, tf.shape(x)[-1]]
            return (x_gradient, tf.reduce_sum(tf.reshape(upstream * normed, rows), axis=0),
                    tf.reduce_sum(tf.reshape(upstream, rows), axis=0))

        return normed * gamma + beta, gradient

    outputs = normalise(tf.cast(x, "float32"), tf.cast(layer.gamma, "float32"),
                        tf.cast(layer.beta, "float32"))
    return tf.cast(outputs, keras.backend.standardize_dtype(layer.compute_dtype))
