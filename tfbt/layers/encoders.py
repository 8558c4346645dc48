"""Sequence encoders: item-id sequences in, user representations out.

Both encoders take int32 ``items [batch, length]`` LEFT-padded with ``PAD_ID`` (0): the real items
are contiguous at the right end, most recent last; ``vocab_size = num_items + 2`` (0 = padding,
``num_items + 1`` = mask token, which the encoders embed like any other item).

Padding never influences a real position: its embedding is zeroed, convolutions see zeros there,
attention never looks at padded keys and pooling skips it. So the same real items give the same
outputs whatever the amount of left padding and whatever the padding row of the embedding holds.

* ``CNNEncoder`` (Liu et al. 2025): embedding -> dilated 1D convolutions -> masked pooling ->
  ``[batch, representation_dim]``. The Barlow Twins pretraining encoder.
* ``SASRecEncoder`` (Kang & McAuley 2018): embedding * sqrt(d) + learned positions -> causal
  pre-LayerNorm Transformer blocks -> LayerNorm -> ``[batch, length, hidden_dim]`` (or the last
  position, ``[batch, hidden_dim]``). Next-item logits share the item embedding
  (``item_logits``). The BT-SR encoder.
* ``build_encoder``: the name -> encoder factory the CLI uses.
"""

from __future__ import annotations

import inspect

import keras
import keras_hub
from keras import ops

from tfbt.layers.lean_ops import dropout, layer_norm
from tfrecords_builder.schema import PAD_ID

POOLINGS = ("mean", "max", "last")
CONV_PADDINGS = ("same", "causal")


def _check_vocab_size(vocab_size):
    if int(vocab_size) < 3:
        raise ValueError(f"vocab_size must be num_items + 2 >= 3 (0 = padding, num_items + 1 = "
                         f"mask token); got {vocab_size}")
    return int(vocab_size)


def _check_dropout(dropout):
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1); got {dropout}")
    return float(dropout)


def _real_mask(items):
    """``[B, L]`` bool: True at real items (anything but padding)."""
    return ops.not_equal(items, PAD_ID)


@keras.saving.register_keras_serializable(package="tfbt")
class CNNEncoder(keras.layers.Layer):
    """Item embedding -> 1D convolutions -> masked pooling (Liu et al. 2025's encoder R).

    One ``Conv1D`` per entry of ``dilation_rates`` (two by default, as in the paper); each is
    followed by dropout, and padded positions are zeroed again after every layer so that a
    convolution next to the padding sees exactly the zeros it would see at the edge of an unpadded
    sequence: the representation depends only on the real items.

    Convolutions use ``"same"`` padding by default: the whole history is the input and pooling
    ("mean" / "max") summarises all of it, so every position may look both ways. ``"causal"``
    suits ``pooling="last"``, where the last position then sees the full receptive field to its
    left instead of half of it.

    Args:
      vocab_size: ``num_items + 2``.
      embedding_dim: item embedding size.
      filters: channels of every convolution.
      kernel_size: convolution width.
      dilation_rates: one convolution per entry, with that dilation.
      activation: activation after each convolution.
      dropout: rate after the embedding and after each convolution.
      pooling: ``"mean"`` over real positions, ``"max"`` over real positions, or ``"last"`` (the
        right-most position, i.e. the most recent item).
      output_dim: if set, a final linear ``Dense(output_dim)`` after pooling.
      conv_padding: ``"same"`` or ``"causal"`` (see above).

    Call:
      items: int ``[batch, length]``, left-padded with 0.
      Returns ``[batch, representation_dim]``; all zeros for a row with no real item.
    """

    def __init__(self, vocab_size, embedding_dim=64, filters=64, kernel_size=3,
                 dilation_rates=(1, 2), activation="relu", dropout=0.1, pooling="mean",
                 output_dim=None, conv_padding="same", **kwargs):
        super().__init__(**kwargs)
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}; got {pooling!r}")
        if conv_padding not in CONV_PADDINGS:
            raise ValueError(f"conv_padding must be one of {CONV_PADDINGS}; got {conv_padding!r}")
        dilation_rates = tuple(int(rate) for rate in dilation_rates)
        if not dilation_rates or min(dilation_rates) < 1:
            raise ValueError(f"dilation_rates needs at least one rate >= 1; got {dilation_rates}")
        self.vocab_size = _check_vocab_size(vocab_size)
        self.embedding_dim = int(embedding_dim)
        self.filters = int(filters)
        self.kernel_size = int(kernel_size)
        self.dilation_rates = dilation_rates
        self.activation = keras.activations.serialize(keras.activations.get(activation))
        self.dropout = _check_dropout(dropout)
        self.pooling = pooling
        self.output_dim = None if output_dim is None else int(output_dim)
        self.conv_padding = conv_padding

        self.item_embedding = keras.layers.Embedding(
            self.vocab_size, self.embedding_dim, dtype=self.dtype_policy, name="item_embedding")
        self.convs = [
            keras.layers.Conv1D(self.filters, self.kernel_size, dilation_rate=rate,
                                padding=conv_padding, activation=activation,
                                dtype=self.dtype_policy, name=f"conv_{i}")
            for i, rate in enumerate(dilation_rates)]
        self.dropouts = [keras.layers.Dropout(self.dropout, dtype=self.dtype_policy,
                                              name=f"dropout_{i}")
                         for i in range(len(dilation_rates) + 1)]
        self.projection = (None if self.output_dim is None else keras.layers.Dense(
            self.output_dim, dtype=self.dtype_policy, name="projection"))

    @property
    def representation_dim(self):
        """Size of the last axis of the output."""
        return self.filters if self.output_dim is None else self.output_dim

    def build(self, items_shape):
        self.item_embedding.build(items_shape)
        shape = (*items_shape, self.embedding_dim)
        for conv in self.convs:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
        if self.projection is not None:
            self.projection.build((items_shape[0], self.filters))

    def call(self, items, training=None):
        real = _real_mask(items)                                   # [B, L]
        keep = ops.expand_dims(ops.cast(real, self.compute_dtype), -1)  # [B, L, 1]
        x = self.dropouts[0](self.item_embedding(items) * keep, training=training)
        for conv, drop in zip(self.convs, self.dropouts[1:]):
            x = drop(_conv1d_by_matmul(conv, x), training=training) * keep  # [B, L, filters]
        x = self._pool(x, real, keep)                              # [B, filters]
        return x if self.projection is None else self.projection(x)

    def _pool(self, x, real, keep):
        """Masked pooling of ``x [B, L, F]`` (zero at padding) -> ``[B, F]``; 0 for empty rows."""
        if self.pooling == "last":
            return x[:, -1, :]
        if self.pooling == "mean":
            count = ops.sum(keep, axis=1)                          # [B, 1]
            return ops.sum(x, axis=1) / ops.maximum(count, 1.0)
        minus_inf = ops.cast(float("-inf"), x.dtype)
        maximum = ops.max(ops.where(ops.expand_dims(real, -1), x, minus_inf), axis=1)
        return ops.where(ops.any(real, axis=1, keepdims=True), maximum, ops.zeros_like(maximum))

    def compute_output_shape(self, items_shape):
        return (items_shape[0], self.representation_dim)

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim,
            "filters": self.filters, "kernel_size": self.kernel_size,
            "dilation_rates": list(self.dilation_rates), "activation": self.activation,
            "dropout": self.dropout, "pooling": self.pooling, "output_dim": self.output_dim,
            "conv_padding": self.conv_padding,
        })
        return config


@keras.saving.register_keras_serializable(package="tfbt")
class SASRecEncoder(keras.layers.Layer):
    """SASRec's causal self-attention encoder (Kang & McAuley 2018).

    ``x = Embedding(items) * sqrt(hidden_dim) + PositionEmbedding``, dropout, zero at padding,
    then ``num_blocks`` pre-LayerNorm ``keras_hub.layers.TransformerDecoder`` blocks (no
    cross-attention; causal) and a final LayerNorm. Output at position t depends only on items at
    positions <= t.

    Positions are counted from the right: the most recent item (position L-1) always gets position
    embedding 0, the one before it 1, and so on. With left padding this equals SASRec's absolute
    positions when ``length == max_len``, and makes the outputs at real positions independent of
    the amount of left padding for any ``length <= max_len``.

    Attention: each query attends to real keys at or before it. Padded queries (which have no real
    key before them) attend to themselves only, so no softmax row is fully masked (no NaN, whatever
    attention kernel Keras picks); their outputs are then set to 0.

    Args:
      vocab_size: ``num_items + 2``.
      max_len: the longest sequence the position table covers.
      hidden_dim: model width (item embedding size).
      num_blocks: number of Transformer blocks.
      num_heads: attention heads (must divide ``hidden_dim``).
      intermediate_dim: width of the point-wise feed-forward network; ``None`` = ``hidden_dim``
        as in SASRec.
      dropout: embedding, attention and feed-forward dropout rate (masks from 16-bit draws,
        ``tfbt.layers.lean_ops``).
      activation: feed-forward activation.
      return_sequences: default of the ``call`` argument of the same name.

    Call:
      items: int ``[batch, length]``, left-padded with 0, ``length <= max_len``.
      return_sequences: ``True`` -> ``[batch, length, hidden_dim]`` (0 at padded positions);
        ``False`` -> ``[batch, hidden_dim]``, the last position (the user representation; 0 for a
        row with no real item). ``None`` uses the constructor's choice.
    """

    def __init__(self, vocab_size, max_len, hidden_dim=64, num_blocks=2, num_heads=1,
                 intermediate_dim=None, dropout=0.2, activation="relu", return_sequences=True,
                 **kwargs):
        super().__init__(**kwargs)
        if int(max_len) < 1 or int(num_blocks) < 1:
            raise ValueError(f"max_len and num_blocks must be >= 1; got max_len={max_len}, "
                             f"num_blocks={num_blocks}")
        if int(hidden_dim) % int(num_heads):
            raise ValueError(f"num_heads ({num_heads}) must divide hidden_dim ({hidden_dim})")
        self.vocab_size = _check_vocab_size(vocab_size)
        self.max_len = int(max_len)
        self.hidden_dim = int(hidden_dim)
        self.num_blocks = int(num_blocks)
        self.num_heads = int(num_heads)
        self.intermediate_dim = self.hidden_dim if intermediate_dim is None else int(
            intermediate_dim)
        self.dropout = _check_dropout(dropout)
        self.activation = keras.activations.serialize(keras.activations.get(activation))
        self.return_sequences = bool(return_sequences)

        self.item_embedding = keras.layers.Embedding(
            self.vocab_size, self.hidden_dim, dtype=self.dtype_policy, name="item_embedding")
        self.position_embedding = keras_hub.layers.PositionEmbedding(
            self.max_len, dtype=self.dtype_policy, name="position_embedding")
        self.embedding_dropout = keras.layers.Dropout(
            self.dropout, dtype=self.dtype_policy, name="embedding_dropout")
        self.blocks = [
            keras_hub.layers.TransformerDecoder(
                self.intermediate_dim, self.num_heads, dropout=self.dropout,
                activation=activation, normalize_first=True, dtype=self.dtype_policy,
                name=f"block_{i}")
            for i in range(self.num_blocks)]
        self.final_norm = keras.layers.LayerNormalization(
            epsilon=1e-5, dtype=self.dtype_policy, name="final_norm")

    @property
    def representation_dim(self):
        """Size of the last axis of the output."""
        return self.hidden_dim

    @property
    def item_embeddings(self):
        """The item embedding matrix ``[vocab_size, hidden_dim]`` (row i = item i), shared with
        the output layer."""
        return self.item_embedding.embeddings

    def build(self, items_shape):
        length = items_shape[-1]
        if length is not None and length > self.max_len:
            raise ValueError(f"SASRecEncoder got sequences of length {length} but max_len is "
                             f"{self.max_len}; truncate the input or raise max_len")
        self.item_embedding.build(items_shape)
        hidden_shape = (*items_shape, self.hidden_dim)
        self.position_embedding.build(hidden_shape)
        for block in self.blocks:
            block.build(hidden_shape)
        self.final_norm.build(hidden_shape)

    def call(self, items, training=None, return_sequences=None):
        real = _real_mask(items)                                       # [B, L]
        keep = ops.expand_dims(ops.cast(real, self.compute_dtype), -1)  # [B, L, 1]
        x = self.item_embedding(items) * ops.cast(self.hidden_dim ** 0.5, self.compute_dtype)
        x = x + ops.flip(self.position_embedding(x), axis=1)          # positions from the right
        x = dropout(self.embedding_dropout, x, training) * keep

        attention_bias = _attention_bias(real, self.compute_dtype)     # [B, 1, L, L]
        if return_sequences is None:
            return_sequences = self.return_sequences
        for block in self.blocks if return_sequences else self.blocks[:-1]:
            x = _pre_norm_block(block, x, attention_bias, training)
        if return_sequences:
            return layer_norm(self.final_norm, x) * keep                # [B, L, D]
        # The last position is the only query left (causality puts every key before it).
        last = _pre_norm_block(self.blocks[-1], x, attention_bias[:, :, -1:, :], training,
                               last_query_only=True)
        return layer_norm(self.final_norm, last[:, 0, :]) * keep[:, -1, :]  # [B, D]

    def item_logits(self, outputs):
        """Scores of every vocabulary entry: ``outputs @ item_embeddingsᵀ`` in float32.

        Args:
          outputs: ``[..., hidden_dim]`` (per-position outputs or last-position representations).
        Returns:
          float32 ``[..., vocab_size]``; column i scores item i. Columns 0 (padding) and
          ``vocab_size - 1`` (mask token) are not items: exclude them from softmax and ranking.
        """
        return ops.matmul(ops.cast(outputs, "float32"),
                          ops.transpose(ops.cast(self.item_embeddings, "float32")))

    def get_config(self):
        config = super().get_config()
        config.update({
            "vocab_size": self.vocab_size, "max_len": self.max_len,
            "hidden_dim": self.hidden_dim, "num_blocks": self.num_blocks,
            "num_heads": self.num_heads, "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout, "activation": self.activation,
            "return_sequences": self.return_sequences,
        })
        return config


def _conv1d_by_matmul(conv, x):
    """``conv(x)`` for a built stride-1 ``keras.layers.Conv1D`` ("same" or "causal"), as a matmul.

    A (dilated) convolution with kernel size k is k shifted copies of ``x [B, L, C]`` side by
    side, ``[B, L, k·C]``, times the kernel reshaped to ``[k·C, F]``; zero padding as TF's
    (``"same"``: (k - 1)·rate split with the smaller half on the left; ``"causal"``: all on the
    left). On CPU, TensorFlow runs a dilated Conv1D as SpaceToBatch + Conv2D + BatchToSpace and
    its gradients with the generic Conv2DBackpropFilter/Input kernels, about half of a CNN
    pretraining step (``bench/bench_pretrain.py --profile-dir``); as a matmul the same
    arithmetic runs as GEMMs. Same weights, so checkpoints are unaffected.
    """
    kernel_size, rate = conv.kernel_size[0], conv.dilation_rate[0]
    span = (kernel_size - 1) * rate
    left = span if conv.padding == "causal" else span // 2
    batch, length, channels = ops.shape(x)
    padded = ops.pad(x, [[0, 0], [left, span - left], [0, 0]])
    # ops.slice (tf.slice), not [] (strided_slice): its gradient is a Pad, where
    # StridedSliceGrad was a third of the step.
    taps = ops.concatenate([ops.slice(padded, (0, i * rate, 0), (batch, length, channels))
                            for i in range(kernel_size)], axis=-1)      # [B, L, k·C]
    y = ops.matmul(taps, ops.cast(ops.reshape(conv.kernel, (-1, conv.filters)), taps.dtype))
    if conv.use_bias:
        y = y + ops.cast(conv.bias, y.dtype)
    return conv.activation(y)


def _attention_bias(real, dtype):
    """``[B, 1, L, L]``: 0 where a query may attend, a large negative number elsewhere.

    A query sees the real keys at or before it, and itself (so a padded query, which has no
    real key before it, still has one key: no softmax row is fully masked). Built once per
    batch for every block, and added to the scores: Keras' masked softmax instead selects
    before the softmax and again after it, and both selects come back in the backward pass,
    four passes over ``[B, H, L, L]`` per block where the addition needs one.
    """
    index = ops.arange(ops.shape(real)[1])
    causal = ops.greater_equal(index[:, None], index[None, :])[None]        # [1, L, L]
    diagonal = ops.equal(index[:, None], index[None, :])[None]
    allowed = ops.logical_or(ops.logical_and(real[:, None, :], causal), diagonal)  # [B, L, L]
    blocked = -3e4 if keras.backend.standardize_dtype(dtype) == "float16" else -1e9
    return ops.where(allowed, ops.cast(0.0, dtype), ops.cast(blocked, dtype))[:, None]


def _attend(attention, queries, values, attention_bias, training):
    """``attention(query=queries, value=values, attention_mask=...)`` for a built Keras
    ``MultiHeadAttention`` (no gate, default attention axes), with the mask given as an
    additive ``attention_bias [B, 1, Q, L]`` (``_attention_bias``).

    Same weights and arithmetic as the layer's explicit-scores path (scaled query, softmax,
    dropout on the probabilities, drawn by ``tfbt.layers.lean_ops``); a blocked score gets
    probability exactly 0 either way.

    Returns:
      ``[B, Q, D]``.
    """
    query = attention._query_dense(queries)                                  # [B, Q, H, d]
    key = attention._key_dense(values)                                       # [B, L, H, d]
    value = attention._value_dense(values)
    query = query * ops.cast(attention._inverse_sqrt_key_dim, query.dtype)
    scores = ops.einsum("bqhd,bkhd->bhqk", query, key) + attention_bias     # [B, H, Q, L]
    probabilities = dropout(attention._dropout_layer, ops.softmax(scores, axis=-1), training)
    return attention._output_dense(ops.einsum("bhqk,bkhd->bqhd", probabilities, value))


def _pre_norm_block(block, x, attention_bias, training, last_query_only=False):
    """One pre-LayerNorm ``keras_hub.layers.TransformerDecoder`` (no cross-attention) applied
    with a ready attention mask.

    Equals ``block(x, decoder_attention_mask=...)`` (or its last position), using the block's
    own sublayers, weights and dropout rates (dropout masks drawn by ``tfbt.layers.lean_ops``,
    at half Keras' cost), but the mask already holds causality and comes as an additive
    bias (``_attention_bias``): the block does not rebuild and merge its causal mask (casts and
    minimums over ``[B, L, L]``) at every call, and attention selects nothing (``_attend``).
    With ``last_query_only``, keys and values still come from every position of ``x`` while the
    query, the feed-forward network and the residuals are computed for the last position only
    (with 2 blocks, about 40% of an encoder pass when only user representations are needed).
    ``tests/layers/test_encoders.py`` checks both against the block's own call.

    Args:
      block: a built ``TransformerDecoder`` with ``normalize_first=True``, no cross-attention.
      x: ``[B, L, D]``, the block's input.
      attention_bias: ``[B, 1, Q, L]`` from ``_attention_bias``; ``Q = 1`` (its last query
        row) with ``last_query_only``, else ``L``.
    Returns:
      ``[B, Q, D]``.
    """
    normed = layer_norm(block._self_attention_layer_norm, x)
    queries = normed[:, -1:] if last_query_only else normed
    residual = x[:, -1:] if last_query_only else x
    attended = _attend(block._self_attention_layer, queries, normed, attention_bias, training)
    x = dropout(block._self_attention_dropout, attended, training) + residual
    hidden = block._feedforward_intermediate_dense(
        layer_norm(block._feedforward_layer_norm, x))
    return dropout(block._feedforward_dropout, block._feedforward_output_dense(hidden),
                   training) + x


ENCODERS = {"cnn": CNNEncoder, "sasrec": SASRecEncoder}
_LAYER_KWARGS = ("name", "dtype", "trainable")


def build_encoder(name, vocab_size, max_len, /, **kwargs):
    """Build an encoder by name, for the CLI.

    Args:
      name: ``"cnn"`` or ``"sasrec"``.
      vocab_size: ``num_items + 2``.
      max_len: the input length; used by ``"sasrec"`` for its position table (the CNN works at
        any length).
      **kwargs: the chosen encoder's own arguments (see its docstring), plus ``name``/``dtype``.
    Raises:
      ValueError: unknown encoder name or an argument that encoder does not take.
    """
    if name not in ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; expected one of {sorted(ENCODERS)}")
    cls = ENCODERS[name]
    accepted = [p for p in inspect.signature(cls.__init__).parameters
                if p not in ("self", "kwargs", "vocab_size", "max_len")] + list(_LAYER_KWARGS)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(f"encoder {name!r} does not take {unknown}; it accepts {accepted}")
    if "max_len" in inspect.signature(cls.__init__).parameters:
        kwargs["max_len"] = max_len
    return cls(vocab_size=vocab_size, **kwargs)
