"""``tfbt train``: next-item training of SASRec or BT-SR, judged by full-ranking evaluation.

The model is a ``tfbt.models.sequential.SequentialRecommender``: ``--model sasrec`` is SASRec with a
softmax loss (``--loss full|sampled|sce``); ``--model btsr --alpha A`` adds ``A ·`` Barlow Twins on
twin pairs (``tfbt.data.btsr_pairs``). Every ``--eval-every`` epochs the validation split is ranked against
the whole catalogue (seen items removed); training stops after ``--patience`` evaluations without
a better validation NDCG@10 and the best weights come back. The test split is evaluated once, at
the end, with those weights. Model selection never looks at the test split.

The run folder holds ``model.keras`` (the trained model, best weights), ``results.json`` (valid
and test metrics, config, seed, epochs, wall time), ``config.json``, ``history.json``,
``tensorboard/``, ``validation.json`` and ``best.weights.h5`` (the early-stopping state), and,
while running, ``backup/``: the same command started again resumes where it stopped.

The settings are ``tfbt.runs.config.TrainConfig``; the command line is ``tfbt.runs.commands``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from tfbt import data
from tfbt.data import splits
from tfbt.data.catalog import read_catalog
from tfbt.runs import environment, layout, preflight
from tfbt.runs.config import TrainConfig
from tfrecords_builder import schema

# TensorFlow, Keras and the models are imported by the functions that use them, so that
# importing this module (`tfbt train-dual-encoder` reuses its helpers) stays cheap.


def sce_buckets(config: TrainConfig, metadata) -> tuple[int, int]:
    """SCE's ``(n_b, b_x)``: the config's, or by default ``sce_bucket_size`` of the batch and
    the dataset's mean training positions per user (mean length less the two held-out items,
    at most ``max_len``)."""
    from tfbt.losses.next_item import sce_bucket_size

    positions = min(config.max_len, max(1.0, metadata.num_interactions / metadata.num_users
                                        - splits.HELD_OUT))
    default = sce_bucket_size(config.batch_size, positions)
    return (config.num_buckets or default, config.bucket_size_x or default)


def build_model(config: TrainConfig, metadata, item_counts=None):
    """The compiled, built ``SequentialRecommender`` for a resolved ``config`` on the dataset
    of ``metadata``."""
    import keras

    from tfbt.layers.encoders import SASRecEncoder
    from tfbt.losses.next_item import NextItemLoss
    from tfbt.models.sequential import SequentialRecommender

    encoder = SASRecEncoder(metadata.vocab_size, config.max_len, hidden_dim=config.hidden_dim,
                            num_blocks=config.num_blocks, num_heads=config.num_heads,
                            dropout=config.dropout)
    num_buckets, bucket_size_x = sce_buckets(config, metadata)
    loss = NextItemLoss(config.loss, num_items=metadata.num_items,
                        num_negatives=config.num_negatives, sampler=config.sampler,
                        num_buckets=num_buckets, bucket_size_x=bucket_size_x,
                        bucket_size_y=config.bucket_size_y, ce_chunk_rows=config.ce_chunk_rows)
    model = SequentialRecommender(encoder, loss, alpha=config.alpha, lambd=config.lambd,
                                  lambda_on=config.lambda_on, seed=config.seed,
                                  length_chunks=config.length_chunks, bt_form=config.bt_form,
                                  dropout_pair_weight=config.dropout_pair_weight)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate,
                                                  beta_2=config.adam_beta2),
                  jit_compile=config.jit_compile)
    model.build((None, config.max_len))
    if item_counts is not None:
        loss.set_item_counts(item_counts)
    return model


def training_users(config: TrainConfig, metadata):
    """The user ids whose sequences train (``--train-fraction``: a ``config.seed``-ed subset,
    nested across fractions), or None for all; every user is still validated and tested."""
    if config.train_fraction >= 1:
        return None
    import numpy as np

    from tfbt.downstream.users import label_subset

    return label_subset(np.arange(1, metadata.num_users + 1), config.train_fraction,
                        seed=config.seed)


def training_dataset(config: TrainConfig, metadata):
    """Shuffled next-item batches (with twins for BT-SR), seeded by ``config.seed``."""
    dataset = data.make_dataset(config.data, mode="next_item", batch_size=config.batch_size,
                                max_len=config.max_len, shuffle=True, seed=config.seed,
                                drop_remainder=config.jit_compile, metadata=metadata,
                                temporal=config.temporal_options(),
                                users=training_users(config, metadata))
    if config.alpha > 0:
        from tfbt.data import btsr_pairs

        dataset = btsr_pairs.add_twins(dataset, config.data, max_len=config.max_len,
                                  seed=config.seed, metadata=metadata, policy=config.twins,
                                  no_twin=config.no_twin, temporal=config.temporal_options())
    return dataset


def evaluation_dataset(config: TrainConfig, metadata, split: str):
    """Evaluation batches (history, target, seen) of the ``valid`` or ``test`` split."""
    return data.make_dataset(config.data, mode="eval", split=split,
                             batch_size=config.eval_batch_size, max_len=config.max_len,
                             metadata=metadata, temporal=config.temporal_options())


def load_item_genres(data_dir, metadata) -> tuple[tuple[str, ...], ...] | None:
    """Item genres from the dataset's catalogue (entry i = item i), or None without genres."""
    if not metadata.item_genres:
        return None
    return read_catalog(Path(data_dir) / schema.ITEM_INFO_FILE, metadata.num_items).genres


def full_ranking(model, dataset, num_items, **kwargs) -> dict:
    """``evaluate_full_ranking`` of a ``SequentialRecommender`` (scores ``u · Eᵀ``)."""
    from tfbt.evaluation.ranking import evaluate_full_ranking

    return evaluate_full_ranking(model.user_embeddings, model.item_embeddings, dataset,
                                 num_items=num_items, **kwargs)


def train(config: TrainConfig, *, overwrite: bool = False, callbacks=(),
          verbose="auto") -> dict | None:
    """Trains, selects the epoch by validation, evaluates the test split; returns the results.

    The results dict is also written to ``output/results.json`` and the model to
    ``output/model.keras``. The folder follows ``layout.run_folder``: a finished run there is
    refused unless ``overwrite``, an unfinished one resumes only with the same config, and a
    run that fails removes what it created. Under ``strategy="multi-worker"`` only the chief
    validates and writes ``output`` (``tfbt.runs.workers``); the other workers return ``None``.
    """
    from tfbt.runs import workers

    started = time.time()
    config = config.resolved()
    strategy = environment.make_strategy(config.strategy)  # multi-worker: before any op
    with workers.run_output(config.output, environment.cluster_or_none(strategy)) as output, \
            layout.run_folder(output, dataclasses.asdict(config),
                              finished=(layout.MODEL_FILE, layout.RESULTS_FILE),
                              overwrite=overwrite, command="train") as resume:
        return _train(config, output=output, strategy=strategy, resume=resume,
                      started=started, callbacks=callbacks, verbose=verbose)


def _train(config: TrainConfig, *, output: Path, strategy, resume: bool, started: float,
           callbacks, verbose) -> dict | None:
    """``train`` in a prepared run folder (``resume``: continue its ``backup/``); ``None``
    on a multi-worker run's workers other than the chief."""
    metadata = data.load_metadata(config.data)
    metadata.verify_shards(config.data)  # flipped bytes: a clear error now, not mid-training
    preflight.check_train(config, metadata, training_users(config, metadata))
    environment.set_seed(config.seed, deterministic=not config.jit_compile)
    layout.write_json(output / layout.CONFIG_FILE, dataclasses.asdict(config))
    counts = data.item_counts(config.data, metadata=metadata,
                              temporal=config.temporal_options())
    genres = load_item_genres(config.data, metadata)
    with strategy.scope():
        model = build_model(config, metadata, item_counts=counts)
    if config.init_from:
        from tfbt.runs.init_from import initialize_from_pretraining

        initialize_from_pretraining(model.encoder, config.init_from, config.data)
    from tfbt.runs import workers
    from tfbt.runs.callbacks import (
        FullRankingEarlyStopping,
        run_callbacks,
        stopped_on_nan,
    )

    validation = evaluation_dataset(config, metadata, "valid")
    early_stopping = FullRankingEarlyStopping(
        validation, num_items=metadata.num_items, state_dir=output, every=config.eval_every,
        rule=config.selection_rule(), item_counts=counts, resume=resume)
    with workers.peers_watched(strategy):
        history = model.fit(
            training_dataset(config, metadata), epochs=config.epochs, verbose=verbose,
            shuffle=False, callbacks=workers.callbacks_for(
                strategy, [early_stopping, *run_callbacks(output), *callbacks],
                chief_only=[early_stopping]))
    if not workers.is_chief(strategy):
        return None  # the chief validates, tests and writes the run folder
    if stopped_on_nan(history):
        raise FloatingPointError(
            f"training stopped: the loss became NaN/inf ({history.history['loss'][-1]}); "
            f"lower --learning-rate or --alpha")
    train_seconds = time.time() - started
    if early_stopping.state["best_epoch"] is None:
        raise ValueError(f"no validation evaluation ran: --epochs {config.epochs} is below "
                         f"--eval-every {config.eval_every}")
    evaluation = dict(num_items=metadata.num_items, item_counts=counts, item_genres=genres,
                      progress=False)
    valid = full_ranking(model, validation, **evaluation)
    test = full_ranking(model, evaluation_dataset(config, metadata, "test"), **evaluation)
    model.save(output / layout.MODEL_FILE)
    results = {
        "config": dataclasses.asdict(config),
        "seed": config.seed,
        "data": {"path": str(config.data), "num_users": metadata.num_users,
                 "num_items": metadata.num_items,
                 "num_interactions": metadata.num_interactions,
                 "sources": metadata.sources},
        "protocol": config.protocol(),
        "epochs_run": early_stopping.state["epochs"],
        "best_epoch": early_stopping.state["best_epoch"],
        "selection": {**config.selection_rule().describe(),
                      "chosen_epoch": early_stopping.state["best_epoch"],
                      "best_monitor_epoch": early_stopping.state["best_monitor_epoch"]},
        "wall_time_s": round(time.time() - started, 1),
        "train_time_s": round(train_seconds, 1),
        "valid": valid,
        "test": test,
        "validation_curve": early_stopping.state["evaluations"],
    }
    layout.write_json(output / layout.HISTORY_FILE, history.history)
    layout.write_json(output / layout.RESULTS_FILE, results)
    return results
