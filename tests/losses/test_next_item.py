"""Next-item losses against NumPy references: full softmax, sampled softmax, SCE."""

import numpy as np
import pytest
import tensorflow as tf

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt.losses import next_item as nil

N, D = 9, 4  # items 1..9; row 0 padding, row 10 mask


def problem(seed=0, rows=7):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, D)).astype(np.float32)
    table = rng.normal(size=(N + 2, D)).astype(np.float32)
    # Padding and mask rows would dominate any softmax that wrongly included them.
    table[0] = table[N + 1] = 5.0 * np.sign(x.sum(axis=0))
    y = rng.integers(1, N + 1, size=rows).astype(np.int32)
    y[2] = 0  # a padding row: must not count
    return x, y, table


def log_softmax_ce(logits, label_column):
    """Row-wise -log softmax(logits)[label] in float64."""
    logits = logits.astype(np.float64)
    top = logits.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return lse - logits[np.arange(len(logits)), label_column]


def full_ce_reference(x, y, table):
    real = y > 0
    logits = x[real] @ table[1:N + 1].T
    return log_softmax_ce(logits, y[real] - 1).mean()


def test_real_positions_keep_rows_with_a_positive_in_order():
    outputs = tf.reshape(tf.range(2 * 3 * 2, dtype=tf.float32), [2, 3, 2])
    x, y = nil.real_positions(outputs, tf.constant([[0, 4, 5], [0, 0, 7]]))
    np.testing.assert_array_equal(y, [4, 5, 7])
    np.testing.assert_array_equal(x, [[2, 3], [4, 5], [10, 11]])
    x_all, y_all = nil.all_positions(outputs, tf.constant([[0, 4, 5], [0, 0, 7]]))
    assert x_all.shape == (6, 2) and y_all.numpy().tolist() == [0, 4, 5, 0, 0, 7]


def test_full_softmax_matches_numpy_and_ignores_padding_rows_and_columns():
    x, y, table = problem()
    loss = nil.full_softmax_cross_entropy(x, y, table)
    np.testing.assert_allclose(loss, full_ce_reference(x, y, table), rtol=1e-5)


@pytest.mark.parametrize("chunk_rows", [1, 3, 7, 50])
def test_chunked_full_softmax_has_the_same_loss_and_gradients(chunk_rows):
    """Chunks of 1, 3 (a ragged last chunk), 7 and 50 rows: loss and both gradients as the
    unchunked autodiff path, inside tf.function (the training step) and eagerly."""
    x, y, table = problem(2, rows=7)
    x, table = tf.Variable(x), tf.Variable(table)

    def loss_and_gradients(rows):
        with tf.GradientTape() as tape:
            loss = nil.full_softmax_cross_entropy(x, y, table, chunk_rows=rows)
        return (loss, *tape.gradient(loss, [x, table]))

    expected = loss_and_gradients(0)
    for run in (loss_and_gradients, tf.function(loss_and_gradients)):
        for got, want in zip(run(chunk_rows), expected):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(expected[0], full_ce_reference(x.numpy(), y, table.numpy()),
                               rtol=1e-5)
    assert np.abs(expected[2].numpy()[1:-1]).sum() > 0
    np.testing.assert_array_equal(loss_and_gradients(chunk_rows)[2].numpy()[[0, -1]], 0.0)


def test_chunked_full_softmax_is_exact_when_a_positive_is_far_below_its_rows_best():
    """A positive logit ~200 below its row's best has softmax probability 0 in float32, so the
    log-sum-exp cannot be read off it; the chunk falls back to the direct reduction."""
    x, y, table = problem(4, rows=6)
    x[1] = 60.0 * table[1:N + 1][np.argmax(table[1:N + 1] @ x[1])]  # one item far ahead
    y[1] = 1 + int(np.argmin(table[1:N + 1] @ x[1]))
    assert np.ptp(table[1:N + 1] @ x[1]) > 150
    x, table = tf.Variable(x), tf.Variable(table)

    def loss_and_gradients(rows):
        with tf.GradientTape() as tape:
            loss = nil.full_softmax_cross_entropy(x, y, table, chunk_rows=rows)
        return (loss, *tape.gradient(loss, [x, table]))

    for got, want in zip(loss_and_gradients(4), loss_and_gradients(0)):
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(loss_and_gradients(4)[0],
                               full_ce_reference(x.numpy(), y, table.numpy()), rtol=1e-5)


def test_chunked_full_softmax_of_only_padding_rows_is_zero():
    x, _, table = problem(3, rows=4)
    loss = nil.full_softmax_cross_entropy(x, tf.zeros([4], tf.int32), table, chunk_rows=3)
    assert float(loss) == 0.0


def test_sampled_softmax_with_every_item_as_negative_is_the_full_softmax():
    x, y, table = problem(1)
    every_item = tf.range(1, N + 1)
    loss = nil.sampled_softmax_cross_entropy(x, y, table, every_item)
    np.testing.assert_allclose(loss, full_ce_reference(x, y, table), rtol=1e-5)
    # A uniform log-Q shifts every logit equally: no change.
    flat_q = np.full(N + 2, np.log(1.0 / N), np.float32)
    np.testing.assert_allclose(
        nil.sampled_softmax_cross_entropy(x, y, table, every_item, log_q=flat_q), loss,
        rtol=1e-5)


def test_in_batch_negatives_remove_accidental_hits_and_apply_log_q():
    x, y, table = problem(2)
    y[4] = y[5]  # two rows share a positive: each is an accidental hit for the other
    log_q = np.log(np.random.default_rng(3).dirichlet(np.ones(N + 2))).astype(np.float32)
    loss = nil.sampled_softmax_cross_entropy(x, y, table, y, log_q=log_q)
    expected = []
    for i in np.flatnonzero(y > 0):
        negatives = [n for n in y if n != y[i] and n != 0]
        candidates = [y[i]] + negatives
        logits = x[i] @ table[candidates].T - log_q[candidates]
        expected.append(log_softmax_ce(logits[None], np.array([0]))[0])
    np.testing.assert_allclose(loss, np.mean(expected), rtol=1e-5)


def test_uniform_negatives_are_items_and_seeded():
    first = nil.uniform_negatives(N, 500, tf.constant([1, 2]))
    assert first.dtype == tf.int32 and first.numpy().min() >= 1 and first.numpy().max() <= N
    assert set(first.numpy()) == set(range(1, N + 1))
    np.testing.assert_array_equal(first, nil.uniform_negatives(N, 500, tf.constant([1, 2])))


def sce_reference(x, y, table, omega, size_x, size_y):
    """Per bucket: top rows / items by projection; row loss = max over its buckets."""
    real = np.flatnonzero(y > 0)
    catalogue = table[1:N + 1]
    row_losses = {}
    for w in omega:
        rows = real[np.argsort(-(x[real] @ w), kind="stable")[:size_x]]
        items = np.argsort(-(catalogue @ w), kind="stable")[:size_y] + 1
        for r in rows:
            negatives = [i for i in items if i != y[r]]
            logits = x[r] @ table[[y[r]] + negatives].T
            value = log_softmax_ce(logits[None], np.array([0]))[0]
            row_losses[r] = max(row_losses.get(r, -np.inf), value)
    return np.mean(list(row_losses.values()))


def test_sce_with_buckets_covering_everything_is_the_full_softmax():
    x, y, table = problem(4)
    loss = nil.scalable_cross_entropy(x, y, table, num_buckets=1, bucket_size_x=100,
                                      bucket_size_y=100, seed=tf.constant([0, 0]))
    np.testing.assert_allclose(loss, full_ce_reference(x, y, table), rtol=1e-5)


def test_sce_matches_a_numpy_bucketing_reference():
    x, y, table = problem(5, rows=12)
    seed = tf.constant([7, 3])
    loss = nil.scalable_cross_entropy(x, y, table, num_buckets=3, bucket_size_x=4,
                                      bucket_size_y=3, seed=seed)
    omega = tf.random.stateless_normal([3, D], seed).numpy()
    np.testing.assert_allclose(loss, sce_reference(x, y, table, omega, 4, 3), rtol=1e-5)


def test_sce_gradient_is_finite_and_reaches_outputs_and_items():
    x, y, table = problem(6, rows=20)
    x, table = tf.Variable(x), tf.Variable(table)
    with tf.GradientTape() as tape:
        loss = nil.scalable_cross_entropy(x, y, table, num_buckets=4, bucket_size_x=5,
                                          bucket_size_y=3, seed=tf.constant([1, 1]))
    grad_x, grad_table = tape.gradient(loss, [x, table])
    grad_x, grad_table = tf.convert_to_tensor(grad_x), tf.convert_to_tensor(grad_table)
    assert np.all(np.isfinite(grad_x)) and np.all(np.isfinite(grad_table))
    assert np.abs(grad_x).sum() > 0 and np.abs(grad_table).sum() > 0
    np.testing.assert_array_equal(grad_x.numpy()[2], 0.0)  # the padding row


def masked_concat_sce(x, y, table, num_buckets, size_x, size_y, seed):
    """SCE written the plain way (the own positive masked out of the bucket's logits, the
    positive appended, autodiff throughout): the reference for the fast path's gradients."""
    catalogue = table[1:-1]
    omega = tf.random.stateless_normal([num_buckets, D], seed)
    real = y > 0
    projection = tf.where(real[None, :], omega @ tf.transpose(x), -np.inf)
    _, rows = tf.math.top_k(tf.stop_gradient(projection), k=size_x)
    _, columns = tf.math.top_k(tf.stop_gradient(omega @ tf.transpose(catalogue)), k=size_y)
    logits = tf.matmul(tf.gather(x, rows), tf.gather(catalogue, columns), transpose_b=True)
    own = tf.equal(tf.gather(y, rows)[:, :, None], columns[:, None, :] + 1)
    positive = tf.reduce_sum(x * tf.gather(catalogue, np.maximum(y - 1, 0)), -1)
    bucket_positive = tf.gather(positive, rows)[:, :, None]
    logits = tf.concat([tf.where(own, -np.inf, logits), bucket_positive], axis=2)
    losses = tf.reduce_logsumexp(logits, axis=2) - bucket_positive[:, :, 0]
    flat_rows = tf.reshape(rows, [-1])
    row_loss = tf.math.unsorted_segment_max(tf.reshape(losses, [-1]), flat_rows, len(y))
    in_bucket = tf.math.bincount(flat_rows, minlength=len(y)) > 0
    return tf.reduce_mean(tf.boolean_mask(row_loss, tf.logical_and(real, in_bucket)))


@pytest.mark.parametrize("buckets", [(4, 5, 3), (3, 19, 9), (6, 2, 1)])
def test_sce_loss_and_gradients_equal_the_plain_masked_softmax(buckets):
    """Positives inside and outside their buckets' columns, every row or a few per bucket."""
    num_buckets, size_x, size_y = buckets
    x, y, table = problem(8, rows=20)
    x, table = tf.Variable(x), tf.Variable(table)
    seed = tf.constant([3, 9])

    def fast():
        return nil.scalable_cross_entropy(x, y, table, num_buckets=num_buckets,
                                          bucket_size_x=size_x, bucket_size_y=size_y, seed=seed)

    def plain():
        return masked_concat_sce(x, tf.constant(y), table, num_buckets, size_x, size_y, seed)

    results = []
    for loss_fn in (fast, plain):
        with tf.GradientTape() as tape:
            loss = loss_fn()
        results.append([loss] + [tf.convert_to_tensor(g) for g in tape.gradient(loss, [x, table])])
    for got, expected in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss", nil.LOSSES)
def test_next_item_loss_layer_dispatches_and_round_trips(loss):
    x, y, table = problem(7)
    layer = nil.NextItemLoss(loss, num_items=N, num_negatives=N, num_buckets=1,
                             bucket_size_x=100, bucket_size_y=100)
    value = float(layer(tf.constant(x), tf.constant(y), table, tf.constant([0, 1])))
    if loss == "sampled":  # N uniform draws: a subset of the catalogue, so a smaller loss
        assert 0 < value <= full_ce_reference(x, y, table) + 1e-5
    else:
        np.testing.assert_allclose(value, full_ce_reference(x, y, table), rtol=1e-5)
    clone = nil.NextItemLoss.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_in_batch_log_q_comes_from_item_counts():
    layer = nil.NextItemLoss("sampled", num_items=3, sampler="in_batch")
    layer.set_item_counts(np.array([0, 2, 6, 0]))  # item 3 unseen: smallest observed count
    np.testing.assert_allclose(np.exp(layer.log_q.numpy()[1:4]), [0.2, 0.6, 0.2], rtol=1e-6)
    with pytest.raises(ValueError, match="zero"):
        layer.set_item_counts(np.zeros(4))


@pytest.mark.parametrize("kwargs,match", [
    ({"loss": "bce"}, "loss must be"), ({"sampler": "popular"}, "sampler"),
    ({"num_items": None}, "num_items"), ({"num_buckets": 0}, "num_buckets")])
def test_bad_loss_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nil.NextItemLoss(**{"num_items": N, **kwargs})
