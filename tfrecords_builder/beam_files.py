"""File system layer of the Beam builder: local paths and any Beam file system (``gs://``...).

Everything the builder writes goes through Beam's ``FileSystems`` except the shards, which
``build.write_shard`` writes with ``tf.io.TFRecordWriter`` (TensorFlow's file systems take
``gs://`` paths too), so both builders write the same bytes.

A local output folder is staged as ``build.staged_output`` does. Object stores have no folder
rename: a remote ``out_dir`` is written under a sibling ``<out_dir>.tmp-<random>/`` and its files
are renamed into ``out_dir`` at the end; on failure the sibling is deleted.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from tfrecords_builder import build as local
from tfrecords_builder import schema


def is_local(path: str) -> bool:
    return FileSystems.get_scheme(str(path)) is None


def join(directory: str, name: str) -> str:
    return FileSystems.join(str(directory), name)


def open_raw(path: str):
    """A binary stream of the file's bytes as stored (no decompression)."""
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def write_text(path: str, text: str) -> None:
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        f.write(text.encode("utf-8"))


def read_text(path: str) -> str:
    with open_raw(path) as f:
        return f.read().decode("utf-8")


def write_with(directory: str, writer: Callable[[str], None]) -> None:
    """Runs ``writer(folder)`` (a function writing local files) into ``directory``: directly
    when it is local, else into a local temporary folder whose files are then copied over."""
    if is_local(directory):
        writer(directory)
        return
    with tempfile.TemporaryDirectory() as tmp:
        writer(tmp)
        for name in sorted(os.listdir(tmp)):
            with open(os.path.join(tmp, name), "rb") as src:
                with FileSystems.create(join(directory, name),
                                        compression_type=CompressionTypes.UNCOMPRESSED) as dst:
                    dst.write(src.read())


def delete_folder(path: str) -> None:
    FileSystems.delete([path if is_local(path) else path.rstrip("/") + "/"])


def checksums(path: str) -> tuple[int, int]:
    """(bytes, CRC-32) of a written file, as metadata.json records them."""
    with open_raw(path) as f:
        crc = schema.stream_checksum(f)
    return FileSystems.match([path])[0].metadata_list[0].size_in_bytes, crc


def _names(directory: str) -> list[str]:
    prefix = directory.rstrip("/") + "/"
    return sorted(m.path[len(prefix):] for m in FileSystems.match([prefix + "*"])[0].metadata_list)


def check_output(out_dir: str, overwrite: bool) -> None:
    """``build.check_output_dir`` for a local or remote folder."""
    if is_local(out_dir):
        local.check_output_dir(Path(out_dir), overwrite)
        return
    names = _names(out_dir)
    if names and not overwrite:
        raise local.BuildError(f"{out_dir} already exists; pass overwrite=True (--overwrite) to "
                               f"replace it")
    if names and schema.METADATA_FILE not in names:
        raise local.BuildError(f"refusing to replace {out_dir}: it is not empty and has no "
                               f"{schema.METADATA_FILE}, so it is not a dataset written by this "
                               f"builder")


@contextlib.contextmanager
def staged_output(out_dir: str, overwrite: bool) -> Iterator[str]:
    """Yields an empty staging folder that becomes ``out_dir`` on success (see module)."""
    if is_local(out_dir):
        with local.staged_output(out_dir, overwrite) as tmp:
            yield str(tmp)
        return
    tmp = f"{out_dir.rstrip('/')}.tmp-{secrets.token_hex(4)}"
    try:
        yield tmp
        check_output(out_dir, overwrite)
        old = [join(out_dir, n) for n in _names(out_dir) if local.is_builder_file(n)]
        if old:
            FileSystems.delete(old)
        new = _names(tmp)
        FileSystems.rename([join(tmp, n) for n in new], [join(out_dir, n) for n in new])
    finally:
        if _names(tmp):
            delete_folder(tmp)
