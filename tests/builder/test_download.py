"""download(): against a local HTTP server on 127.0.0.1 serving a zip the test builds."""

import argparse
import functools
import hashlib
import http.server
import threading
import zipfile

import pytest

from tfrecords_builder.download import (
    DATASETS,
    STAMP_FILE,
    DownloadError,
    add_download_arguments,
    download,
    run_download,
)
from tfrecords_builder.readers import FORMATS, read_source

U_DATA = "1\t10\t4\t881250949\n2\t20\t3\t881250950\n"


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests = []

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """Serves ``tmp_path/site`` at http://127.0.0.1:PORT/; yields (base_url, site folder)."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    site = tmp_path / "site"
    site.mkdir()
    _Handler.requests = []
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Handler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", site
    httpd.shutdown()
    httpd.server_close()


def _ml100k_zip(site, folder="ml-100k"):
    path = site / "ml-100k.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{folder}/u.data", U_DATA)
        zf.writestr(f"{folder}/README", "test archive\n")
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_known_datasets_map_to_reader_formats():
    assert {"movielens-100k", "movielens-1m", "movielens-20m"} <= set(DATASETS)
    assert DATASETS["movielens-100k"] == ("ml-100k.zip", "0e33842e24a9c977be4e0107933c0723",
                                          "ml-100k", "movielens-100k")
    for zip_name, md5, folder, fmt in DATASETS.values():
        assert zip_name.endswith(".zip") and len(md5) == 32
        assert fmt in FORMATS


def test_download_verifies_extracts_and_is_readable(server, tmp_path):
    base_url, site = server
    md5 = _ml100k_zip(site)
    dest = tmp_path / "data"
    folder = download("movielens-100k", dest, base_url=base_url, expected_md5=md5, progress=False)
    assert folder == dest / "ml-100k"
    assert (folder / "u.data").read_text() == U_DATA
    assert sorted(p.name for p in dest.iterdir()) == ["ml-100k"]  # no temporary files left
    raw = read_source(DATASETS["movielens-100k"][3], folder)
    assert raw.interactions["item"].tolist() == [10, 20]

    # Already present and complete: returned without another request.
    assert download("movielens-100k", dest, base_url=base_url, expected_md5=md5,
                    progress=False) == folder
    assert _Handler.requests == ["/ml-100k.zip"]


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    base_url, site = server
    _ml100k_zip(site)
    dest = tmp_path / "data"
    with pytest.raises(DownloadError, match="MD5 checksum mismatch.*expected 0{32}"):
        download("movielens-100k", dest, base_url=base_url, expected_md5="0" * 32,
                 progress=False)
    assert list(dest.iterdir()) == []


def test_missing_file_on_server_is_a_clear_error(server, tmp_path):
    base_url, _ = server
    dest = tmp_path / "data"
    with pytest.raises(DownloadError, match=r"ml-1m.zip: HTTP 404"):
        download("movielens-1m", dest, base_url=base_url, progress=False)
    assert list(dest.iterdir()) == []


def test_archive_without_the_expected_folder_leaves_nothing(server, tmp_path):
    base_url, site = server
    md5 = _ml100k_zip(site, folder="other")
    dest = tmp_path / "data"
    with pytest.raises(DownloadError, match=r"expected a top-level folder 'ml-100k', "
                                            r"found \['other'\]"):
        download("movielens-100k", dest, base_url=base_url, expected_md5=md5, progress=False)
    assert list(dest.iterdir()) == []


def test_foreign_folder_is_not_overwritten(tmp_path):
    (tmp_path / "ml-1m").mkdir()
    with pytest.raises(DownloadError, match="exists but was not written by `tfbt download`"):
        download("movielens-1m", tmp_path, base_url="http://127.0.0.1:9/", progress=False)
    with pytest.raises(DownloadError, match="unknown dataset 'ml-1m'; expected one of"):
        download("ml-1m", tmp_path)


def test_cli_entry_points(server, tmp_path, capsys):
    base_url, site = server
    md5 = _ml100k_zip(site)
    parser = argparse.ArgumentParser()
    add_download_arguments(parser)
    args = parser.parse_args(["movielens-100k", "--dest", str(tmp_path / "d"), "--md5", md5,
                              "--base-url", base_url, "--quiet"])
    assert run_download(args) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "d" / "ml-100k") in out and "movielens-100k" in out
    assert (tmp_path / "d" / "ml-100k" / STAMP_FILE).read_text().strip() == md5

    args = parser.parse_args(["movielens-20m", "--dest", str(tmp_path / "d"),
                              "--base-url", base_url, "--quiet"])
    assert run_download(args) == 1
    assert "HTTP 404" in capsys.readouterr().err
