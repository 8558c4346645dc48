"""TfbtModel's shared step: the same update on one device and under MirroredStrategy."""

import json
import os
import subprocess
import sys

import numpy as np

import tfbt  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)


def test_mirrored_step_matches_one_device_with_a_regulariser():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    # Per-replica mean losses and the replicated L2 penalty are both divided by the replica
    # count, so the summed gradients are the single-device ones: same weights after a step.
    np.testing.assert_allclose(result["mirrored_kernel"], result["single_kernel"], rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(result["mirrored_loss"], result["single_loss"], rtol=1e-5)
    # Without the division of the penalty the update would differ: the check has teeth.
    assert not np.allclose(result["undivided_kernel"], result["single_kernel"], atol=1e-4)


def _run():
    import keras
    import tensorflow as tf

    from tfbt.models import TfbtModel

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    class Regression(TfbtModel):
        """A linear model with an L2 penalty: the smallest model with ``self.losses``."""

        def __init__(self, **kwargs):
            super().__init__(metric_names=("loss",), **kwargs)
            self.dense = keras.layers.Dense(
                1, kernel_initializer="ones", kernel_regularizer=keras.regularizers.L2(0.5))

        def call(self, x, training=False):
            return self.dense(x)

        def compute_terms(self, data, seed, training):
            x, y = data
            loss = tf.reduce_mean(tf.square(self.dense(x)[:, 0] - y))
            return loss, {"loss": loss}

    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = rng.normal(size=(16,)).astype(np.float32)

    def one_step(strategy):
        with strategy.scope():
            model = Regression()
            model.compile(optimizer=keras.optimizers.SGD(0.1))
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
        history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)
        return model.dense.kernel.numpy().ravel().tolist(), history.history["loss"][0]

    single_kernel, single_loss = one_step(tf.distribute.get_strategy())
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    mirrored_kernel, mirrored_loss = one_step(mirrored)
    # What the step would do if the penalty were not divided by the replica count.
    undivided = np.ones(3) - 0.1 * (
        -2 * (x.T @ (y - x @ np.ones(3))) / 16 + 2 * 2 * 0.5 * np.ones(3))
    print(json.dumps({"replicas": mirrored.num_replicas_in_sync,
                      "single_kernel": single_kernel, "single_loss": single_loss,
                      "mirrored_kernel": mirrored_kernel, "mirrored_loss": mirrored_loss,
                      "undivided_kernel": undivided.tolist()}))


if __name__ == "__main__":
    _run()
