"""Download and unpack the MovieLens archives from GroupLens (``tfbt download NAME``).

The zip is streamed to a temporary file beside the destination, its MD5 checked against the
checksum GroupLens publishes (``<zip>.md5``), and only then extracted into a temporary folder that
is renamed into place: an interrupted or corrupt download never leaves a half-written dataset, and
a dataset folder that exists is complete. A stamp file inside it records the archive's checksum.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from tqdm.auto import tqdm

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/"

# name -> (zip file under the base URL, its MD5, folder inside the zip, reader format).
DATASETS: dict[str, tuple[str, str, str, str]] = {
    "movielens-100k": ("ml-100k.zip", "0e33842e24a9c977be4e0107933c0723", "ml-100k",
                       "movielens-100k"),
    "movielens-1m": ("ml-1m.zip", "c4d9eecfca2ab87c1945afe126590906", "ml-1m", "movielens-1m"),
    "movielens-10m": ("ml-10m.zip", "ce571fd55effeba0271552578f2648bd", "ml-10M100K",
                      "movielens-10m"),
    "movielens-20m": ("ml-20m.zip", "cd245b17a1ae2cc31bb14903e1204af3", "ml-20m",
                      "movielens-20m"),
    "movielens-25m": ("ml-25m.zip", "6b51fb2759a8657d3bfcbfc42b592ada", "ml-25m",
                      "movielens-25m"),
}
STAMP_FILE = ".tfbt-download-md5"
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """The archive could not be fetched, failed its checksum, or did not unpack as expected."""


def _fetch(url: str, target: Path, progress: bool) -> str:
    """Streams ``url`` into ``target``; returns the MD5 hex digest of what was written."""
    digest = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=url.rsplit("/", 1)[-1], disable=not progress) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as err:
        raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(f"{url}: download failed ({getattr(err, 'reason', err)})") from None
    return digest.hexdigest()


def _extract(archive: Path, folder: str, dest: Path, md5: str) -> Path:
    """Unzips ``archive`` and moves its top-level ``folder`` to ``dest/folder`` in one rename."""
    staging = Path(tempfile.mkdtemp(prefix=".tfbt-extract-", dir=dest))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                root = staging.resolve()
                for member in zf.namelist():
                    if not (root / member).resolve().is_relative_to(root):
                        raise DownloadError(f"{archive.name}: member {member!r} would be "
                                            f"written outside the destination")
                zf.extractall(staging)
        except zipfile.BadZipFile as err:
            raise DownloadError(f"{archive.name}: not a valid zip file ({err})") from None
        unpacked = staging / folder
        if not unpacked.is_dir():
            found = sorted(p.name for p in staging.iterdir())
            raise DownloadError(f"{archive.name}: expected a top-level folder {folder!r}, "
                                f"found {found}")
        (unpacked / STAMP_FILE).write_text(md5 + "\n")
        unpacked.rename(dest / folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest / folder


def download(name: str, dest_dir: str | Path, *, base_url: str = GROUPLENS_URL,
             expected_md5: str | None = None, progress: bool = True) -> Path:
    """Downloads, verifies and unpacks dataset ``name`` (a key of ``DATASETS``) into ``dest_dir``.

    Returns the dataset folder (e.g. ``dest_dir/ml-100k``), readable with the reader format
    ``DATASETS[name][3]``. A folder already unpacked by this function is returned without
    downloading again. ``expected_md5`` overrides the known checksum (for mirrors and tests).

    Raises:
      DownloadError: unknown name, network/HTTP failure, checksum mismatch, bad archive, or a
        folder of that name exists that this function did not write. Nothing is left behind.
    """
    if name not in DATASETS:
        raise DownloadError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    zip_name, known_md5, folder, _ = DATASETS[name]
    md5 = (expected_md5 or known_md5).lower()
    dest = Path(dest_dir)
    target = dest / folder
    if (target / STAMP_FILE).is_file():
        return target
    if target.exists():
        raise DownloadError(f"{target} exists but was not written by `tfbt download`; remove it "
                            f"to download again, or read it directly")
    dest.mkdir(parents=True, exist_ok=True)
    url = base_url.rstrip("/") + "/" + zip_name
    handle, temp = tempfile.mkstemp(prefix=f".{zip_name}.", suffix=".part", dir=dest)
    archive = Path(temp)
    os.close(handle)
    try:
        got = _fetch(url, archive, progress)
        if got != md5:
            raise DownloadError(f"{url}: MD5 checksum mismatch (got {got}, expected {md5}); the "
                                f"download was discarded")
        return _extract(archive, folder, dest, md5)
    finally:
        archive.unlink(missing_ok=True)


def add_download_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds ``tfbt download`` arguments: ``NAME --dest DIR [--md5] [--base-url] [--quiet]``."""
    parser.add_argument("name", choices=sorted(DATASETS), help="dataset to download")
    parser.add_argument("--dest", default="data",
                        help="folder to unpack into (default: ./data)")
    parser.add_argument("--md5", default=None,
                        help="expected MD5 of the zip (default: the checksum GroupLens publishes)")
    parser.add_argument("--base-url", default=GROUPLENS_URL,
                        help=f"where the zip files live (default: {GROUPLENS_URL})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_download(args: argparse.Namespace) -> int:
    """Runs ``tfbt download``; prints the dataset folder and its reader format. Exit status."""
    try:
        folder = download(args.name, args.dest, base_url=args.base_url, expected_md5=args.md5,
                          progress=not args.quiet)
    except DownloadError as err:
        print(f"tfbt download: error: {err}", file=sys.stderr)
        return 1
    print(f"{folder}  (reader format: {DATASETS[args.name][3]})")
    return 0
