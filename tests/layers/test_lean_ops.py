"""tfbt.layers.lean_ops: Keras Dropout's semantics from 16-bit draws; LayerNormalization's values and gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt.layers.lean_ops import dropout, layer_norm


@pytest.mark.parametrize("rate", [0.1, 0.2, 0.5, 0.9])
def test_keeps_one_minus_rate_and_scales_kept_values_to_keep_the_mean(rate):
    layer = keras.layers.Dropout(rate, seed=3)
    x = tf.random.stateless_uniform([101, 997], seed=(1, 2), minval=1.0, maxval=2.0)  # odd size
    y = dropout(layer, x, training=True).numpy()
    kept = y != 0
    keep = 1 - round(rate * 65536) / 65536
    assert abs(kept.mean() - (1 - rate)) < 4 * np.sqrt(rate * (1 - rate) / x.shape.num_elements())
    np.testing.assert_allclose(y[kept], x.numpy()[kept] / keep, rtol=1e-6)
    assert abs(y.mean() / x.numpy().mean() - 1) < 0.01


def test_masks_are_fresh_per_call_follow_the_seed_and_leave_inference_alone():
    x = tf.ones([64, 50])
    first, second = (keras.layers.Dropout(0.3, seed=7) for _ in range(2))
    a, b = dropout(first, x, True), dropout(first, x, True)
    assert not np.array_equal(a, b)                                   # new draw every call
    np.testing.assert_array_equal(dropout(second, x, True), a)       # same seed, same masks
    assert dropout(first, x, training=False) is x
    assert dropout(keras.layers.Dropout(0.0), x, training=True) is x
    kept = a.numpy() != 0
    row_rates = kept.mean(axis=1)
    assert row_rates.std() > 0 and not np.all(kept == kept[:1])       # not one mask repeated


def test_gradient_is_the_mask_and_dtype_is_kept():
    layer = keras.layers.Dropout(0.25, seed=1)
    x = tf.Variable(tf.random.normal([8, 33]))
    with tf.GradientTape() as tape:
        y = dropout(layer, x, training=True)
    gradient = tape.gradient(y, x).numpy()
    mask = y.numpy() / x.numpy()
    np.testing.assert_allclose(gradient, mask, rtol=1e-5)
    np.testing.assert_allclose(np.unique(gradient), [0.0, 65536 / (65536 - 16384)], rtol=1e-6)
    half = dropout(layer, tf.ones([4, 4], tf.bfloat16), training=True)
    assert half.dtype == tf.bfloat16


def test_noise_shape_is_refused():
    with pytest.raises(ValueError, match="noise_shape"):
        dropout(keras.layers.Dropout(0.2, noise_shape=(1, 4)), tf.ones([3, 4]), training=True)


@pytest.mark.parametrize("shape", [(5, 7, 16), (3, 16)])
def test_layer_norm_equals_keras_with_its_gradients(shape):
    layer = keras.layers.LayerNormalization(epsilon=1e-5)
    layer.build(shape)
    layer.gamma.assign(tf.random.stateless_normal(shape[-1:], seed=(1, 1)))
    layer.beta.assign(tf.random.stateless_normal(shape[-1:], seed=(2, 2)))
    x = tf.Variable(3.0 + 2.0 * tf.random.stateless_normal(shape, seed=(3, 3)))
    upstream = tf.random.stateless_normal(shape, seed=(4, 4))

    def values_and_gradients(norm):
        with tf.GradientTape() as tape:
            y = norm(x)
        return (y, *tape.gradient(y, [x, layer.gamma, layer.beta], output_gradients=upstream))

    want = values_and_gradients(layer)
    for run in (values_and_gradients, tf.function(values_and_gradients)):
        for got, expected in zip(run(lambda t: layer_norm(layer, t)), want):
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_layer_norm_keeps_the_layer_dtype_and_refuses_other_axes():
    layer = keras.layers.LayerNormalization(dtype="mixed_bfloat16")
    layer.build((2, 8))
    assert layer_norm(layer, tf.ones([2, 8], tf.bfloat16)).dtype == tf.bfloat16
    other = keras.layers.LayerNormalization(axis=1)
    other.build((2, 8, 4))
    with pytest.raises(ValueError, match="last-axis"):
        layer_norm(other, tf.ones([2, 8, 4]))
