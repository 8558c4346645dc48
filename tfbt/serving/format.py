"""The export format: what a tfbt SavedModel holds, by name.

``tfbt export`` writes ``ROOT/NAME/VERSION/`` (the layout TF Serving loads) with these
signatures and assets, and ``tfbt recommend`` (or any client) reads them. Changing a name
here changes the format for both sides at once.

Signatures (inputs and outputs by key):

* ``serving_default``: ``items`` string ``[B, L]`` raw item ids (empty string = padding) ->
  encoder export: ``embedding`` float ``[B, D]``, ``num_known`` int32 ``[B]``; recommender
  export: ``item_ids`` string ``[B, K]``, ``scores`` float ``[B, K]``, ``num_known``.
* ``recommend_k`` (recommender only): ``items`` and ``k`` int32 scalar -> as above with K = k.
* ``recommend_penalized`` (recommender only): ``items``, ``k`` and ``popularity_penalty``
  float32 scalar β -> as ``recommend_k``, ranked by ``score - β · log(1 + training count)``
  (the popularity dial; those are the returned scores). β = 0 gives ``recommend_k``'s output
  bit for bit.

A recommender answers a user with no known item (an empty or all-unknown history) with an
explicit fallback rather than arbitrary ids: the ``K`` most popular training items (the counts in
``item_counts.tsv``), scored by their interaction counts, with ``num_known = 0`` so that a client
can tell the fallback from a personal answer (``tfbt recommend`` reports it as an error unless
``--fallback-popular``).

``tfbt.json`` records ``VOCAB_CHECKSUM_KEY``, the SHA-256 of ``item_vocab.txt`` as exported: the
graph reads that asset when it loads, so an edited vocabulary would silently serve other items;
``tfbt recommend`` refuses an export whose asset no longer matches.
"""

import hashlib
import os

KINDS = ("encoder", "recommender")  # what `tfbt export --kind` writes
DEFAULT_ROOT = "saved_models"  # where exports go unless --root says otherwise

SERVING_DEFAULT = "serving_default"
RECOMMEND_K = "recommend_k"
RECOMMEND_PENALIZED = "recommend_penalized"
ITEMS_INPUT = "items"
K_INPUT = "k"
PENALTY_INPUT = "popularity_penalty"

METADATA_ASSET = "tfbt.json"  # what was exported, from which run and dataset
COUNTS_ASSET = "item_counts.tsv"  # training popularity, for a fallback
VOCAB_ASSET = "item_vocab.txt"  # raw item ids, line i = index i + 1
TITLES_ASSET = "items.tsv"  # the dataset's item catalogue, when it has one
VOCAB_CHECKSUM_KEY = "item_vocab_sha256"


def vocabulary_checksum(path: str | os.PathLike) -> str:
    """The SHA-256 (hex) of the vocabulary file's bytes."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()
