"""What the shard checksums (``metadata.json`` ``shard_crc32``) cost: CRC-32 of one big shard
against opening the dataset and against reading the same shard once through ``tf.data``.

Writes a dataset of ``--users`` synthetic users with ``--mean-length`` items each as ONE shard
through the real builder (so the shard is a real TFRecord file), then times, best of
``--repeats``: ``Metadata.load`` (what every open costs: sizes and the vocabulary line count),
``Metadata.verify_shards`` (``tfbt build --verify``, the start of ``tfbt train``/``pretrain``) and
one pass of ``tf.data.TFRecordDataset`` over the shard (a lower bound on an epoch's reading).

    python bench/bench_checksum.py                    # ~15M interactions, a ~100 MB shard
    python bench/bench_checksum.py --users 2000      # quick

Prints JSON and writes it to ``--out`` (default bench/results/checksum.json).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from common import best_of, write_report

from tfrecords_builder import schema
from tfrecords_builder.build import BuildOptions, build
from tfrecords_builder.raw import RawDataset


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=150_000)
    parser.add_argument("--mean-length", type=int, default=100)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench/results/checksum.json")
    args = parser.parse_args(argv)

    import tensorflow as tf

    rng = np.random.default_rng(args.seed)
    lengths = rng.integers(1, 2 * args.mean_length, args.users)
    users = np.repeat(np.arange(args.users), lengths)
    frame = pd.DataFrame({"user": users, "item": rng.integers(0, args.items, len(users)),
                          "timestamp": np.arange(len(users), dtype=np.int64),
                          "rating": np.nan})
    raw = RawDataset(interactions=frame, source_format="bench", source_files=[],
                     has_timestamps=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "d"
        meta = build(raw, out, BuildOptions(num_shards=1), progress=False)
        shard = out / meta.shards[0]
        size = shard.stat().st_size
        load_s = best_of(args.repeats, lambda: schema.Metadata.load(out))
        verify_s = best_of(args.repeats, lambda: meta.verify_shards(out))
        read_s = best_of(args.repeats, lambda: sum(1 for _ in tf.data.TFRecordDataset(
            str(shard), buffer_size=1 << 20).batch(4096)))
    result = {
        "seed": args.seed, "users": args.users, "interactions": int(len(users)),
        "shard_bytes": size,
        "metadata_load_s": round(load_s, 4),
        "verify_shards_s": round(verify_s, 3),
        "verify_MB_per_s": round(size / verify_s / 1e6, 1),
        "tfrecord_read_s": round(read_s, 3),
    }
    return write_report(result, args.out)


if __name__ == "__main__":
    main()
