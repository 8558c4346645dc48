"""``tfbt pretrain``: Barlow Twins pretraining of a user-sequence encoder (Liu et al. 2025).

Writes a run folder: ``encoder.keras`` (the encoder alone, ``items [B, max_len] -> [B, D]``,
for downstream tasks), ``config.json``, ``history.json``, ``tensorboard/`` and, while running,
``backup/`` so that a killed run started again with the same arguments resumes where it stopped.

The settings are ``tfbt.runs.config.PretrainConfig``; the command line is ``tfbt.runs.commands``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras

from tfbt import data
from tfbt.data.augment import SequenceAugmenter
from tfbt.layers import ProjectorMLP
from tfbt.layers.encoders import build_encoder
from tfbt.models import BarlowTwinsPretrainer, encoder_model
from tfbt.runs import environment, layout, preflight, workers
from tfbt.runs.callbacks import CollapseMonitor, run_callbacks, stopped_on_nan
from tfbt.runs.config import PretrainConfig


def build_pretrainer(config: PretrainConfig, metadata) -> BarlowTwinsPretrainer:
    """The compiled pretrainer for ``config`` on a dataset described by ``metadata``."""
    encoder_args = dict(config.encoder_args)
    if config.encoder == "sasrec":
        encoder_args.setdefault("return_sequences", False)
    encoder = build_encoder(config.encoder, metadata.vocab_size, config.max_len, **encoder_args)
    model = BarlowTwinsPretrainer(
        encoder,
        SequenceAugmenter(config.augment, mask_id=metadata.mask_id),
        ProjectorMLP(config.projector),
        lambd=config.lambd, lambda_on=config.lambda_on, seed=config.seed,
        length_chunks=0 if config.jit_compile else config.length_chunks)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate),
                  jit_compile=config.jit_compile)
    return model


def pretrain(config: PretrainConfig, *, overwrite: bool = False, callbacks=(),
             verbose="auto", allow_collapse: bool = False) -> tuple[keras.Model, dict]:
    """Runs pretraining; returns the encoder model and the training history.

    The encoder is saved to ``output/encoder.keras`` (multi-worker: by the chief only, see
    ``tfbt.runs.workers``). The folder follows ``layout.run_folder``:
    a finished run there is refused unless ``overwrite``; a run interrupted before the end
    resumes from its last finished epoch when called again with the same config; a run that
    fails removes what it created. A run whose representations collapsed by the last epoch
    (``CollapseError``) saves no encoder unless ``allow_collapse``.
    """
    strategy = environment.make_strategy(config.strategy)  # multi-worker: before any op
    with workers.run_output(config.output, environment.cluster_or_none(strategy)) as output, \
            layout.run_folder(output, dataclasses.asdict(config),
                              finished=(layout.ENCODER_FILE,), overwrite=overwrite,
                              command="pretrain"):
        return _pretrain(config, output=output, strategy=strategy, callbacks=callbacks,
                         verbose=verbose, allow_collapse=allow_collapse)


class CollapseError(ValueError):
    """Pretraining ended with collapsed representations (every user nearly the same point)."""


def check_collapse(history: dict) -> None:
    """Raises ``CollapseError`` when the last epoch's ``embedding_std`` is below the collapse
    monitor's threshold."""
    values = history.get("embedding_std") or []
    threshold = CollapseMonitor().threshold
    if values and values[-1] < threshold:
        raise CollapseError(
            f"the representations collapsed: embedding_std {values[-1]:.4g} < {threshold:g} at "
            f"the last epoch ({len(values)}), every user maps to nearly the same point; no "
            f"encoder was saved. Lower --learning-rate, raise --batch-size or change --lambd, "
            f"or pass --allow-collapse to keep it")


def _pretrain(config: PretrainConfig, *, output: Path, strategy, callbacks, verbose,
              allow_collapse: bool) -> tuple[keras.Model, dict]:
    """``pretrain`` in a prepared run folder (multi-worker: the chief's, or a temporary one)."""
    metadata = data.load_metadata(config.data)
    metadata.verify_shards(config.data)  # flipped bytes: a clear error now, not mid-training
    if metadata.num_users < config.batch_size:
        raise ValueError(f"{config.data} has {metadata.num_users} users, fewer than one batch "
                         f"of {config.batch_size}; lower --batch-size")
    preflight.check_pretrain(config, metadata)
    environment.set_seed(config.seed, deterministic=not config.jit_compile)
    layout.write_json(output / layout.CONFIG_FILE, dataclasses.asdict(config))
    dataset = data.make_dataset(
        config.data, mode="sequence", batch_size=config.batch_size, max_len=config.max_len,
        shuffle=True, seed=config.seed, repeat=config.steps_per_epoch is not None,
        drop_remainder=True, metadata=metadata)
    with strategy.scope():
        model = build_pretrainer(config, metadata)
        model.build((None, config.max_len))
    with workers.peers_watched(strategy):
        history = model.fit(
            dataset, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch,
            verbose=verbose,
            shuffle=False,  # the dataset shuffles itself (Keras would warn that it ignores True)
            callbacks=workers.callbacks_for(
                strategy, [*run_callbacks(output, monitor_collapse=True), *callbacks]))
    if stopped_on_nan(history):
        raise FloatingPointError(
            f"pretraining stopped: the loss became NaN/inf ({history.history['loss'][-1]}); "
            f"lower --learning-rate or --lambd")
    if not allow_collapse:
        check_collapse(history.history)
    encoder = encoder_model(model.encoder, config.max_len)
    if not workers.is_chief(strategy):
        return encoder, history.history  # the chief writes the run folder
    encoder.save(output / layout.ENCODER_FILE)
    layout.write_json(output / layout.HISTORY_FILE, history.history)
    return encoder, history.history
