"""``tfbt demo``: the whole pipeline on the embedded synthetic dataset, in a few minutes on a CPU.

1. synthetic log -> TFRecords (+ statistics); 2. Barlow Twins pretraining of a CNN encoder;
3. a linear probe of the planted favourite genre, pretrained vs randomly initialised encoder;
4. next-item training of SASRec (alpha 0) and BT-SR; 5. a test-split evaluation table (full
ranking, seen items removed) with the most-popular baseline; 6. a SavedModel export of the model
with the better validation NDCG@10; 7. a sample recommendation through that export; 8. a plot.
Everything lands in ``--output``, with every stage's numbers and timings in ``summary.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shlex
import time
from pathlib import Path

from tfbt import cli_types


@dataclasses.dataclass(frozen=True)
class DemoSize:
    """Sizes that keep each demo within its time budget on a 2-core CPU."""

    synthetic: dict  # SyntheticConfig overrides
    pretrain_epochs: int
    train_epochs: int  # SASRec / BT-SR epochs, validated after each; the best one is kept
    train_batch_size: int


DEMO_SIZES = {
    "full": DemoSize(dict(num_users=3000, num_items=800, mean_length=40), 10, 6, 128),
    "small": DemoSize(dict(num_users=600, num_items=200, mean_length=30), 4, 3, 64),
}
# On the Zbontar scale (BT_FORM: terms not divided by D), a tenth of the value tuned on Beauty for
# long runs: in these few epochs 0.02 stalls the next-item loss; 0.002 lets it learn almost as
# fast as SASRec.
BTSR_ALPHA = 0.002
BT_FORM = "zbontar"
MAX_LEN = 50
K = 10
TABLE_COLUMNS = ("NDCG@10", "HR@10", "MRR", "coverage@10", "long_tail@10", "effective_rank")
EXPORT_NAME, EXPORT_VERSION = "demo_recommender", 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", default="tfbt-demo", help="folder for every demo artefact")
    parser.add_argument("--size", choices=sorted(DEMO_SIZES), default="full",
                        help="'small' runs in about a minute (used by CI); 'full' in under 5")
    parser.add_argument("--seed", type=cli_types.non_negative_int, default=0)
    parser.add_argument("--overwrite", action="store_true",
                        help="rebuild the synthetic dataset and retrain (by default a rerun "
                        "reuses the dataset and the finished runs of the same settings)")


@contextlib.contextmanager
def _stage(title: str, key: str, seconds: dict):
    """Prints the stage header and records its wall time under ``seconds[key]``."""
    print(f"\n== {len(seconds) + 1}. {title} ==", flush=True)
    started = time.time()
    yield
    seconds[key] = round(time.time() - started, 1)


def build_data(data_dir: Path, size: DemoSize, seed: int, overwrite: bool) -> dict:
    """Writes the synthetic log through the real builder, so the rest runs as on MovieLens."""
    from tfbt.data.synthetic import SyntheticConfig, write_synthetic
    from tfrecords_builder.cli import dataset_statistics, format_statistics

    reused = not overwrite and (data_dir / "metadata.json").is_file()
    if not reused:
        write_synthetic(data_dir, SyntheticConfig(seed=seed, **size.synthetic),
                        overwrite=overwrite)
    stats = dataset_statistics(data_dir)
    print(format_statistics(data_dir, stats, verb="reused" if reused else "wrote"))
    return {k: stats[k] for k in ("users", "items", "interactions")}


def pretrain_encoder(data_dir: Path, output: Path, size: DemoSize, seed: int, overwrite: bool):
    """Barlow Twins on two segment-masked views of each user: no labels are used."""
    from tfbt.runs import layout
    from tfbt.runs.pretrain import PretrainConfig, pretrain

    config = PretrainConfig(data=str(data_dir), output=str(output), max_len=MAX_LEN,
                            batch_size=128, epochs=size.pretrain_epochs, learning_rate=2e-3,
                            projector=(256, 256), seed=seed)
    saved = layout.read_json(output / layout.CONFIG_FILE)
    if (not overwrite and (output / layout.ENCODER_FILE).is_file() and saved is not None
            and not layout.config_differences(saved, dataclasses.asdict(config))):
        print(f"reusing the finished pretraining run in {output}")
        encoder = layout.load_encoder(output)
        history = layout.read_json(output / layout.HISTORY_FILE)
    else:
        encoder, history = pretrain(config, overwrite=overwrite, verbose=2)
    return encoder, config, {"epochs": size.pretrain_epochs, "loss": history["loss"],
                             "final_loss": history["loss"][-1],
                             "embedding_std": history["embedding_std"][-1]}


def probe_genre(encoder, config, metadata, seed: int) -> dict:
    """The planted taste should be more decodable after pretraining than from random weights."""
    import keras

    from tfbt.downstream import probe_label
    from tfbt.models import encoder_model
    from tfbt.runs.pretrain import build_pretrainer

    keras.utils.set_random_seed(seed)
    untrained = build_pretrainer(config, metadata)
    untrained.build((None, config.max_len))
    encoders = {"bt_pretrained": encoder,
                "random_init": encoder_model(untrained.encoder, config.max_len)}
    probe = {name: probe_label(model, config.data, "favorite_genre", max_len=config.max_len,
                               seed=seed, metadata=metadata)["accuracy"]
             for name, model in encoders.items()}
    for name, accuracy in probe.items():
        print(f"  {name:<14} accuracy {accuracy:.3f}")
    probe["chance"] = 1 / len(metadata.labels["favorite_genre"])
    return probe


def train_recommenders(data_dir: Path, output: Path, size: DemoSize, seed: int,
                       overwrite: bool) -> dict:
    """SASRec and BT-SR with identical settings, so the BT term is the only difference."""
    from tfbt.runs.sweep import finished_run
    from tfbt.runs.train import TrainConfig, train

    runs = {}
    for name, alpha in (("sasrec", 0.0), ("btsr", BTSR_ALPHA)):
        config = TrainConfig(
            data=str(data_dir), output=str(output / name), model=name, alpha=alpha,
            max_len=MAX_LEN, hidden_dim=64, num_blocks=1, batch_size=size.train_batch_size,
            epochs=size.train_epochs, patience=size.train_epochs, learning_rate=5e-3,
            seed=seed, bt_form=BT_FORM)
        runs[name] = None if overwrite else finished_run(config)
        if runs[name] is None:
            print(f"-- {name} (alpha {alpha:g}) -> {output / name}", flush=True)
            runs[name] = train(config, overwrite=overwrite, verbose=2)
        else:
            print(f"-- {name}: reusing the finished run in {output / name}", flush=True)
    return runs


def evaluation_table(data_dir: Path, runs: dict) -> dict:
    """Test metrics of each model next to the most-popular floor, under one protocol."""
    from tfbt import data
    from tfbt.data.catalog import item_genres
    from tfbt.evaluation import most_popular_baseline
    from tfbt.runs.config import PROTOCOL

    metadata = data.load_metadata(data_dir)
    counts = data.item_counts(data_dir, metadata=metadata)
    genres = item_genres(data_dir, metadata)

    def popular(split):  # popularity counted on the training part only, as train() does
        batches = data.evaluation_dataset(data_dir, split, max_len=MAX_LEN, metadata=metadata)
        return most_popular_baseline(batches, counts,
                                     num_items=metadata.num_items, item_genres=genres,
                                     progress=False)

    rows = {"most_popular": popular("test"), **{name: run["test"] for name, run in runs.items()}}
    rows = {name: {c: row[c] for c in TABLE_COLUMNS if c in row} for name, row in rows.items()}
    print(f"test split, {PROTOCOL}")
    print(f"{'model':<14}" + "".join(f"{c:>16}" for c in TABLE_COLUMNS))
    for name, row in rows.items():
        print(f"{name:<14}" + "".join(f"{row[c]:>16.4f}" if c in row else f"{'-':>16}"
                                      for c in TABLE_COLUMNS))
    return {"split": "test", "protocol": PROTOCOL, "rows": rows,
            "most_popular_valid_NDCG@10": popular("valid")["NDCG@10"]}


def export_best(train_dir: Path, root: Path, runs: dict):
    """Publishes the model with the better validation (never test) NDCG@10 for TF Serving;
    version 1 is replaced on a rerun."""
    from tfbt.serving.export import export_recommender

    best = max(runs, key=lambda name: runs[name]["valid"]["NDCG@10"])
    export = export_recommender(train_dir / best, EXPORT_NAME, root=root, version=EXPORT_VERSION,
                                k=K, overwrite=True)
    print(f"exported {best} (better validation NDCG@10) to {export.path}")
    return {"model": best, "path": str(export.path), "version": export.version}


def recommend_command(export_path: str, history: list[str]) -> str:
    """The ``tfbt recommend`` command line that asks the export about the last items of a real
    user's history (raw ids, oldest first)."""
    return shlex.join(["tfbt", "recommend", "--model", export_path, "--items",
                       ",".join(history[-5:]), "-k", str(K)])


def sample_recommendation(data_dir: Path, export_path: str) -> dict:
    """Asks the export, as a client of TF Serving would (raw ids in and out), for one test
    user's next items; the held-out last item is not in the input, so it can be looked for."""
    from tfbt import data
    from tfbt.data.catalog import read_catalog
    from tfbt.serving.client import Recommender, format_table
    from tfrecords_builder import schema

    metadata = data.load_metadata(data_dir)
    user = next(iter(data.make_dataset(data_dir, mode="eval", split="test", batch_size=1,
                                       labels=["favorite_genre"], deterministic=True,
                                       metadata=metadata)))
    vocab = schema.read_vocab(data_dir)
    history = [vocab[i - 1] for i in user["seen"][0].numpy()]
    held_out = vocab[int(user["target"][0]) - 1]
    genre = metadata.labels["favorite_genre"][int(user["favorite_genre"][0])]
    recommender = Recommender(export_path)
    recommendations = recommender.recommend([history], K)[0]["recommendations"]
    genres = {}
    if metadata.item_genres:
        catalog = read_catalog(data_dir / schema.ITEM_INFO_FILE, metadata.num_items)
        genres = {raw: "|".join(names) for raw, names in zip(catalog.raw_ids, catalog.genres)}
    for row in recommendations:
        row["genres"] = genres.get(row["item"], "")
    print(f"user {int(user['user_id'][0])} (favourite genre {genre}), last of "
          f"{len(history)} items: " + ", ".join(recommender.titles.get(i, i) for i in history[-3:]))
    print(format_table({"recommendations": [
        {**row, "title": f"{row.get('title', '')}  [{row['genres']}]" if row["genres"]
         else row.get("title", "")} for row in recommendations]}))
    ranked = [row["item"] for row in recommendations]
    rank = ranked.index(held_out) + 1 if held_out in ranked else None
    print(f"held-out next item {held_out}: " + (f"rank {rank}" if rank else f"not in the top {K}"))
    return {"user_id": int(user["user_id"][0]), "favorite_genre": genre, "history": history,
            "held_out": held_out, "held_out_rank": rank, "k": K,
            "recommendations": recommendations}


def run(args: argparse.Namespace) -> int:
    from tfbt import data
    from tfbt.demo.plot import PLOT_FILE, plot_summary
    from tfbt.runs import layout

    started = time.time()
    output = Path(args.output)
    # One dataset per size and seed: a rerun reuses exactly the data it would generate.
    data_dir, size = output / "data" / f"{args.size}-seed{args.seed}", DEMO_SIZES[args.size]
    seconds: dict = {}
    summary: dict = {"size": args.size, "seed": args.seed}

    with _stage("synthetic interaction log -> TFRecords", "data", seconds):
        summary["dataset"] = build_data(data_dir, size, args.seed, args.overwrite)
    with _stage("Barlow Twins pretraining (CNN encoder, segment masking p=0.2)", "pretraining",
                seconds):
        encoder, config, summary["pretraining"] = pretrain_encoder(
            data_dir, output / "pretrain", size, args.seed, args.overwrite)
    with _stage("linear probe: favourite genre from the frozen representation", "probe",
                seconds):
        summary["favorite_genre_probe_accuracy"] = probe_genre(
            encoder, config, data.load_metadata(data_dir), args.seed)
    with _stage(f"next-item training: SASRec and BT-SR (alpha {BTSR_ALPHA:g})", "training",
                seconds):
        runs = train_recommenders(data_dir, output / "train", size, args.seed, args.overwrite)
        summary["training"] = {name: {
            "alpha": run["config"]["alpha"], "epochs_run": run["epochs_run"],
            "best_epoch": run["best_epoch"], "train_time_s": run["train_time_s"],
            "validation_NDCG@10": [e["NDCG@10"] for e in run["validation_curve"]],
            "run": str(output / "train" / name)} for name, run in runs.items()}
    with _stage("evaluation table", "evaluation", seconds):
        summary["evaluation"] = evaluation_table(data_dir, runs)
    with _stage("SavedModel export (checked in a fresh process)", "export", seconds):
        summary["export"] = export_best(output / "train", output / "saved_models", runs)
    with _stage("a sample recommendation through the export", "recommendation", seconds):
        summary["sample_recommendation"] = sample_recommendation(data_dir,
                                                                 summary["export"]["path"])
    with _stage("plot", "plot", seconds):
        summary["plot"] = str(output / PLOT_FILE)
        plot_summary(summary, output / PLOT_FILE)
        print(f"wrote {output / PLOT_FILE}")

    summary["recommend_command"] = recommend_command(
        summary["export"]["path"], summary["sample_recommendation"]["history"])
    summary["seconds"] = {**seconds, "total": round(time.time() - started, 1)}
    layout.write_json(output / "summary.json", summary)
    print(f"\ndone in {summary['seconds']['total']} s; summary in {output / 'summary.json'}")
    print(f"next: the exported model's top {K} after the last items of that user:\n"
          f"  {summary['recommend_command']}")
    return 0
