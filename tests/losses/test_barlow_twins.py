"""Barlow Twins loss: NumPy reference, invariances, degenerate inputs, global-batch statistics."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf  # noqa: E402

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt.losses import BarlowTwinsTerms, barlow_twins_loss, btsr_barlow_twins_loss

REPO = Path(__file__).resolve().parents[2]


def reference(z1, z2, lambd, eps=1e-5, lambda_on="off_diagonal"):
    """Straight from the formula, in float64."""
    z1, z2 = np.asarray(z1, np.float64), np.asarray(z2, np.float64)
    n1 = (z1 - z1.mean(0)) / np.sqrt(z1.var(0) + eps)
    n2 = (z2 - z2.mean(0)) / np.sqrt(z2.var(0) + eps)
    c = n1.T @ n2 / len(z1)
    on = np.sum((1 - np.diag(c)) ** 2)
    off = np.sum(c ** 2) - np.sum(np.diag(c) ** 2)
    loss = on + lambd * off if lambda_on == "off_diagonal" else lambd * on + off
    return loss, on, off


@pytest.mark.parametrize("lambda_on", ["off_diagonal", "on_diagonal"])
@pytest.mark.parametrize("lambd", [0.0, 0.0051, 1.0, 10.0])
def test_matches_numpy_reference(lambd, lambda_on):
    rng = np.random.default_rng(0)
    z1 = rng.normal(2.0, 3.0, (64, 12)).astype(np.float32)
    z2 = (0.5 * z1 + rng.normal(size=(64, 12))).astype(np.float32)
    terms = barlow_twins_loss(z1, z2, lambd, lambda_on=lambda_on)
    assert isinstance(terms, BarlowTwinsTerms)
    assert all(t.dtype == tf.float32 and t.shape == () for t in terms)
    np.testing.assert_allclose([float(t) for t in terms],
                               reference(z1, z2, lambd, lambda_on=lambda_on), rtol=1e-4)


def test_identical_views_score_lower_than_independent_views():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(256, 16)).astype(np.float32)
    other = rng.normal(size=(256, 16)).astype(np.float32)
    same = barlow_twins_loss(z, z)
    independent = barlow_twins_loss(z, other)
    assert float(same.on_diag) < 1e-3
    assert float(independent.on_diag) > 10.0
    assert float(same.loss) < float(independent.loss)


def test_invariant_to_per_column_affine_rescaling():
    rng = np.random.default_rng(2)
    z1 = rng.normal(size=(128, 8)).astype(np.float32)
    z2 = (z1 + 0.3 * rng.normal(size=(128, 8))).astype(np.float32)
    scale = rng.uniform(0.5, 20.0, 8).astype(np.float32)
    shift = rng.uniform(-500.0, 500.0, 8).astype(np.float32)
    # Exact invariance needs eps = 0 (eps / var changes with the scale); the large shifts also
    # check that the statistics do not cancel catastrophically in float32.
    base = barlow_twins_loss(z1, z2, 0.1, eps=0.0)
    moved = barlow_twins_loss(z1 * scale + shift, z2 * scale[::-1] - shift, 0.1, eps=0.0)
    np.testing.assert_allclose([float(t) for t in moved], [float(t) for t in base], rtol=2e-5)


def test_collapsed_columns_give_a_finite_loss():
    z = np.ones((32, 6), np.float32)
    terms = barlow_twins_loss(z, z * 3.0)
    assert all(np.isfinite(float(t)) for t in terms)
    np.testing.assert_allclose(float(terms.on_diag), 6.0)  # C = 0: every diagonal term is 1
    np.testing.assert_allclose(float(terms.off_diag), 0.0)
    z_var = tf.Variable(z)
    with tf.GradientTape() as tape:
        loss = barlow_twins_loss(z_var, z_var).loss
    assert np.all(np.isfinite(tape.gradient(loss, z_var).numpy()))


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
def test_low_precision_inputs_are_upcast(dtype):
    rng = np.random.default_rng(3)
    z1 = rng.normal(size=(64, 8)).astype(np.float32)
    z2 = (z1 + rng.normal(size=(64, 8))).astype(np.float32)
    low1, low2 = tf.cast(z1, dtype), tf.cast(z2, dtype)
    terms = barlow_twins_loss(low1, low2, 0.5)
    assert all(t.dtype == tf.float32 for t in terms)
    expected = reference(tf.cast(low1, tf.float32).numpy(), tf.cast(low2, tf.float32).numpy(), 0.5)
    np.testing.assert_allclose([float(t) for t in terms], expected, rtol=1e-4)
    low_var = tf.Variable(low1)
    with tf.GradientTape() as tape:
        loss = barlow_twins_loss(low_var, low2).loss
    assert tape.gradient(loss, low_var).dtype == dtype


def test_bad_arguments_are_named():
    z = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="lambda_on.*'diagonal'"):
        barlow_twins_loss(z, z, lambda_on="diagonal")
    with pytest.raises(ValueError, match=r"\(4, 3\) and \(4, 5\)"):
        barlow_twins_loss(z, np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="batch, dim"):
        barlow_twins_loss(z[0], z[0])


def test_mirrored_strategy_uses_the_global_batch():
    """Two logical CPUs must be configured before TF starts: run the check in a fresh process."""
    env = dict(os.environ,
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, __file__], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    # Every replica reports the single-device loss of the whole global batch ...
    np.testing.assert_allclose(result["replica_losses"], [result["loss"]] * 2, rtol=1e-5)
    # ... and with each replica's loss divided by the replica count, the summed gradients
    # (what MirroredStrategy applies) equal the single-device gradients.
    np.testing.assert_allclose(result["replica_grad_w"], result["grad_w"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(result["replica_grad_z"], result["grad_z"], rtol=1e-4, atol=1e-6)
    # A per-replica loss (local statistics only) would differ: the check has teeth.
    assert abs(result["local_loss"] - result["loss"]) > 1e-3


def _mirrored_check():
    """Run as a script: compare 2-replica MirroredStrategy with one device; print JSON."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    rng = np.random.default_rng(4)
    x1 = tf.constant(rng.normal(size=(16, 5)).astype(np.float32))
    x2 = tf.constant((x1.numpy() + rng.normal(size=(16, 5))).astype(np.float32))
    w_init = rng.normal(size=(5, 6)).astype(np.float32)

    def loss_and_grads(w, x1, x2, replicas):
        with tf.GradientTape() as tape:
            z1, z2 = x1 @ w, x2 @ w
            terms = barlow_twins_loss(z1, z2, 0.2)
            scaled = terms.loss / replicas
        grad_w, grad_z1, grad_z2 = tape.gradient(scaled, [w, z1, z2])
        return terms.loss, grad_w, tf.concat([grad_z1, grad_z2], axis=1)

    w = tf.Variable(w_init)
    loss, grad_w, grad_z = loss_and_grads(w, x1, x2, 1)

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        mirrored_w = tf.Variable(w_init)

    @tf.function
    def distributed():
        def replica_fn():
            context = tf.distribute.get_replica_context()
            rows = tf.range(8) + 8 * context.replica_id_in_sync_group
            return loss_and_grads(mirrored_w, tf.gather(x1, rows), tf.gather(x2, rows),
                                  context.num_replicas_in_sync)
        return strategy.run(replica_fn)

    replica_loss, replica_grad_w, replica_grad_z = distributed()
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "loss": float(loss),
        "grad_w": grad_w.numpy().tolist(),
        "grad_z": grad_z.numpy().tolist(),
        "replica_losses": [float(v) for v in strategy.experimental_local_results(replica_loss)],
        "replica_grad_w": strategy.reduce("SUM", replica_grad_w, axis=None).numpy().tolist(),
        "replica_grad_z": tf.concat(strategy.experimental_local_results(replica_grad_z),
                                    axis=0).numpy().tolist(),
        "local_loss": float(barlow_twins_loss(x1[:8] @ w, x2[:8] @ w, 0.2).loss),
    }))


if __name__ == "__main__":
    _mirrored_check()


def btsr_reference(z1, z2, lambd):
    """The BT-SR authors' formula in float64: unbiased std, C = z̃1ᵀz̃2 / B, terms / D."""
    z1, z2 = np.asarray(z1, np.float64), np.asarray(z2, np.float64)
    n1 = (z1 - z1.mean(0)) / z1.std(0, ddof=1)
    n2 = (z2 - z2.mean(0)) / z2.std(0, ddof=1)
    c = n1.T @ n2 / len(z1)
    dim = z1.shape[1]
    on = np.sum((np.diag(c) - 1) ** 2) / dim
    off = (np.sum(c ** 2) - np.sum(np.diag(c) ** 2)) / dim
    return on + lambd * off, on, off


@pytest.mark.parametrize("lambd", [0.0, 0.05, 1.0])
def test_btsr_form_matches_numpy_reference(lambd):
    rng = np.random.default_rng(5)
    h1 = rng.normal(size=(48, 16))
    h2 = 0.7 * h1 + rng.normal(size=(48, 16))
    z1 = (h1 / np.linalg.norm(h1, axis=1, keepdims=True)).astype(np.float32)
    z2 = (h2 / np.linalg.norm(h2, axis=1, keepdims=True)).astype(np.float32)
    terms = btsr_barlow_twins_loss(z1, z2, lambd)
    assert isinstance(terms, BarlowTwinsTerms)
    np.testing.assert_allclose([float(t) for t in terms], btsr_reference(z1, z2, lambd),
                               rtol=1e-4)


def test_btsr_form_is_the_zbontar_form_over_dim_up_to_the_variance_estimator():
    rng = np.random.default_rng(6)
    z1 = rng.normal(size=(4096, 8)).astype(np.float32)
    z2 = (z1 + rng.normal(size=(4096, 8))).astype(np.float32)
    authors = btsr_barlow_twins_loss(z1, z2, 0.3)
    zbontar = barlow_twins_loss(z1, z2, 0.3, eps=0.0)
    np.testing.assert_allclose(float(authors.loss), float(zbontar.loss) / 8, rtol=2e-3)
