"""Checks before the first training step: what could only fail, or train something degenerate,
once the work is done is refused now, naming the flags and the numbers.

Each ``check_*`` takes a command's resolved config and the dataset's ``Metadata`` and raises
``ValueError`` (the commands' exit code 2) before anything is trained.
"""

from __future__ import annotations

import inspect


def evaluation_cutoffs() -> tuple[int, ...]:
    """The cut-offs (K of HR@K, NDCG@K, ...) the full-ranking evaluation reports by default."""
    from tfbt.evaluation.ranking import evaluate_full_ranking

    return tuple(inspect.signature(evaluate_full_ranking).parameters["ks"].default)


def check_catalogue(metadata) -> None:
    """Full-ranking evaluation ranks the whole catalogue down to its largest cut-off."""
    largest = max(evaluation_cutoffs())
    if metadata.num_items < largest:
        raise ValueError(f"the dataset has {metadata.num_items} items, fewer than the largest "
                         f"evaluation cut-off ({largest}, of @"
                         + ", @".join(map(str, evaluation_cutoffs())) + "): full-ranking "
                         f"evaluation would fail after training; use a dataset with at least "
                         f"{largest} items")


def check_batch(name: str, batch_size: int, examples: int, why: str) -> None:
    """A loss that compares the examples of a batch needs two of them."""
    if min(batch_size, examples) < 2:
        raise ValueError(f"{name}: batches of {min(batch_size, examples)} example(s) "
                         f"(--batch-size {batch_size}, {examples} training example(s)): {why}; "
                         f"use --batch-size >= 2 and at least 2 training users")


def check_train(config, metadata, training_users=None) -> None:
    """``tfbt train`` (a resolved ``TrainConfig``; ``training_users``: the ids
    ``--train-fraction`` keeps, None for all)."""
    if config.epochs < config.eval_every:
        raise ValueError(f"--epochs {config.epochs} is below --eval-every {config.eval_every}: "
                         f"no validation would ever run, so no epoch could be selected; lower "
                         f"--eval-every or raise --epochs")
    check_catalogue(metadata)
    users = metadata.num_users
    if training_users is not None:
        users = len(training_users)
        if users < 2:
            raise ValueError(f"--train-fraction {config.train_fraction:g} of "
                             f"{metadata.num_users} users trains on {users}; raise it to at "
                             f"least {2 / metadata.num_users:.2g}")
    if config.alpha > 0:
        check_batch("--model btsr", config.batch_size, users,
                    "Barlow Twins standardises over the batch, which one example cannot do")
    if config.loss == "sampled" and config.sampler == "in_batch":
        check_batch("--sampler in_batch", config.batch_size, users,
                    "the negatives come from the other examples of the batch, and there are none")


def check_dual_encoder(config, metadata) -> None:
    """``tfbt train-dual-encoder``: its in-batch softmax has no negative in a batch of one
    (the loss is 0 and nothing is learnt)."""
    check_catalogue(metadata)
    check_batch("the dual encoder", config.batch_size, metadata.num_users,
                "its in-batch softmax takes the negatives from the other examples of the "
                "batch, so the loss would be 0")


def check_pretrain(config, metadata) -> None:
    """``tfbt pretrain``: Barlow Twins standardises every dimension over the batch."""
    check_batch("Barlow Twins pretraining", config.batch_size, metadata.num_users,
                "the cross-correlation is computed over the batch, which one example cannot do")
