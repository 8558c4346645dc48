"""Serving: the export format, the SavedModel signatures, export with a fresh-process check,
and the ``tfbt recommend`` client.

* ``format``: signature and asset names (shared by the exporter and every client).
* ``signatures``: the ``tf.Module`` that maps raw item ids to embeddings or recommendations.
* ``export``: ``tfbt export`` and ``export_model`` (an in-memory model, from Python); ``check``:
  reload in a fresh process and compare outputs.
* ``client``: ``tfbt recommend``.
"""

import importlib

_LAZY = dict.fromkeys(("export_model", "export_encoder", "export_recommender"),
                      "tfbt.serving.export")

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tfbt.serving' has no attribute {name!r}")
