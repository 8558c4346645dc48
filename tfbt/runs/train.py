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
from tfbt.data.catalog import item_genres
from tfbt.runs import environment, layout, preflight
from tfbt.runs.config import TrainConfig

# TensorFlow, Keras and the models are imported by the functions that use them, so that
# importing this module (`tfbt train-dual-encoder` reuses its helpers) stays cheap.


def build_model(config: TrainConfig, metadata, item_counts=None):
    """The compiled, built ``SequentialRecommender`` for a resolved ``config`` on the dataset
    of ``metadata`` (``tfbt.models.builders.sequential_recommender`` with its settings)."""
    from tfbt.models.builders import SETTINGS, sequential_recommender

    return sequential_recommender(metadata, item_counts=item_counts, **{
        name: value for name, value in dataclasses.asdict(config).items() if name in SETTINGS})


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
    return data.next_item_dataset(
        config.data, batch_size=config.batch_size, max_len=config.max_len,
        twins=config.twins if config.alpha > 0 else None, no_twin=config.no_twin,
        seed=config.seed, protocol=config.temporal_options() or config.split,
        users=training_users(config, metadata), drop_remainder=config.jit_compile,
        metadata=metadata)


def evaluation_dataset(config: TrainConfig, metadata, split: str):
    """Evaluation batches (history, target, seen) of the ``valid`` or ``test`` split."""
    return data.evaluation_dataset(config.data, split,
                                   protocol=config.temporal_options() or config.split,
                                   max_len=config.max_len, batch_size=config.eval_batch_size,
                                   metadata=metadata)


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
    genres = item_genres(config.data, metadata)
    with strategy.scope():
        model = build_model(config, metadata, item_counts=counts)
    if config.init_from:
        from tfbt.runs.init_from import initialize_from_pretraining

        initialize_from_pretraining(model.encoder, config.init_from, config.data)
    from tfbt.evaluation import FullRankingEarlyStopping, full_ranking
    from tfbt.runs import workers
    from tfbt.runs.callbacks import run_callbacks, stopped_on_nan

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
