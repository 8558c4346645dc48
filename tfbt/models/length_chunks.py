"""Length-sorted chunks: encode a left-padded batch with less padding, exactly.

Both tfbt encoders ignore left padding (``tfbt.layers.encoders``): the same real items give the
same outputs whatever the amount of padding. A batch whose rows have very different lengths
can therefore be encoded as a few chunks of rows of similar length, each trimmed to its longest
row, and put back in batch order. On Amazon Beauty (max_len 50, mean length 9) this skips about
4x of the positions; on MovieLens-like data (max_len 200) still a third or more.
"""

from __future__ import annotations

import tensorflow as tf

from tfrecords_builder.schema import PAD_ID


def length_sorted_chunks(items, num_chunks, *aligned):
    """Cuts a left-padded batch into ``num_chunks`` chunks of rows of similar length.

    Rows are sorted by length (stable) and cut into chunks of ``ceil(B / num_chunks)`` rows;
    each chunk keeps only the last ``w`` columns, w its longest row (at least 1), so an encoder
    that ignores left padding gives the same outputs with less work.

    Args:
      items: int ``[B, L]``, left-padded with ``PAD_ID``.
      num_chunks: static int >= 1.
      *aligned: ``[B, L]`` tensors cut the same way (e.g. the positives).
    Returns:
      ``order [B]`` (sorted row i is batch row ``order[i]``) and ``num_chunks`` tuples
      ``(items [b, w], *aligned [b, w])``; a chunk may have 0 rows when B < num_chunks.
    """
    lengths = tf.reduce_sum(tf.cast(tf.not_equal(items, PAD_ID), tf.int32), axis=1)
    order = tf.argsort(lengths, stable=True)
    tensors = [tf.gather(t, order) for t in (items, *aligned)]
    lengths = tf.gather(lengths, order)
    rows = tf.shape(items)[0]
    size = -(-rows // num_chunks)
    chunks = []
    for index in range(num_chunks):
        start, stop = index * size, tf.minimum((index + 1) * size, rows)
        # An empty chunk (fewer rows than chunks) has max -inf: width 1, zero rows.
        width = tf.maximum(tf.reduce_max(lengths[start:stop]), 1)
        chunks.append(tuple(t[start:stop, -width:] for t in tensors))
    return order, chunks


def in_batch_order(order, sorted_rows):
    """Puts ``sorted_rows [B, ...]`` (in ``length_sorted_chunks`` order) back in batch order."""
    return tf.gather(sorted_rows, tf.math.invert_permutation(order))


def encode_in_length_chunks(encoder, items, num_chunks, **call_kwargs):
    """``encoder(items, **call_kwargs)`` for an encoder of ``[B, L] -> [B, D]``, by chunks.

    ``num_chunks = 0`` calls the encoder on the whole padded batch (static shapes, for XLA).
    In training mode dropout draws differ from one whole-batch call (other shapes), not their
    distribution.
    """
    if num_chunks == 0:
        return encoder(items, **call_kwargs)
    order, chunks = length_sorted_chunks(items, num_chunks)
    return in_batch_order(order, tf.concat([encoder(chunk, **call_kwargs) for chunk, in chunks],
                                           axis=0))
