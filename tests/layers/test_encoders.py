"""CNNEncoder / SASRecEncoder: shapes, padding invariance, causality, NaN safety, serialisation."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfbt  # noqa: F401  (before TensorFlow)
from tfbt.layers import encoders
from tfbt.layers.encoders import (
    CNNEncoder,
    SASRecEncoder,
    _attention_bias,
    _conv1d_by_matmul,
    _pre_norm_block,
    build_encoder,
)

VOCAB = 12   # 10 items, 0 = padding, 11 = mask token
MAX_LEN = 10


def left_pad(rows, length):
    """int32 [len(rows), length], each row's items at the right end."""
    out = np.zeros((len(rows), length), "int32")
    for i, row in enumerate(rows):
        if row:
            out[i, -len(row):] = row
    return out


ROWS = [[3, 4, 5], [1, 2, 3, 4, 5, 6, 7], [11, 9], [8]]


def scramble_padding_row(encoder):
    """Put large random values in the embedding of the padding id 0."""
    table = encoder.item_embedding.embeddings
    garbage = np.random.default_rng(0).normal(0, 10, table.shape[1])
    table.assign(tf.tensor_scatter_nd_update(table, [[0]], [garbage.astype("float32")]))


@pytest.fixture
def mixed_bfloat16():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


# ----------------------------------------------------------------------------- CNNEncoder

@pytest.mark.parametrize("pooling", ["mean", "max", "last"])
@pytest.mark.parametrize("output_dim", [None, 5])
def test_cnn_shape(pooling, output_dim):
    encoder = CNNEncoder(VOCAB, embedding_dim=8, filters=6, pooling=pooling, output_dim=output_dim)
    out = encoder(left_pad(ROWS, 7))
    assert out.shape == (4, encoder.representation_dim)
    assert encoder.representation_dim == (output_dim or 6)


@pytest.mark.parametrize("conv_padding", ["same", "causal"])
@pytest.mark.parametrize("pooling", ["mean", "max", "last"])
def test_cnn_ignores_padding(pooling, conv_padding):
    """Same real items -> same representation, whatever the left padding (none included) holds."""
    keras.utils.set_random_seed(0)     # the "items matter" check below needs typical weights
    encoder = CNNEncoder(VOCAB, embedding_dim=8, filters=6, kernel_size=3, dilation_rates=(1, 2),
                         activation="tanh", pooling=pooling, conv_padding=conv_padding)
    encoder.build((None, None))
    for conv in encoder.convs:                        # trained biases are not zero
        conv.bias.assign(np.random.default_rng(1).normal(0, 1, conv.bias.shape))
    short = encoder(left_pad(ROWS, 7)).numpy()        # the 7-item row fills it: no padding
    scramble_padding_row(encoder)
    long = encoder(left_pad(ROWS, 15)).numpy()
    np.testing.assert_allclose(short, long, atol=1e-5)
    # and the items themselves do matter
    changed = encoder(left_pad([[3, 4, 6]] + ROWS[1:], 15)).numpy()
    assert np.abs(changed[0] - long[0]).max() > 1e-4


@pytest.mark.parametrize("pooling", ["mean", "max", "last"])
def test_cnn_empty_row_is_zero_with_finite_gradient(pooling):
    encoder = CNNEncoder(VOCAB, embedding_dim=8, filters=6, pooling=pooling, activation="linear")
    items = left_pad([[], [2, 3]], 5)
    with tf.GradientTape() as tape:
        out = encoder(items)
        loss = tf.reduce_sum(out ** 2)
    np.testing.assert_array_equal(out[0].numpy(), 0.0)
    assert np.abs(out[1].numpy()).max() > 0
    for grad in tape.gradient(loss, encoder.trainable_weights):
        assert np.isfinite(tf.convert_to_tensor(grad).numpy()).all()


def test_cnn_max_pooling_is_over_real_positions_only():
    """With a linear conv stack, negative outputs must not be replaced by padding zeros."""
    encoder = CNNEncoder(VOCAB, embedding_dim=4, filters=3, pooling="max", activation="linear",
                         dilation_rates=(1,), kernel_size=1, dropout=0.0)
    items = left_pad([[5]], 4)
    encoder(items)
    conv = encoder.convs[0]
    conv.kernel.assign(np.zeros(conv.kernel.shape, "float32"))
    conv.bias.assign(-np.ones(conv.bias.shape, "float32"))
    np.testing.assert_allclose(encoder(items).numpy(), -1.0)


# ----------------------------------------------------------------------------- SASRecEncoder

def sasrec(**kwargs):
    return SASRecEncoder(VOCAB, MAX_LEN, **{"hidden_dim": 8, "num_heads": 2, **kwargs})


def test_sasrec_shapes_and_tied_logits():
    encoder = sasrec()
    items = left_pad(ROWS, 7)
    seq = encoder(items)
    assert seq.shape == (4, 7, 8)
    last = encoder(items, return_sequences=False)
    np.testing.assert_allclose(last.numpy(), seq[:, -1].numpy(), atol=1e-6)
    assert sasrec(return_sequences=False)(items).shape == (4, 8)
    logits = encoder.item_logits(seq)
    assert logits.shape == (4, 7, VOCAB) and logits.dtype == "float32"
    np.testing.assert_allclose(
        logits.numpy(), seq.numpy() @ encoder.item_embeddings.numpy().T, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(seq.numpy()[0, :4], 0.0)   # padded positions are zero


@pytest.mark.parametrize("num_blocks", [1, 3])
def test_sasrec_last_position_path_equals_the_full_sequence(num_blocks):
    """return_sequences=False evaluates the last block at the last query only: same numbers."""
    encoder = sasrec(num_blocks=num_blocks, dropout=0.0)
    items = left_pad(ROWS + [[]], MAX_LEN)          # with a row that has no real item
    full = encoder(items, return_sequences=True)[:, -1].numpy()
    last = encoder(items, return_sequences=False).numpy()
    np.testing.assert_allclose(last, full, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(last[-1], 0.0)
    assert not np.allclose(last[:-1], 0.0)


@pytest.mark.parametrize("num_heads", [1, 2])
def test_pre_norm_block_equals_the_keras_hub_decoder_call(num_heads):
    """The encoder runs each block's sublayers with one ready mask (causality included): same
    numbers as the block's own call, which builds and merges its causal mask itself."""
    encoder = sasrec(num_heads=num_heads, dropout=0.0)
    items = left_pad(ROWS + [[]], MAX_LEN)
    encoder(items)
    block = encoder.blocks[0]
    x = tf.random.stateless_normal((len(ROWS) + 1, MAX_LEN, 8), seed=(1, 2))
    real = items != 0
    eye = np.eye(MAX_LEN, dtype=bool)[None]
    reference = block(x, decoder_attention_mask=real[:, None, :] | eye).numpy()
    bias = _attention_bias(tf.constant(real), "float32")
    full = _pre_norm_block(block, x, bias, training=False).numpy()
    last = _pre_norm_block(block, x, bias[:, :, -1:], training=False,
                           last_query_only=True).numpy()
    np.testing.assert_allclose(full, reference, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(last, reference[:, -1:], rtol=1e-5, atol=1e-5)


def test_pre_norm_block_in_training_drops_out_where_the_keras_hub_decoder_call_does(
        monkeypatch):
    """With dropout on (attention probabilities, attention output, feed-forward), the dropout
    layers' seed states rewound in between and Keras' own dropout drawing the masks, the same
    numbers as the block's own call: the additive mask bias changes nothing, and dropout
    lands where Keras puts it."""
    monkeypatch.setattr(encoders, "dropout", lambda layer, x, training: layer(x, training=training))
    encoder = sasrec(dropout=0.3)
    items = left_pad(ROWS, MAX_LEN)
    encoder(items)
    block = encoder.blocks[0]
    x = tf.random.stateless_normal((len(ROWS), MAX_LEN, 8), seed=(3, 4))
    real = items != 0
    eye = np.eye(MAX_LEN, dtype=bool)[None]
    seeds = [v.numpy() for v in block.non_trainable_variables]
    assert seeds, "the block's dropout seed states are not tracked"
    reference = block(x, decoder_attention_mask=real[:, None, :] | eye, training=True).numpy()
    for variable, value in zip(block.non_trainable_variables, seeds):
        variable.assign(value)
    ours = _pre_norm_block(block, x, _attention_bias(tf.constant(real), "float32"),
                           training=True).numpy()
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-5)
    assert not np.allclose(ours, _pre_norm_block(
        block, x, _attention_bias(tf.constant(real), "float32"), training=False).numpy())


def test_sasrec_is_causal():
    encoder = sasrec(num_blocks=2)
    items = left_pad([[1, 2, 3, 4, 5, 6]], 8)
    changed = items.copy()
    changed[0, 5] = 9                          # the 4th real item
    a, b = encoder(items).numpy(), encoder(changed).numpy()
    np.testing.assert_allclose(a[0, :5], b[0, :5], atol=1e-6)
    assert np.abs(a[0, 5:] - b[0, 5:]).min() > 1e-5    # every later position sees the change


def test_sasrec_ignores_padding():
    """Positions count from the right, so more left padding changes nothing at real positions."""
    encoder = sasrec()
    short = encoder(left_pad(ROWS, 7)).numpy()
    scramble_padding_row(encoder)
    long = encoder(left_pad(ROWS, MAX_LEN)).numpy()
    for i, row in enumerate(ROWS):
        np.testing.assert_allclose(short[i, -len(row):], long[i, -len(row):], atol=1e-5)
    np.testing.assert_array_equal(long[0, :-3], 0.0)


@pytest.mark.parametrize("dropout,training", [(0.0, False), (0.0, True), (0.3, True)])
def test_sasrec_empty_row_no_nan(dropout, training):
    """A fully padded row (and padded positions) must not produce NaN in outputs or gradients.

    dropout 0 takes Keras' fused dot_product_attention path, dropout > 0 its explicit softmax."""
    encoder = sasrec(dropout=dropout)
    items = left_pad([[], [4, 5]], 6)
    with tf.GradientTape() as tape:
        out = encoder(items, training=training)
        loss = tf.reduce_sum(encoder.item_logits(out) ** 2)
    assert np.isfinite(out.numpy()).all()
    np.testing.assert_array_equal(out[0].numpy(), 0.0)
    for grad in tape.gradient(loss, encoder.trainable_weights):
        assert np.isfinite(tf.convert_to_tensor(grad).numpy()).all()


def test_sasrec_rejects_too_long_input_and_bad_heads():
    with pytest.raises(ValueError, match="max_len"):
        sasrec()(np.ones((2, MAX_LEN + 1), "int32"))
    with pytest.raises(ValueError, match="num_heads"):
        SASRecEncoder(VOCAB, MAX_LEN, hidden_dim=8, num_heads=3)


# ----------------------------------------------------------------------------- both

ENCODERS = {
    "cnn": lambda: CNNEncoder(VOCAB, embedding_dim=8, filters=6, pooling="max", output_dim=4),
    "sasrec": lambda: sasrec(return_sequences=False),
}


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_layer_contract(name, layer_test):
    encoder = ENCODERS[name]()
    items = left_pad(ROWS, 7)
    layer_test(encoder, items, expected_output_shape=(len(ROWS), encoder.representation_dim))


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_fit_save_load(name, tmp_path):
    inputs = keras.Input((7,), dtype="int32")
    model = keras.Model(inputs, keras.layers.Dense(3)(ENCODERS[name]()(inputs)))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    items = left_pad(ROWS * 4, 7)
    history = model.fit(items, np.arange(16) % 3, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(items, verbose=0), model.predict(items, verbose=0),
                               atol=1e-5)


def test_sasrec_full_softmax_next_item_learns():
    """Tied-weight full softmax over positions learns a deterministic successor rule."""
    keras.utils.set_random_seed(0)
    encoder = sasrec(hidden_dim=16, dropout=0.0)
    optimizer = keras.optimizers.Adam(0.01)
    items = left_pad([[(s + k) % 10 + 1 for k in range(6)] for s in range(10)], 8)
    positives = np.where(items > 0, items % 10 + 1, 0)      # successor of each item
    encoder(items)
    optimizer.build(encoder.trainable_weights)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            logits = encoder.item_logits(encoder(items, training=True))
            per_position = keras.losses.sparse_categorical_crossentropy(
                positives, logits, from_logits=True)
            loss = tf.reduce_sum(per_position * (items > 0)) / np.sum(items > 0)
        optimizer.apply(tape.gradient(loss, encoder.trainable_weights), encoder.trainable_weights)
        return loss

    losses = [float(step()) for _ in range(60)]
    assert losses[-1] < 0.25 * losses[0]
    top = np.argmax(encoder.item_logits(encoder(items, return_sequences=False)).numpy(), -1)
    assert (top == positives[:, -1]).mean() >= 0.9


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_xla_matches_eager(name):
    encoder = ENCODERS[name]()
    items = tf.constant(left_pad(ROWS, 7))
    compiled = tf.function(encoder, jit_compile=True)
    np.testing.assert_allclose(compiled(items).numpy(), encoder(items).numpy(), atol=1e-5)
    assert np.isfinite(compiled(items, training=True).numpy()).all()


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_mixed_bfloat16(name, mixed_bfloat16):
    encoder = ENCODERS[name]()
    out = encoder(left_pad(ROWS + [[]], 7))
    assert out.dtype == "bfloat16" and np.isfinite(tf.cast(out, "float32").numpy()).all()
    assert encoder.item_embedding.embeddings.dtype == "float32"
    if name == "sasrec":
        assert encoder.item_logits(out).dtype == "float32"


def test_build_encoder():
    cnn = build_encoder("cnn", VOCAB, MAX_LEN, filters=7, pooling="last")
    assert isinstance(cnn, CNNEncoder) and cnn.representation_dim == 7
    sas = build_encoder("sasrec", VOCAB, MAX_LEN, hidden_dim=8, name="enc")
    assert isinstance(sas, SASRecEncoder) and sas.max_len == MAX_LEN and sas.name == "enc"
    with pytest.raises(ValueError, match="unknown encoder 'gru'"):
        build_encoder("gru", VOCAB, MAX_LEN)
    with pytest.raises(ValueError, match=r"does not take \['num_blocks'\]"):
        build_encoder("cnn", VOCAB, MAX_LEN, num_blocks=2)
    with pytest.raises(ValueError, match="pooling"):
        build_encoder("cnn", VOCAB, MAX_LEN, pooling="sum")


@pytest.mark.parametrize("padding", ["same", "causal"])
@pytest.mark.parametrize("kernel_size,rate", [(3, 1), (3, 2), (2, 3), (4, 1)])
def test_conv1d_by_matmul_equals_keras_conv1d(padding, kernel_size, rate):
    """The CNN encoder's matmul convolution: Keras Conv1D's outputs and gradients."""
    conv = keras.layers.Conv1D(5, kernel_size, dilation_rate=rate, padding=padding,
                               activation="relu")
    x = tf.constant(np.random.default_rng(kernel_size * rate).normal(size=(3, 11, 4)),
                    tf.float32)
    conv.build(x.shape)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        expected, got = conv(x), _conv1d_by_matmul(conv, x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    for target in (x, conv.kernel):
        np.testing.assert_allclose(tape.gradient(got, target), tape.gradient(expected, target),
                                   rtol=1e-4, atol=1e-5)
