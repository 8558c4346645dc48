"""Serving: the export format, the SavedModel signatures, export with a fresh-process check,
and the ``tfbt recommend`` client.

* ``format``: signature and asset names (shared by the exporter and every client).
* ``signatures``: the ``tf.Module`` that maps raw item ids to embeddings or recommendations.
* ``export``: ``tfbt export``; ``check``: reload in a fresh process and compare outputs.
* ``client``: ``tfbt recommend``.
"""
