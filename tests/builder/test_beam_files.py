"""The Beam builder's output staging on a file system without folders (as gs:// is)."""

import io

import pytest

pytest.importorskip("apache_beam")

from apache_beam.io.filesystem import FileMetadata, FileSystem  # noqa: E402

from tfrecords_builder import beam_files  # noqa: E402
from tfrecords_builder.build import BuildError  # noqa: E402

STORE: dict[str, bytes] = {}


class _Closing(io.BytesIO):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def close(self):
        STORE[self.path] = self.getvalue()
        super().close()


class MemoryFileSystem(FileSystem):
    """``memtest://``: an object store in a dict (names, no folders, no rename of prefixes)."""

    @classmethod
    def scheme(cls):
        return "memtest"

    def join(self, basepath, *paths):
        return "/".join([basepath.rstrip("/"), *paths])

    def split(self, path):
        head, _, tail = path.rpartition("/")
        return head, tail

    def mkdirs(self, path):
        pass

    def has_dirs(self):
        return False

    def _list(self, prefix):
        return [FileMetadata(p, len(b)) for p, b in sorted(STORE.items()) if p.startswith(prefix)]

    def create(self, path, mime_type=None, compression_type=None):
        return _Closing(path)

    def open(self, path, mime_type=None, compression_type=None):
        return io.BytesIO(STORE[path])

    def copy(self, sources, destinations):
        for s, d in zip(sources, destinations):
            STORE[d] = STORE[s]

    def rename(self, sources, destinations):
        for s, d in zip(sources, destinations):
            STORE[d] = STORE.pop(s)

    def exists(self, path):
        return path in STORE

    def size(self, path):
        return len(STORE[path])

    def last_updated(self, path):
        return 0.0

    def metadata(self, path):
        return FileMetadata(path, len(STORE[path]))

    def checksum(self, path):
        return str(len(STORE[path]))

    def delete(self, paths):
        for path in paths:
            for name in [p for p in STORE if p == path or (path.endswith("/")
                                                          and p.startswith(path))]:
                del STORE[name]


@pytest.fixture(autouse=True)
def empty_store():
    STORE.clear()
    yield
    STORE.clear()


def write(folder, **files):
    for name, text in files.items():
        beam_files.write_text(beam_files.join(folder, name), text)


def test_a_remote_dataset_appears_only_when_complete():
    with beam_files.staged_output("memtest://b/ds", overwrite=False) as tmp:
        write(tmp, **{"metadata.json": "{}", "data-00000-of-00001.tfrecord": "x"})
        assert not any(p.startswith("memtest://b/ds/") for p in STORE)
    assert sorted(STORE) == ["memtest://b/ds/data-00000-of-00001.tfrecord",
                             "memtest://b/ds/metadata.json"]


def test_a_failed_remote_build_leaves_nothing():
    with pytest.raises(RuntimeError, match="worker lost"):
        with beam_files.staged_output("memtest://b/ds", overwrite=False) as tmp:
            write(tmp, **{"metadata.json": "{}"}, _beam="rows")
            raise RuntimeError("worker lost")
    assert STORE == {}


def test_overwrite_replaces_builder_files_and_keeps_the_users():
    write("memtest://b/ds", **{"metadata.json": "old", "data-00000-of-00002.tfrecord": "old",
                               "notes.txt": "mine"})
    with pytest.raises(BuildError, match="already exists; pass overwrite=True"):
        beam_files.check_output("memtest://b/ds", overwrite=False)
    with beam_files.staged_output("memtest://b/ds", overwrite=True) as tmp:
        write(tmp, **{"metadata.json": "new"})
    assert STORE == {"memtest://b/ds/metadata.json": b"new", "memtest://b/ds/notes.txt": b"mine"}


def test_a_remote_folder_that_is_not_a_dataset_is_never_replaced():
    write("memtest://b/ds", **{"notes.txt": "mine"})
    with pytest.raises(BuildError, match="refusing to replace memtest://b/ds"):
        beam_files.check_output("memtest://b/ds", overwrite=True)


def test_local_files_reach_a_remote_folder():
    beam_files.write_with("memtest://b/ds", lambda folder: write(folder, **{"a.txt": "A"}))
    assert STORE == {"memtest://b/ds/a.txt": b"A"}
    assert beam_files.checksums("memtest://b/ds/a.txt") == (1, 3554254475)
