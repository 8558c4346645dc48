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
* **user attributes** that depend on taste (gender, age group) or on nothing learnable from
  items (occupation noise), so user-classification tasks have a real but imperfect signal.

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

AGE_GROUPS = ("18-24", "25-34", "35-44", "45-49", "50-55")
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
    seed: int = 0

    def __post_init__(self):
        if self.num_items < 2 * self.num_genres:
            raise ValueError(f"num_items={self.num_items} must be at least 2 * num_genres")
        if not 0.0 <= self.markov <= 1.0:
            raise ValueError(f"markov must be in [0, 1], got {self.markov}")
        if self.num_users < 1 or self.mean_length < 1:
            raise ValueError("num_users and mean_length must be positive")


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
    successor = np.empty((config.num_items, config.successors), dtype=np.int64)
    for item in range(config.num_items):
        same = members[genre[item]]
        pool = same if rng.random() < 0.8 else np.arange(config.num_items)
        successor[item] = rng.choice(pool, config.successors, p=popularity[pool] / popularity[pool].sum())
    return genre, second, popularity, members, successor


def generate(config: SyntheticConfig = SyntheticConfig()) -> RawDataset:
    """Generates the log in memory (raw ids are ``1..num_items`` and ``1..num_users``)."""
    rng = np.random.default_rng(config.seed)
    genre, second, popularity, members, successor = _catalogue(config, rng)
    genre_cdfs = [np.cumsum(popularity[ids]) / popularity[ids].sum() for ids in members]
    gender_affinity = rng.normal(0.0, 2.5, config.num_genres)
    gender_affinity -= gender_affinity.mean()  # about as many women as men
    age_affinity = rng.normal(0.0, 1.5, (config.num_genres, len(AGE_GROUPS)))

    users, items, times, genders, ages, occupations = [], [], [], [], [], []
    for user in range(config.num_users):
        taste = rng.dirichlet(np.full(config.num_genres, config.taste_concentration))
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
        p_female = 1.0 / (1.0 + np.exp(-(taste @ gender_affinity)))
        genders.append("F" if rng.random() < p_female else "M")
        age_logits = taste @ age_affinity
        age_probs = np.exp(age_logits - age_logits.max())
        ages.append(AGE_GROUPS[rng.choice(len(AGE_GROUPS), p=age_probs / age_probs.sum())])
        occupations.append(OCCUPATIONS[rng.integers(len(OCCUPATIONS))])

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
        {"gender": genders, "age": ages, "occupation": occupations},
        index=pd.Index(np.arange(1, config.num_users + 1), name="user"))
    return RawDataset(interactions=interactions, source_format="synthetic", source_files=[],
                      has_timestamps=True, items=item_table, genre_vocabulary=genre_names,
                      users=user_table)


def write_synthetic(out_dir: str | os.PathLike, config: SyntheticConfig = SyntheticConfig(),
                    *, overwrite: bool = False, progress: bool = True):
    """Generates the log and builds TFRecords in ``out_dir``; returns the ``Metadata``."""
    from tfrecords_builder.build import BuildOptions, build

    raw = generate(config)
    return build(raw, Path(out_dir), BuildOptions(num_shards=2), progress=progress,
                 overwrite=overwrite)
