"""``tfbt export``: SavedModels for TF Serving, with the raw-id lookup inside the graph.

Resolves what to export (``load_source``: a run folder or an in-memory model, checked against
its dataset), builds the ``tfbt.serving.signatures`` module of the chosen kind and publishes it:

* ``encoder`` (a ``tfbt pretrain`` or ``tfbt train`` run, or in Python any encoder): raw item
  ids -> user embedding.
* ``recommender`` (a ``tfbt train`` run: SASRec / BT-SR; in Python also the TFRS dual encoder):
  raw item ids -> the top-K unseen raw item ids and their scores.

``tfbt.serving.signatures`` documents the signatures; the export needs TensorFlow alone to run.

Layout: ``ROOT/NAME/VERSION/`` (numeric versions, as TF Serving expects), written to a hidden
temporary folder beside it (``.VERSION.tmp-PID-*``: a killed export's is removed by the next),
checked in a fresh process (``tfbt.serving.check``), then renamed into place, all under the lock
of ``ROOT/NAME`` (one export of a name at a time; ``tfbt.fs.lock``). A ROOT or NAME folder that
holds a run or a dataset is refused. Assets: ``item_vocab.txt`` (the lookup), ``tfbt.json`` (dataset metadata, training
config, metrics, signatures, export time, versions, the vocabulary's SHA-256 that
``tfbt recommend`` checks), ``item_counts.tsv`` (interactions per item,
for a popularity fallback) and, when the dataset has it, ``items.tsv`` (titles, genres).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

import tfbt
from tfbt import data
from tfbt.fs import kinds, lock, staging
from tfbt.models.retrieval import Retriever
from tfbt.runs import layout
from tfbt.serving.check import ExportVerificationError, sample_calls, verify
from tfbt.serving.format import (
    COUNTS_ASSET,
    DEFAULT_ROOT,
    KINDS,
    METADATA_ASSET,
    VOCAB_CHECKSUM_KEY,
    vocabulary_checksum,
)
from tfbt.serving.signatures import (
    EncoderModel,
    RecommenderModel,
    Source,
    describe_signatures,
)
from tfrecords_builder import schema



def _vocab_size(model) -> int:
    """Vocabulary size of a ``Retriever`` (its item table's rows) or a Keras encoder model (its
    layers' ``vocab_size``)."""
    if isinstance(model, Retriever):
        return int(model.item_embeddings().shape[0])
    sizes = {layer.vocab_size for layer in getattr(model, "layers", [])
             if hasattr(layer, "vocab_size")}
    if len(sizes) != 1:
        raise ValueError(f"cannot tell the item vocabulary size of {type(model).__name__}")
    return int(sizes.pop())


def _check_dataset(description: str, data_dir, vocab_size: int):
    """``(data_dir, metadata)``; raises unless the model was trained on this dataset."""
    if data_dir is None:
        raise ValueError(f"{description}: no dataset given; pass data_dir (--data)")
    data_dir = Path(data_dir)
    metadata = data.load_metadata(data_dir)
    if vocab_size != metadata.vocab_size:
        raise ValueError(
            f"{description} has an item vocabulary of {vocab_size} (num_items + 2 = "
            f"{vocab_size - 2} items) but {data_dir} has num_items={metadata.num_items} "
            f"(vocabulary {metadata.vocab_size}); it was trained on another dataset: pass the "
            f"dataset it was trained on (--data)")
    vocab_file = data_dir / schema.ITEM_VOCAB_FILE
    vocab = schema.read_vocab(data_dir)
    if len(vocab) != metadata.num_items:
        raise ValueError(f"{vocab_file}: {len(vocab)} lines, expected num_items="
                         f"{metadata.num_items}")
    seen = set()
    for line, raw_id in enumerate(vocab, 1):
        if not raw_id or raw_id in seen:
            raise ValueError(f"{vocab_file}:{line}: {'duplicate' if raw_id else 'empty'} raw "
                             f"id {raw_id!r}; raw ids must be unique and non-empty")
        seen.add(raw_id)
    return data_dir, metadata


def load_source(source, *, data_dir=None, max_len=None) -> Source:
    """Resolves what to export.

    Args:
      source: a run folder (``tfbt train``: ``model.keras``; ``tfbt pretrain``:
        ``encoder.keras``; ``tfbt train-dual-encoder``: ``dual_encoder/``) or an in-memory
        model: a ``tfbt.models.Retriever`` (``SequentialRecommender``, the ``tfbt.baselines``
        ``DualEncoder``, an ``ItemTableRetriever``) or a Keras encoder model (``items
        [B, max_len] -> [B, D]``, no item table: ``encoder`` exports only).
      data_dir: the dataset (default: the run's ``config.json`` ``data``; required in memory).
      max_len: input width (default: the run's or the model's ``max_len``; required for a
        DualEncoder).
    """
    config = results = None
    if isinstance(source, (str, os.PathLike)):
        config = layout.read_json(Path(source) / layout.CONFIG_FILE) or {}
        results = layout.read_json(Path(source) / layout.RESULTS_FILE)
        data_dir = data_dir if data_dir is not None else config.get("data")
        max_len = max_len if max_len is not None else config.get("max_len")
        if (Path(source) / layout.DUAL_ENCODER_DIR).is_dir():  # `tfbt train-dual-encoder`
            from tfbt.runs.train_dual_encoder import load_model

            if data_dir is None:
                raise ValueError(f"{source}: no dataset in {layout.CONFIG_FILE}; pass --data")
            model = load_model(source, config, data.load_metadata(data_dir))
            description = str(Path(source) / layout.DUAL_ENCODER_DIR)
        else:
            model, path = layout.load_trained_model(source)
            description = str(path)
    else:
        model, description = source, f"in-memory {type(source).__name__}"
        if not model.variables:
            raise ValueError(f"{description} has no weights: build and train it first")

    if isinstance(model, Retriever):  # SASRec / BT-SR, the dual encoder, an encoder + table
        def user_embeddings(items):  # holds the model: a bound tf.function keeps only a weakref
            return model.user_embeddings(items)

        model.item_embeddings()  # first: a table built on first use is then among the variables
        item_table, variables = model.item_embeddings, list(model.variables)
        max_len = max_len if max_len is not None else getattr(model, "max_len", None)
    else:  # a Keras encoder model: items -> user vectors, no item table
        def user_embeddings(items):
            return model(items, training=False)

        item_table, variables = None, list(model.variables)
        if max_len is None and getattr(model, "inputs", None):
            max_len = model.inputs[0].shape[1]
    if max_len is None or int(max_len) < 1:
        raise ValueError(f"{description}: max_len must be a positive integer; got {max_len}")
    data_dir, metadata = _check_dataset(description, data_dir, _vocab_size(model))
    return Source(description, data_dir, metadata, int(max_len), user_embeddings, item_table,
                  variables, config, results)


def _model_dir(root, name: str) -> Path:
    """``root/name``; refuses a bad name and a root or model folder that holds a run or a
    dataset."""
    if not name or name in (".", "..") or "/" in name or os.sep in name or name.startswith("."):
        raise ValueError(f"--name must be a plain folder name; got {name!r}")
    for folder, flag in ((Path(root), "--root"), (Path(root) / name, "--name")):
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{folder} exists and is not a folder; choose another {flag}")
        if kinds.made_by(folder) == "export" and (folder / "saved_model.pb").is_file():
            raise ValueError(f"{folder} is itself an export version; --root is the folder "
                             f"that holds NAME/VERSION/")
        kinds.claim(folder, "export", flag=flag)
    return Path(root) / name


def _version(model_dir: Path, version: int | None, overwrite: bool) -> int:
    if version is None:
        existing = [int(p.name) for p in model_dir.glob("*") if p.is_dir() and p.name.isdigit()]
        version = max(existing, default=0) + 1
    if int(version) < 1:
        raise ValueError(f"version must be a positive integer; got {version}")
    if (model_dir / str(int(version))).exists() and not overwrite:
        raise FileExistsError(f"{model_dir / str(int(version))} exists; pass --overwrite to "
                              f"replace it, or leave out --version to write the next version")
    return int(version)


def _write_assets(folder: Path, source: Source, info: dict) -> list[Path]:
    """``tfbt.json``, ``item_counts.tsv`` and, when the dataset has it, ``items.tsv``."""
    vocab = schema.read_vocab(source.data_dir)
    counts = data.item_counts(source.data_dir, metadata=source.metadata, split="test")
    (folder / COUNTS_ASSET).write_text("item\traw_id\tcount\n" + "".join(
        f"{index}\t{raw_id}\t{counts[index]}\n" for index, raw_id in enumerate(vocab, 1)),
        encoding="utf-8")
    (folder / METADATA_ASSET).write_text(
        json.dumps(info, indent=2, sort_keys=True, default=float) + "\n", encoding="utf-8")
    assets = [folder / METADATA_ASSET, folder / COUNTS_ASSET]
    if (source.data_dir / schema.ITEM_INFO_FILE).is_file():
        assets.append(source.data_dir / schema.ITEM_INFO_FILE)
    return assets


def _replace(folder: Path, target: Path) -> None:
    """Moves the finished export ``folder`` into place (an old version is removed last)."""
    if target.exists():
        old = staging.old_name(folder)
        target.rename(old)
        folder.rename(target)
        shutil.rmtree(old)
    else:
        folder.rename(target)


@dataclasses.dataclass
class Export:
    """A published export: its folder, its version and what the fresh-process check saw
    (``verify``'s result; None when the check was skipped)."""

    path: Path
    version: int
    verification: dict | None


def _export(kind: str, source, name: str, *, root, version, overwrite, data_dir, max_len, k,
            verify_export: bool) -> Export:
    if k is not None and int(k) < 1:
        raise ValueError(f"k must be >= 1; got {k}")
    model_dir = _model_dir(root, name)
    created = [folder for folder in (Path(root), model_dir) if not folder.exists()]
    model_dir.mkdir(parents=True, exist_ok=True)
    try:
        with lock.exclusive(model_dir / lock.LOCK_FILE, f"export folder {model_dir}"):
            staging.remove_stale(model_dir)
            return _publish(kind, source, name, model_dir, _version(model_dir, version, overwrite),
                            data_dir=data_dir, max_len=max_len, k=k, verify_export=verify_export)
    except lock.FolderBusyError:
        raise  # the folders are the other export's
    except BaseException:
        for folder in reversed(created):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise


def _publish(kind: str, source, name: str, model_dir: Path, version: int, *, data_dir,
             max_len, k, verify_export: bool) -> Export:
    """Writes ``model_dir/version`` (``_export`` holds the folder's lock)."""
    source = load_source(source, data_dir=data_dir, max_len=max_len)
    if kind == "encoder":
        module = EncoderModel(source)
    elif source.item_table is None:
        raise ValueError(f"{source.description} is an encoder without an item scorer (a BT "
                         f"pretraining run): export it with --kind encoder, or export a "
                         f"`tfbt train` run (SASRec / BT-SR) or a TFRS DualEncoder")
    else:
        module = RecommenderModel(source, k)
    info = {
        "name": name, "version": version, "kind": kind, "source": source.description,
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "tfbt_version": tfbt.__version__, "tensorflow_version": tf.__version__,
        "max_len": source.max_len, "k": getattr(module, "k", None),
        "signatures": describe_signatures(module),
        "dataset": {"path": str(source.data_dir), **dataclasses.asdict(source.metadata)},
        "config": source.config,
        "metrics": {split: source.results[split] for split in ("valid", "test")
                    if split in (source.results or {})} or None,
        VOCAB_CHECKSUM_KEY: vocabulary_checksum(source.data_dir / schema.ITEM_VOCAB_FILE),
    }
    with tempfile.TemporaryDirectory() as assets_dir:
        module.assets = [tf.saved_model.Asset(str(path))
                         for path in _write_assets(Path(assets_dir), source, info)]
        folder = staging.make(model_dir, f".{version}")
        try:
            print(f"writing the SavedModel ({kind}, {len(source.variables)} variables) ...",
                  flush=True)
            tf.saved_model.save(module, str(folder), signatures=module.signatures())
            verification = verify(folder, module, sample_calls(
                schema.read_vocab(source.data_dir), source.max_len,
                kind == "recommender")) if verify_export else None
            _replace(folder, model_dir / str(version))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    return Export(model_dir / str(version), version, verification)


def export_encoder(source, name: str, *, root=DEFAULT_ROOT, version: int | None = None,
                   overwrite: bool = False, data_dir=None, max_len: int | None = None,
                   verify_export: bool = True) -> Export:
    """Exports a user encoder: raw item ids -> user embedding (see ``tfbt.serving.signatures``).

    Args:
      source: a ``tfbt pretrain`` or ``tfbt train`` run folder, or an in-memory model (see
        ``load_source``).
      name: the model's folder under ``root`` (TF Serving's model name).
      root: the export root.
      version: the version folder; default: one above the highest existing.
      overwrite: replace an existing version folder.
      data_dir: the dataset the model was trained on (default: the run's).
      max_len: input width (default: the run's or the model's).
      verify_export: reload in a fresh process and compare outputs before publishing.

    Returns:
      An ``Export``; ``path`` is ``root/name/version``.

    Raises:
      FileExistsError: the version exists and ``overwrite`` is False.
      FileNotFoundError: no such run folder or dataset.
      ValueError: no trained model, or a model that does not match the dataset.
      ExportVerificationError: the reloaded export behaves differently (nothing is published).
    """
    return _export("encoder", source, name, root=root, version=version, overwrite=overwrite,
                   data_dir=data_dir, max_len=max_len, k=None, verify_export=verify_export)


def export_recommender(source, name: str, *, root=DEFAULT_ROOT, version: int | None = None,
                       k: int = 10, overwrite: bool = False, data_dir=None,
                       max_len: int | None = None, verify_export: bool = True) -> Export:
    """Exports a recommender: raw item ids -> top-``k`` unseen raw item ids and scores.

    ``source`` is a ``tfbt train`` run folder (SASRec / BT-SR), an in-memory
    ``SequentialRecommender`` or a TFRS ``DualEncoder`` (``tfbt.baselines``; pass ``data_dir``
    and ``max_len``). A BT pretraining run has no item scorer and is refused. ``k`` is the
    ``serving_default`` default (clamped to ``num_items``); ``recommend_k`` takes any k. Other
    arguments, return value and errors as ``export_encoder``.
    """
    return _export("recommender", source, name, root=root, version=version,
                   overwrite=overwrite, data_dir=data_dir, max_len=max_len, k=k,
                   verify_export=verify_export)


def export_model(model, path, *, data_dir, kind: str | None = None, k: int = 10,
                 max_len: int | None = None, version: int | None = None,
                 overwrite: bool = False, verify_export: bool = True) -> Export:
    """Exports an in-memory model for TF Serving, as ``tfbt export`` exports a run folder.

    Args:
      model: a ``tfbt.models.Retriever`` (SASRec / BT-SR, the dual encoder, an
        ``ItemTableRetriever``) or a Keras encoder model.
      path: the model's folder, ``ROOT/NAME`` (the version folder is made inside it).
      data_dir: the dataset it was trained on (vocabulary, counts, titles).
      kind: ``"recommender"`` (the default for a ``Retriever``) or ``"encoder"`` (the default,
        and the only kind, for an encoder without an item table).
      k, max_len, version, overwrite, verify_export: as ``export_recommender``; the
        fresh-process check runs unless ``verify_export=False``.

    Returns:
      An ``Export`` (``path``: ``ROOT/NAME/VERSION``).
    """
    if kind is None:
        kind = "recommender" if isinstance(model, Retriever) else "encoder"
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    path = Path(path)
    return _export(kind, model, path.name, root=path.parent, version=version,
                   overwrite=overwrite, data_dir=data_dir, max_len=max_len,
                   k=k if kind == "recommender" else None, verify_export=verify_export)

