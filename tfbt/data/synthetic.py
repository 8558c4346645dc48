"""A synthetic interaction log with planted structure, for demos and fast tests.

Real datasets cannot ship with the package (MovieLens terms), yet demos and tests must show
real learning. This generator plants exactly what the models are meant to find:

* **latent genre tastes**: each user draws a Dirichlet mix over genres; most of their
  "exploratory" picks come from their top genres, so the favourite genre is predictable from
  the sequence (the downstream classification task);
* **Markov transitions**: every item has a few preferred successors (mostly of its own genre);
  with probability ``markov`` the next item follows the current one, so a sequence model can
  beat popularity by a wide margin;
* **long-tailed popularity**: item weights follow a Zipf law inside each genre;
* **user attributes** that depend on taste plus noise (a gender-like binary label with a 70/30
  prior, an age-like label with MovieLens-1M's 7 groups and their shares) or on nothing
  learnable from items (occupation noise), so user-classification tasks have a real but
  imperfect signal and scarce labels a real majority class to beat.

``PRESETS`` give the log MovieLens sizes (``ml-100k``, ``ml-1m``, ``ml-20m``: users, items,
mean length), so 1% of the labels means what it means there (60 users on ML-1M, 1,385 on
ML-20M). ``python -m tfbt.data.synthetic --preset ml-1m --output DIR`` builds one.

The log is written through the same builder as real data, so everything downstream is
exercised exactly as on MovieLens.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd

from tfrecords_builder.raw import RawDataset

AGE_GROUPS = ("Under 18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+")
# MovieLens-1M's users.dat: 222, 1103, 2096, 1193, 550, 496, 380 of 6040 users.
AGE_SHARES = (0.037, 0.183, 0.347, 0.197, 0.091, 0.082, 0.063)
OCCUPATIONS = ("artist", "engineer", "student", "writer")


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
    """Sizes and strengths of the planted structure.

    Attributes:
      num_users: users in the log.
      num_items: catalogue size.
      num_genres: genres; each item has one primary genre and sometimes a second.
      mean_length: mean sequence length (lengths are 5 + Poisson).
      markov: probability that the next item follows the current item's successor list.
      successors: length of each item's successor list.
      taste_concentration: Dirichlet concentration of user tastes (small = focused users).
      zipf: exponent of the within-genre popularity law.
      female_share: planted share of the gender-like label's minority class ``F``.
      gender_signal, age_signal: standard deviation of the per-genre effects of taste on the
        gender and age logits (0: labels are pure noise around their shares).
      seed: everything is a function of this seed.
    """

    num_users: int = 2000
    num_items: int = 1000
    num_genres: int = 8
    mean_length: int = 40
    markov: float = 0.6
    successors: int = 4
    taste_concentration: float = 0.3
    zipf: float = 1.1
    female_share: float = 0.3
    gender_signal: float = 3.0
    age_signal: float = 3.0
    seed: int = 0

    def __post_init__(self):
        if self.num_items < 2 * self.num_genres:
            raise ValueError(f"num_items={self.num_items} must be at least 2 * num_genres")
        if not 0.0 <= self.markov <= 1.0:
            raise ValueError(f"markov must be in [0, 1], got {self.markov}")
        if self.num_users < 1 or self.mean_length < 1:
            raise ValueError("num_users and mean_length must be positive")
        if not 0.0 < self.female_share < 1.0:
            raise ValueError(f"female_share must be in (0, 1), got {self.female_share}")


PRESETS = {  # MovieLens sizes: users, items, interactions / users
    "ml-100k": dict(num_users=943, num_items=1682, num_genres=18, mean_length=106),
    "ml-1m": dict(num_users=6040, num_items=3706, num_genres=18, mean_length=165),
    "ml-20m": dict(num_users=138_493, num_items=26_744, num_genres=20, mean_length=144),
}


def preset(name: str, **overrides) -> SyntheticConfig:
    """The ``SyntheticConfig`` of a named size (``PRESETS``), e.g. ``preset("ml-1m", seed=1)``."""
    if name not in PRESETS:
        raise ValueError(f"unknown synthetic preset {name!r}; expected one of "
                         f"{', '.join(PRESETS)}")
    return SyntheticConfig(**{**PRESETS[name], **overrides})


def _catalogue(config: SyntheticConfig, rng: np.random.Generator):
    """Item genres, within-genre popularity and successor lists."""
    genre = np.arange(config.num_items) % config.num_genres
    rng.shuffle(genre)
    second = np.where(rng.random(config.num_items) < 0.3,
                      rng.integers(0, config.num_genres, config.num_items), -1)
    second[second == genre] = -1
    popularity = np.empty(config.num_items)
    members = [np.flatnonzero(genre == g) for g in range(config.num_genres)]
    for ids in members:
        ranks = rng.permutation(len(ids)) + 1
        popularity[ids] = ranks ** -config.zipf
    # Each item's successors: popularity-weighted draws from its genre (80%) or the whole
    # catalogue. The draws are those of ``rng.choice(pool, successors, p=...)``, the same
    # random numbers and the same items, with each pool's cumulative distribution computed
    # once instead of once per item (which made a million-item catalogue take hours).
    pools = [*members, np.arange(config.num_items)]
    cdfs = [_choice_cdf(popularity[pool] / popularity[pool].sum()) for pool in pools]
    successor = np.empty((config.num_items, config.successors), dtype=np.int64)
    for item in range(config.num_items):
        index = genre[item] if rng.random() < 0.8 else -1
        draws = cdfs[index].searchsorted(rng.random(config.successors), side="right")
        successor[item] = pools[index][draws]
    return genre, second, popularity, members, successor


def _choice_cdf(probabilities: np.ndarray) -> np.ndarray:
    """The cumulative distribution ``Generator.choice`` searches for ``p=probabilities``."""
    cdf = probabilities.cumsum()
    cdf /= cdf[-1]
    return cdf


def generate(config: SyntheticConfig = SyntheticConfig()) -> RawDataset:
    """Generates the log in memory (raw ids are ``1..num_items`` and ``1..num_users``)."""
    rng = np.random.default_rng(config.seed)
    genre, second, popularity, members, successor = _catalogue(config, rng)
    genre_cdfs = [np.cumsum(popularity[ids]) / popularity[ids].sum() for ids in members]

    users, items, times, tastes = [], [], [], []
    for user in range(config.num_users):
        taste = rng.dirichlet(np.full(config.num_genres, config.taste_concentration))
        tastes.append(taste)
        length = 5 + rng.poisson(config.mean_length - 5) if config.mean_length > 5 else 5
        genres_drawn = rng.choice(config.num_genres, length, p=taste)
        explore_items = np.empty(length, dtype=np.int64)
        for g in np.unique(genres_drawn):
            at = genres_drawn == g
            draws = np.searchsorted(genre_cdfs[g], rng.random(at.sum()), side="right")
            explore_items[at] = members[g][np.minimum(draws, len(members[g]) - 1)]
        explore = rng.random(length) >= config.markov
        picks = rng.integers(config.successors, size=length)
        sequence = explore_items.copy()
        for t in range(1, length):
            if not explore[t]:
                sequence[t] = successor[sequence[t - 1], picks[t]]
        users.append(np.full(length, user + 1))
        items.append(sequence + 1)
        times.append(1_000_000_000 + user * 10_000 + np.cumsum(rng.integers(1, 100, length)))

    genre_names = [f"genre_{g}" for g in range(config.num_genres)]
    item_genres = [[genre_names[g]] + ([genre_names[s]] if s >= 0 else [])
                   for g, s in zip(genre, second)]
    interactions = pd.DataFrame({
        "user": np.concatenate(users),
        "item": np.concatenate(items),
        "timestamp": np.concatenate(times),
        "rating": np.nan,
    })
    item_table = pd.DataFrame(
        {"title": [f"Item {i + 1} ({genre_names[genre[i]]})" for i in range(config.num_items)],
         "genres": item_genres},
        index=pd.Index(np.arange(1, config.num_items + 1), name="item"))
    user_table = pd.DataFrame(
        _plant_labels(config, np.asarray(tastes)),
        index=pd.Index(np.arange(1, config.num_users + 1), name="user"))
    return RawDataset(interactions=interactions, source_format="synthetic", source_files=[],
                      has_timestamps=True, items=item_table, genre_vocabulary=genre_names,
                      users=user_table)


def _plant_labels(config: SyntheticConfig, tastes: np.ndarray) -> dict[str, list[str]]:
    """Gender, age and occupation of users with latent ``tastes [U, G]`` (own random stream).

    Gender and age are drawn from ``softmax(taste · effects + intercepts)``, the intercepts
    calibrated so the mean probabilities are the planted shares; occupation is uniform noise.
    """
    rng = np.random.default_rng([config.seed, 1])
    gender_effect = rng.normal(0.0, config.gender_signal, config.num_genres)
    age_effects = rng.normal(0.0, config.age_signal, (config.num_genres, len(AGE_GROUPS)))
    gender = _calibrated_probabilities(
        np.stack([np.zeros(len(tastes)), tastes @ gender_effect], axis=1),
        (1 - config.female_share, config.female_share))
    age = _calibrated_probabilities(tastes @ age_effects, AGE_SHARES)
    return {"gender": np.where(rng.random(len(tastes)) < gender[:, 1], "F", "M").tolist(),
            "age": [AGE_GROUPS[i] for i in _draw(age, rng)],
            "occupation": [OCCUPATIONS[i] for i in rng.integers(len(OCCUPATIONS),
                                                                 size=len(tastes))]}


def _calibrated_probabilities(scores: np.ndarray, shares, iterations: int = 100) -> np.ndarray:
    """``softmax(scores [U, K] + b)`` with intercepts ``b [K]`` such that the mean probability
    of class k is ``shares[k]`` (fixed-point iteration ``b += log share - log mean p``)."""
    target = np.log(np.asarray(shares, np.float64))
    intercepts = target.copy()
    for _ in range(iterations):
        probabilities = _softmax(scores + intercepts)
        intercepts += target - np.log(probabilities.mean(axis=0))
    return _softmax(scores + intercepts)


def _softmax(logits):
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def _draw(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One class per row of ``probabilities [U, K]``."""
    cdf = np.cumsum(probabilities, axis=1)
    return np.minimum((rng.random((len(cdf), 1)) * cdf[:, -1:] > cdf).sum(axis=1),
                      cdf.shape[1] - 1)


def write_synthetic(out_dir: str | os.PathLike, config: SyntheticConfig = SyntheticConfig(),
                    *, overwrite: bool = False, progress: bool = True):
    """Generates the log and builds TFRecords in ``out_dir``; returns the ``Metadata``."""
    from tfrecords_builder.build import BuildOptions, build

    raw = generate(config)
    return build(raw, Path(out_dir), BuildOptions(num_shards=2), progress=progress,
                 overwrite=overwrite)


def main(argv=None) -> int:
    """``python -m tfbt.data.synthetic --preset ml-1m --output DIR [--seed S]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tfbt.data.synthetic",
                                     description="Build a synthetic dataset of a named size.")
    parser.add_argument("--preset", choices=sorted(PRESETS), required=True)
    parser.add_argument("--output", required=True, help="dataset folder to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    write_synthetic(args.output, preset(args.preset, seed=args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
