"""``tfbt train --init-from RUN``: start SASRec from a Barlow Twins pretraining of its encoder.

``tfbt pretrain --encoder sasrec`` trains a ``SASRecEncoder`` with Barlow Twins (Liu et al.'s
augmentations); its ``encoder.keras`` holds the same layers as the recommender's encoder. The
weights are copied layer by layer (item and position embeddings, every transformer block, the
final norm) after checking that the architecture and the item vocabulary are the same (item j
must mean the same item in both). Dropout and ``return_sequences`` may differ: they own no
weights.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tfbt.layers.encoders import SASRecEncoder
from tfbt.runs import layout
from tfbt.runs.layout import load_encoder
from tfrecords_builder import schema

ARCHITECTURE = ("vocab_size", "max_len", "hidden_dim", "num_blocks", "num_heads",
                "intermediate_dim", "activation")


def initialize_from_pretraining(encoder: SASRecEncoder, run: str | os.PathLike,
                                data_dir: str | os.PathLike) -> dict[str, int]:
    """Copies the pretrained ``SASRecEncoder`` of ``run`` into the built ``encoder``.

    Args:
      encoder: the recommender's encoder (built).
      run: a ``tfbt pretrain --encoder sasrec`` run folder.
      data_dir: the dataset ``encoder`` trains on (its ``item_vocab.txt`` must equal the
        pretraining dataset's).

    Returns:
      ``{layer name: number of weight arrays copied}``.
    """
    run = Path(run)
    found = [layer for layer in load_encoder(run).layers if isinstance(layer, SASRecEncoder)]
    if not found:
        raise ValueError(f"--init-from {run}: its encoder is not a SASRecEncoder; pretrain one "
                         f"with `tfbt pretrain --encoder sasrec`")
    source = found[0]
    theirs, ours = source.get_config(), encoder.get_config()
    different = [f"{key} {theirs.get(key)!r} (pretrained) vs {ours.get(key)!r} (this run)"
                 for key in ARCHITECTURE if theirs.get(key) != ours.get(key)]
    if different:
        raise ValueError(f"--init-from {run}: the architecture differs: {'; '.join(different)}")
    _check_same_vocabulary(run, Path(data_dir))
    pairs = [(source.item_embedding, encoder.item_embedding),
             (source.position_embedding, encoder.position_embedding),
             *zip(source.blocks, encoder.blocks), (source.final_norm, encoder.final_norm)]
    copied = {}
    for pretrained, target in pairs:
        weights = pretrained.get_weights()
        shapes = [w.shape for w in weights], [tuple(w.shape) for w in target.get_weights()]
        if shapes[0] != shapes[1]:
            raise ValueError(f"--init-from {run}: layer {target.name} has weights {shapes[1]}, "
                             f"the pretrained one {shapes[0]}")
        target.set_weights(weights)
        copied[target.name] = len(weights)
    return copied


def _check_same_vocabulary(run: Path, data_dir: Path):
    """The pretraining dataset (``run/config.json`` ``data``) and ``data_dir`` must list the
    same items in the same order."""
    config_file = run / layout.CONFIG_FILE
    if not config_file.is_file():
        raise ValueError(f"--init-from {run}: no {layout.CONFIG_FILE}, so its dataset (and item "
                         f"vocabulary) is unknown")
    pretrained_data = Path(json.loads(config_file.read_text())["data"])
    vocabularies = [folder / schema.ITEM_VOCAB_FILE for folder in (pretrained_data, data_dir)]
    for vocabulary in vocabularies:
        if not vocabulary.is_file():
            raise ValueError(f"--init-from {run}: cannot compare item vocabularies, "
                             f"{vocabulary} is missing")
    if vocabularies[0].read_bytes() != vocabularies[1].read_bytes():
        raise ValueError(f"--init-from {run}: item vocabulary differs: it was pretrained on "
                         f"{pretrained_data}, this run trains on {data_dir} (item ids would "
                         f"mean other items)")
