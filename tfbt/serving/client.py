"""``tfbt recommend``: top-K recommendations from an exported recommender.

Loads a ``tfbt export --kind recommender`` SavedModel with plain TensorFlow
(``tf.saved_model.load``; no Keras, no model code) and calls its ``recommend_k`` signature, so it
answers exactly what TF Serving would, the popularity fallback included. Titles come from the
export's ``items.tsv`` asset.

Items are raw ids (as in the source data), chronological: ``--items`` comma- or
space-separated; ``--items-json`` a JSON list and ``--items-file`` one id per line, for ids that
hold spaces or commas (any UTF-8 text). Ids the
model does not know are ignored (and reported); a user with no known item, or no item at all
(``--items ""``, a blank line of a batch file), gets an error (exit code 1), or with
``--fallback-popular`` the signature's fallback: the most popular training items.
``--batch FILE`` reads one user per line and writes one JSON line per user.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from tfbt import cli_types
from tfbt.serving.format import (
    METADATA_ASSET,
    RECOMMEND_K,
    RECOMMEND_PENALIZED,
    TITLES_ASSET,
    VOCAB_ASSET,
    VOCAB_CHECKSUM_KEY,
    vocabulary_checksum,
)

_CHUNK = 1024  # users per call


class UsageError(ValueError):
    """Bad input: no items, an unreadable batch file, a model folder that is not an export."""


def parse_items(text: str) -> list[str]:
    """Raw ids from ``"1193,661 914"``: comma- or whitespace-separated, empty entries dropped."""
    return [item for item in re.split(r"[,\s]+", text.strip()) if item]


def parse_items_json(text: str) -> list[str]:
    """Raw ids from a JSON list of strings (``'["a b", "c,d"]'``): ids with spaces or commas."""
    try:
        items = json.loads(text)
    except ValueError as err:
        raise UsageError(f"--items-json: not JSON ({err}); expected a list of strings such as "
                         f"'[\"a b\", \"c,d\"]'") from None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise UsageError(f"--items-json: expected a JSON list of strings, got "
                         f"{_quote(json.dumps(items))}")
    return [item for item in items if item]


def read_items_file(path) -> list[str]:
    """One user's raw ids from a UTF-8 file, one id per line (blank lines skipped)."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except OSError as err:
        raise UsageError(f"{path}: cannot read the items file ({err.strerror})") from err
    except UnicodeDecodeError as err:
        raise UsageError(f"{path}: byte {err.start} is not UTF-8; the items file must be UTF-8 "
                         f"text") from None
    return [line.rstrip("\r") for line in text.split("\n") if line.rstrip("\r")]


def _quote(text: str, limit: int = 80) -> str:
    """``repr`` of at most ``limit`` characters of ``text``."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text):,} characters)"


def read_batch(path) -> list[list[str]]:
    """One user per line (a blank line: a user with no items); an empty file or bytes that are
    not UTF-8 are a ``UsageError`` naming the line."""
    try:
        lines = Path(path).read_bytes().splitlines(keepends=True)
    except OSError as err:
        raise UsageError(f"{path}: cannot read the batch file ({err.strerror})") from err
    users, offset = [], 0
    for number, raw in enumerate(lines, 1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as err:
            raise UsageError(f"{path}:{number}: byte {offset + err.start} "
                             f"({raw[err.start:err.end]!r}) is not UTF-8; the batch file must "
                             f"be UTF-8 text") from None
        offset += len(raw)
        users.append(parse_items(line))
    if not users:
        raise UsageError(f"{path}: empty batch file (expected one user per line)")
    return users


def check_request(users: list[list[str]], k: int) -> None:
    """Raises ``UsageError`` for ``k < 1`` or no users."""
    if k < 1:
        raise UsageError(f"-k must be >= 1; got {k}")
    if not users:
        raise UsageError("no users given: pass raw item ids with --items or --batch")


class Recommender:
    """An exported recommender and its assets.

    Args:
      model_dir: ``ROOT/NAME/VERSION``, or ``ROOT/NAME`` for its highest version.
    """

    def __init__(self, model_dir):
        import tensorflow as tf  # here, so that `tfbt recommend --help` answers at once

        from tfbt.data.catalog import read_catalog

        path = Path(model_dir)
        versions = sorted(int(p.name) for p in path.glob("*") if p.is_dir() and p.name.isdigit())
        if not (path / "saved_model.pb").is_file() and versions:
            path = path / str(versions[-1])
        assets = path / "assets"
        if not (path / "saved_model.pb").is_file() or not (assets / METADATA_ASSET).is_file():
            raise UsageError(f"{model_dir}: not a model exported by `tfbt export` (expected "
                             f"saved_model.pb and assets/{METADATA_ASSET})")
        self.path = path
        self.info = json.loads((assets / METADATA_ASSET).read_text(encoding="utf-8"))
        expected = self.info.get(VOCAB_CHECKSUM_KEY)  # None: exported before it was recorded
        if expected and vocabulary_checksum(assets / VOCAB_ASSET) != expected:
            raise UsageError(f"{assets / VOCAB_ASSET} was changed after the export (its SHA-256 "
                             f"differs from the one in {METADATA_ASSET}); the model would "
                             f"answer with other items: export the model again")
        try:
            self.model = tf.saved_model.load(str(path))
        except Exception as err:  # a truncated variables file fails in many ways (IndexError...)
            raise UsageError(f"{path}: the export is damaged, its SavedModel cannot be loaded "
                             f"({type(err).__name__}: {err}); export the model again") from None
        if RECOMMEND_K not in self.model.signatures:
            raise UsageError(f"{path} is a {self.info.get('kind')} export without the "
                             f"{RECOMMEND_K} signature; export a recommender (`tfbt export "
                             f"--kind recommender`)")
        vocabulary = (assets / VOCAB_ASSET).read_text(encoding="utf-8").split("\n")[:-1]
        self.vocabulary = set(vocabulary)
        self.titles = {}
        if (assets / TITLES_ASSET).is_file():
            self.titles = read_catalog(assets / TITLES_ASSET, len(vocabulary)).title_by_raw_id()

    def _entry(self, rank: int, item: str, score: float) -> dict:
        entry = {"rank": rank, "item": item, "score": round(float(score), 6)}
        if item in self.titles:
            entry["title"] = self.titles[item]
        return entry

    def recommend(self, users: list[list[str]], k: int, *, fallback_popular: bool = False,
                  popularity_penalty: float = 0.0) -> list[dict]:
        """Top-``k`` recommendations for each user (a list of raw ids, oldest first).

        Returns one dict per user: ``items`` (the input), ``unknown`` (ids the model ignored),
        ``recommendations`` (``[{"rank", "item", "score", "title"?}]``, the user's own items
        excluded) and ``fallback`` (``"popular"`` when no item was known and
        ``fallback_popular``: the signature's fallback, the most popular training items scored
        by interaction count), or ``error`` when no item was known. ``popularity_penalty`` β > 0
        ranks by ``score - β · log(1 + training count)`` (the export's ``recommend_penalized``).
        """
        import tensorflow as tf

        check_request(users, k)
        signature, extra = RECOMMEND_K, {}
        if popularity_penalty:
            if RECOMMEND_PENALIZED not in self.model.signatures:
                raise UsageError(f"{self.path} has no {RECOMMEND_PENALIZED} signature (exported "
                                 f"before the popularity dial); export it again")
            signature = RECOMMEND_PENALIZED
            extra = {"popularity_penalty": tf.constant(popularity_penalty, tf.float32)}
        results = []
        for start in range(0, len(users), _CHUNK):
            chunk = users[start:start + _CHUNK]
            items = tf.ragged.constant(chunk, dtype=tf.string).to_tensor(default_value="")
            outputs = self.model.signatures[signature](items=items, k=tf.constant(k, tf.int32),
                                                      **extra)
            known = outputs["num_known"].numpy()
            ids = [[b.decode("utf-8") for b in row] for row in outputs["item_ids"].numpy()]
            scores = outputs["scores"].numpy()
            for row, user in enumerate(chunk):
                result = {"items": user,
                          "unknown": [item for item in user if item not in self.vocabulary]}
                if known[row] == 0 and not fallback_popular:
                    result["error"] = (
                        (f"none of the {len(user)} items is in the model's catalogue of "
                         f"{len(self.vocabulary)} items" if user else "no items (an empty "
                         "history)") + "; use --fallback-popular to get the most popular items")
                    results.append(result)
                    continue
                if known[row] == 0:  # the signature answered with its popularity fallback
                    result["fallback"] = "popular"
                result["recommendations"] = [  # "" marks slots beyond the items left
                    self._entry(rank, item, score)
                    for rank, (item, score) in enumerate(zip(ids[row], scores[row]), 1)
                    if item]
                results.append(result)
        return results


def format_table(result: dict) -> str:
    """Human-readable recommendations of one user: rank, raw id, score, title."""
    rows = result["recommendations"]
    width = max([len("item")] + [len(row["item"]) for row in rows])
    titles = any("title" in row for row in rows)
    lines = [f"{'rank':>4}  {'item':<{width}}  {'score':>10}" + ("  title" if titles else "")]
    for row in rows:
        line = f"{row['rank']:>4}  {row['item']:<{width}}  {row['score']:>10.4f}"
        lines.append(line + (f"  {row.get('title', '')}" if titles else ""))
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True,
                        help="an exported recommender: saved_models/NAME/VERSION (or "
                             "saved_models/NAME for its highest version)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--items", help="one user's raw item ids, oldest first, comma- or "
                                        "space-separated (e.g. 1193,661,914)")
    source.add_argument("--batch", metavar="FILE",
                        help="one user per line (raw ids separated by commas or spaces); "
                             "writes one JSON line per user")
    source.add_argument("--items-json", metavar="JSON",
                        help="one user's raw ids as a JSON list, oldest first, for ids with "
                             "spaces or commas (e.g. '[\"a b\", \"c,d\"]')")
    source.add_argument("--items-file", metavar="FILE",
                        help="one user's raw ids, one per line (UTF-8), oldest first")
    parser.add_argument("-k", "--k", type=cli_types.positive_int, default=10,
                        help="number of recommendations (default: %(default)s)")
    parser.add_argument("--fallback-popular", action="store_true",
                        help="recommend the most popular items to a user with no known item "
                             "(default: report an error, exit code 1)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--popularity-penalty", type=cli_types.non_negative_float, default=0.0,
                        metavar="BETA", help="rank by score - BETA * log(1 + training count): "
                        "fewer popular items (0 = the model's own ranking)")


def run(args: argparse.Namespace) -> int:
    try:
        users = (read_batch(args.batch) if args.batch
                 else [parse_items_json(args.items_json)] if args.items_json is not None
                 else [read_items_file(args.items_file)] if args.items_file is not None
                 else [parse_items(args.items)])
        check_request(users, args.k)  # before the (slower) model load
        results = Recommender(args.model).recommend(
            users, args.k, fallback_popular=args.fallback_popular,
            popularity_penalty=args.popularity_penalty)
    except UsageError as err:
        print(f"tfbt recommend: error: {err}", file=sys.stderr)
        return 2
    for result in results:
        if args.batch or args.json:
            print(json.dumps(result))
            continue
        if result["unknown"]:
            print(f"ignored {len(result['unknown'])} unknown item(s): "
                  f"{', '.join(result['unknown'])}", file=sys.stderr)
        if "error" in result:
            print(f"tfbt recommend: {result['error']}", file=sys.stderr)
            continue
        if result.get("fallback"):
            print("no known item: the most popular items (score = interactions)",
                  file=sys.stderr)
        print(format_table(result))
    return 1 if any("error" in result for result in results) else 0
