"""The settings of the ``tfbt`` runs: ``TrainConfig`` (``tfbt train``, ``tfbt sweep-alpha``) and
``PretrainConfig`` (``tfbt pretrain``).

Each field that is also a command-line option carries its flag's type, choices and help
(``tfbt.runs.options``): the commands generate their options from here, and the recipes
(``tfbt.runs.train``, ``tfbt.runs.pretrain``) take the same objects from Python.
"""

from __future__ import annotations

import dataclasses

from tfbt import cli_types
from tfbt.data import splits
from tfbt.data import twin_policies
from tfbt.losses import BT_FORMS, LAMBDA_PLACEMENTS, LOSSES, SAMPLERS
from tfbt.losses.names import DEFAULT_BTSR_ALPHA, DEFAULT_LAMBD
from tfbt.runs import environment
from tfbt.runs.options import option

MODELS = ("sasrec", "btsr")
PROTOCOL = ("full ranking over all items, the user's seen items removed, leave-one-out "
            "(valid: second-to-last item, test: last item)")
TEMPORAL_PROTOCOL = ("full ranking over all items, the user's seen items removed, temporal split "
                     "(cut at the {quantile:g} quantile of all timestamps; users with "
                     "interactions after it are evaluated on those only: valid = second-to-"
                     "last, test = last, history = the after-cut items before the target)")


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``config.json``).

    ``bt_form``: ``"authors"`` (default; ``tfbt.losses.btsr_barlow_twins_loss``, both terms
    divided by D, as in the BT-SR code) or ``"zbontar"`` (``barlow_twins_loss``, not divided:
    the same α then weighs BT D times more). ``alpha``: BT weight; ``None`` means 0 for
    ``sasrec`` and ``DEFAULT_BTSR_ALPHA[bt_form]`` for ``btsr`` (authors: their ML-1M 0.2; their
    other datasets use 0.08-0.25). ``lambd``: the off-diagonal weight; ``None`` means
    ``DEFAULT_LAMBD[bt_form]`` (authors: their ML-1M 0.05, 0.05-0.1 elsewhere; zbontar: 1, which
    on Beauty with α = 0.02 raised coverage@10 and effective rank where λ = 1/64 cut them).
    ``twins``/``no_twin``: see ``tfbt.data.btsr_pairs`` (authors: ``last-item``/``self``).
    ``dropout_pair_weight``: weight of an extra BT term between two dropout passes of every
    sequence (their Kindle setting; 0 = off). ``adam_beta2``: the authors use 0.98.
    ``split``: ``leave-one-out`` or ``temporal`` (``tfbt.data.splits``; the latter with
    ``split_quantile``, ``min_item_count``, ``min_user_count``, ``temporal_train_users``).
    ``length_chunks``: see ``SequentialRecommender``. ``ce_chunk_rows``: the full softmax's
    loss and gradients are computed this many positions at a time
    (``tfbt.losses.next_item.chunked_logsumexp_mean``; the same numbers, without the
    ``[positions, items]`` temporaries); 0 computes all logits at once. With ``jit_compile``
    both are forced to 0: XLA needs static shapes, and it fuses the softmax itself.
    """

    data: str = option(help="dataset folder from `tfbt build`")
    output: str
    model: str = option("sasrec", choices=MODELS,
                        help="sasrec (alpha 0) or btsr (CE + alpha * Barlow Twins)")
    alpha: float | None = option(
        None, type=cli_types.non_negative_float, shown="",
        help="BT weight for btsr (default " + ", ".join(
            f"{f} {v:g}" for f, v in DEFAULT_BTSR_ALPHA.items()) + ")")
    loss: str = option("full", choices=LOSSES,
                       help="next-item loss: full softmax, sampled softmax or Scalable CE")
    num_negatives: int = option(256, type=cli_types.positive_int,
                                help="sampled softmax with --sampler uniform: negatives per step")
    sampler: str = option("uniform", choices=SAMPLERS,
                          help="sampled softmax negatives (in_batch is log-Q corrected)")
    num_buckets: int | None = option(  # None: the SCE authors' rule (see models.builders)
        None, type=cli_types.positive_int, shown="",
        help="SCE n_b (default: the SCE authors' rule, about 2 * sqrt(batch * mean training "
             "positions per user))")
    bucket_size_x: int | None = option(None, type=cli_types.positive_int, shown="",
                                       help="SCE b_x: output positions per bucket (default: "
                                            "as n_b)")
    bucket_size_y: int = option(512, type=cli_types.positive_int, help="SCE b_y: items per bucket")
    max_len: int = option(50, type=cli_types.positive_int,
                          help="the most recent items of a sequence the model reads")
    hidden_dim: int = option(64, type=cli_types.positive_int, help="embedding width D")
    num_blocks: int = option(2, type=cli_types.positive_int, help="transformer blocks")
    num_heads: int = option(1, type=cli_types.positive_int, help="attention heads per block")
    dropout: float = option(0.2, type=cli_types.fraction,
                            help="0.2 for MovieLens, 0.5 for sparse Amazon data")
    batch_size: int = option(256, type=cli_types.positive_int, help="sequences per step")
    epochs: int = option(200, type=cli_types.positive_int, help="at most")
    learning_rate: float = option(1e-3, type=cli_types.positive_float, help="Adam's")
    eval_every: int = option(1, type=cli_types.positive_int,
                             help="epochs between full-ranking validations")
    patience: int = option(5, type=cli_types.positive_int,
                           help="validations without improvement before stopping")
    monitor: str = "NDCG@10"
    # Which validated epoch to keep (tfbt.evaluation.selection, which checks the values; no
    # choices here, so that --help loads no TensorFlow).
    selection: str = option(
        "ndcg", help="epoch choice: ndcg = best validation NDCG@10; coverage / long-tail = the "
                     "highest validation coverage@10 / long-tail share among epochs whose "
                     "NDCG@10 is within the band of the best (no stop while it still rises)")
    selection_se: float = option(
        1.0, type=cli_types.non_negative_float,
        help="band: paired standard errors of per-user NDCG@10 below the best")
    selection_tolerance: float | None = option(
        None, type=cli_types.fraction, shown="",
        help="band: NDCG@10 >= (1 - this) x the best, instead of --selection-se (default: "
             "none, the standard-error band)")
    keep_checkpoints: str = option(
        "rule", help="rule: only the epochs the selection can still choose; all: every "
                     "validation's (for tfbt frontier)")
    lambd: float | None = option(
        None, type=cli_types.non_negative_float, shown="",
        help="Barlow Twins off-diagonal weight (their lmd_sem; default "
             + ", ".join(f"{f} {v:g}" for f, v in DEFAULT_LAMBD.items()) + ")")
    lambda_on: str = option("off_diagonal", choices=LAMBDA_PLACEMENTS,
                            help="--bt-form zbontar only: the term lambd weighs")
    bt_form: str = option("authors", choices=BT_FORMS,
                          help="authors: BT-SR code (unbiased std, terms / D; alpha 0.08-0.25); "
                               "zbontar: not divided by D (alpha D times smaller)")
    twins: str = option("last-item", choices=twin_policies.POLICIES,
                        help="last-item: another user whose sequence ends with the same item "
                             "(authors); any-prefix: any prefix of any user followed by it")
    no_twin: str = option("self", choices=twin_policies.NO_TWIN,
                          help="a user without a twin: self = paired with itself (views differ "
                               "by dropout; authors), skip = no BT term")
    dropout_pair_weight: float = option(
        0.0, type=cli_types.non_negative_float,
        help="weight of an extra BT term between two dropout passes of every sequence (their "
             "Kindle setting; 0 = off)")
    adam_beta2: float = option(0.999, type=cli_types.fraction,
                               help="Adam beta_2 (the BT-SR code uses 0.98)")
    split: str = option("leave-one-out", choices=splits.PROTOCOLS,
                        help="leave-one-out, or temporal (the BT-SR authors': a global time cut; "
                             "needs a dataset built with timestamps)")
    split_quantile: float = option(0.95, type=cli_types.fraction,
                                   help="--split temporal: the cut is this quantile of all "
                                        "timestamps")
    min_item_count: int = option(5, type=cli_types.non_negative_int,
                                 help="--split temporal: items with fewer interactions are "
                                      "removed")
    min_user_count: int = option(20, type=cli_types.non_negative_int,
                                 help="--split temporal: then users with fewer interactions")
    temporal_train_users: str = option(
        "non-test", choices=splits.TEMPORAL_TRAIN_USERS,
        help="--split temporal: non-test = only users without after-cut interactions train "
             "(authors' code); all = every user before the cut")
    init_from: str | None = option(
        None, metavar="RUN",
        help="--model sasrec: start from the encoder of this `tfbt pretrain --encoder sasrec` "
             "run (same architecture and item vocabulary)")
    train_fraction: float = option(
        1.0, type=cli_types.share,
        help="train on this share of the users (seeded, nested; e.g. 0.01 or 1%); validation "
             "and test use every user")
    seed: int = option(0, type=cli_types.non_negative_int,
                       help="weights, shuffling, twins and --train-fraction")
    strategy: str = option("default", choices=environment.STRATEGIES,
                           help="tf.distribute strategy")
    jit_compile: bool = option(False, help="compile steps with XLA (static shapes: slower on "
                               "CPU; seeded, but without op determinism, which Keras does not "
                               "combine with XLA)")
    length_chunks: int = option(4, type=cli_types.non_negative_int,
                                help="encode each batch as this many length-sorted chunks")
    ce_chunk_rows: int = option(512, type=cli_types.non_negative_int,
                                help="--loss full: positions per chunk of the softmax (0 = all "
                                     "at once)")
    eval_batch_size: int = option(1024, type=cli_types.positive_int,
                                  help="users per full-ranking batch")

    def resolved(self) -> "TrainConfig":
        """The config with defaults filled in and checked."""
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}; got {self.model!r}")
        if self.bt_form not in BT_FORMS:
            raise ValueError(f"bt_form must be one of {BT_FORMS}; got {self.bt_form!r}")
        if self.twins not in twin_policies.POLICIES or self.no_twin not in twin_policies.NO_TWIN:
            raise ValueError(f"twins must be one of {twin_policies.POLICIES} and no_twin one of "
                             f"{twin_policies.NO_TWIN}; got {self.twins!r}, {self.no_twin!r}")
        alpha = self.alpha if self.alpha is not None else (
            0.0 if self.model == "sasrec" else DEFAULT_BTSR_ALPHA[self.bt_form])
        lambd = self.lambd if self.lambd is not None else DEFAULT_LAMBD[self.bt_form]
        if self.split not in splits.PROTOCOLS:
            raise ValueError(f"split must be one of {splits.PROTOCOLS}; got {self.split!r}")
        self.temporal_options()  # checks the temporal settings
        self.selection_rule()  # checks the selection settings
        if not 0 < self.train_fraction <= 1:
            raise ValueError(f"--train-fraction must be in (0, 1]; got {self.train_fraction}")
        if self.train_fraction < 1 and self.split != "leave-one-out":
            raise ValueError("--train-fraction is for --split leave-one-out only")
        if self.init_from and self.model != "sasrec":
            raise ValueError(f"--init-from starts SASRec from a BT-pretrained SASRecEncoder; "
                             f"got --model {self.model}")
        if self.model == "sasrec" and alpha != 0:
            raise ValueError(f"--model sasrec has no BT term; got --alpha {alpha} (use --model "
                             f"btsr)")
        if self.model == "btsr" and alpha <= 0:
            raise ValueError(f"--model btsr needs --alpha > 0; got {alpha} (alpha 0 is sasrec)")
        for name in ("epochs", "eval_every", "patience", "batch_size", "eval_batch_size",
                     "max_len", "hidden_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1; got {getattr(self, name)}")
        return dataclasses.replace(self, alpha=float(alpha), lambd=float(lambd),
                                   length_chunks=0 if self.jit_compile else self.length_chunks,
                                   ce_chunk_rows=0 if self.jit_compile else self.ce_chunk_rows)


    def temporal_options(self) -> splits.TemporalOptions | None:
        """The temporal protocol's options, or None under leave-one-out."""
        options = splits.TemporalOptions(self.split_quantile, self.min_item_count,
                                         self.min_user_count, self.temporal_train_users)
        return options if self.split == "temporal" else None

    def selection_rule(self):
        """The ``tfbt.evaluation.selection.Rule`` of this run."""
        from tfbt.evaluation.selection import Rule

        return Rule(self.selection, self.monitor, self.selection_se, self.selection_tolerance,
                    self.patience, self.keep_checkpoints)

    def protocol(self) -> str:
        """The evaluation protocol in words (stored in results.json)."""
        if self.split == "temporal":
            return TEMPORAL_PROTOCOL.format(quantile=self.split_quantile)
        return PROTOCOL


ENCODERS = ("cnn", "sasrec")  # tfbt.layers.encoders.build_encoder's names


@dataclasses.dataclass
class PretrainConfig:
    """Everything that defines a pretraining run (saved as ``config.json``).

    ``encoder_args`` go to the encoder's constructor (``CNNEncoder`` / ``SASRecEncoder``).
    ``lambd``/``lambda_on``: see ``tfbt.losses.barlow_twins_loss``. ``augment`` uses the
    grammar of ``tfbt.data.augment.parse_augmentations``. ``length_chunks``: see
    ``BarlowTwinsPretrainer`` (forced to 0 with ``jit_compile``: static shapes).
    """

    data: str = option(help="dataset folder from `tfbt build`")
    output: str
    encoder: str = option("cnn", choices=ENCODERS, help="the user-sequence encoder")
    encoder_args: dict = option(
        default_factory=dict, flag="--encoder-arg", action=cli_types.KeyValues,
        metavar="KEY=VALUE", help="encoder constructor argument (JSON value), e.g. "
        "embedding_dim=64 or dilation_rates=[1,2]; repeatable")
    augment: str = option("segment_mask:0.2",
                          help="augmentations: name[:ratio][@probability], comma separated "
                               "(random_mask, segment_mask, permute, crop)")
    max_len: int = option(200, type=cli_types.positive_int,
                          help="the most recent items of a sequence the encoder reads")
    batch_size: int = option(128, type=cli_types.positive_int, help="users per step")
    epochs: int = option(10, type=cli_types.positive_int, help="passes (see --steps-per-epoch)")
    steps_per_epoch: int | None = option(
        None, type=cli_types.positive_int, shown="",
        help="steps per epoch, the data repeating (default: one pass over the users)")
    learning_rate: float = option(1e-3, type=cli_types.positive_float, help="Adam's")
    lambd: float = option(0.0051, type=cli_types.non_negative_float,
                          help="Barlow Twins weight (see --lambda-on)")
    lambda_on: str = option("off_diagonal", choices=LAMBDA_PLACEMENTS,
                            help="the term lambd weighs")
    projector: tuple[int, ...] = option((256, 256), type=cli_types.positive_ints,
                                        help="projector MLP widths, comma separated")
    seed: int = option(0, type=cli_types.non_negative_int, help="weights, shuffling and views")
    strategy: str = option("default", choices=environment.STRATEGIES,
                           help="tf.distribute strategy")
    jit_compile: bool = option(False, help="compile steps with XLA (seeded, but without op "
                               "determinism, which Keras does not combine with XLA)")
    length_chunks: int = option(4, type=cli_types.non_negative_int,
                                help="encode the views as this many length-sorted chunks (0 = "
                                     "whole)")
