"""The synthetic generator: named MovieLens sizes and planted labels of known difficulty."""

import numpy as np
import pytest

from tfbt.data.synthetic import AGE_SHARES, PRESETS, SyntheticConfig, generate, preset
from tfbt.downstream import fit_softmax_regression


def _genre_mix(raw):
    """``[U, G]`` each user's share of items per primary genre (the observable taste)."""
    genre = {item: raw.genre_vocabulary.index(genres[0])
             for item, genres in zip(raw.items.index, raw.items.genres)}
    mix = np.zeros((len(raw.users), len(raw.genre_vocabulary)))
    np.add.at(mix, (raw.interactions.user.to_numpy() - 1,
                    [genre[i] for i in raw.interactions.item]), 1.0)
    mix /= mix.sum(axis=1, keepdims=True)
    return (mix - mix.mean(axis=0)) / (mix.std(axis=0) + 1e-9)


def _check_planted_labels(raw, *, tolerance, margin):
    shares = raw.users.gender.value_counts(normalize=True)
    assert shares["F"] == pytest.approx(0.3, abs=tolerance)
    ages = raw.users.age.value_counts(normalize=True)
    ages = [ages.get(group, 0.0) for group in
            ("Under 18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+")]
    np.testing.assert_allclose(ages, AGE_SHARES, atol=tolerance)
    x, half = _genre_mix(raw), len(raw.users) // 2
    for label in ("gender", "age"):
        _, y = np.unique(raw.users[label], return_inverse=True)
        counts = np.bincount(y[:half], minlength=y.max() + 1)
        weights, bias = fit_softmax_regression(x[:half], y[:half], l2=1e-3,
                                               bias=np.log((counts + 1) / (counts + 1).sum()))
        probe = np.mean(np.argmax(x[half:] @ weights + bias, axis=1) == y[half:])
        majority = np.mean(y[half:] == counts.argmax())
        assert probe > majority + margin, (label, probe, majority)  # learnable
        assert probe < 0.95, (label, probe)  # but not trivially


def test_planted_labels_hold_their_shares_and_are_learnable_from_taste():
    _check_planted_labels(generate(SyntheticConfig(num_users=2000, num_items=400,
                                                   mean_length=25)),
                          tolerance=0.03, margin=0.03)


@pytest.mark.slow
def test_ml1m_preset_has_the_size_and_labels_of_movielens_1m():
    raw = generate(preset("ml-1m"))
    assert raw.users.shape[0] == 6040 and raw.items.shape[0] == 3706
    assert len(raw.interactions) / 6040 == pytest.approx(165, rel=0.02)
    _check_planted_labels(raw, tolerance=0.02, margin=0.03)


def test_presets_are_named_sizes():
    assert preset("ml-20m", seed=3) == SyntheticConfig(**PRESETS["ml-20m"], seed=3)
    assert preset("ml-20m").num_users == 138_493
    with pytest.raises(ValueError, match="unknown synthetic preset 'ml-10m'"):
        preset("ml-10m")
    with pytest.raises(ValueError, match="female_share"):
        SyntheticConfig(female_share=1.0)


def test_successor_lists_are_the_draws_of_rng_choice():
    """The successor lists are what ``rng.choice(pool, k, p=...)`` per item draws, so datasets
    generated before the per-pool distributions were cached (and the numbers published on
    them) are reproduced exactly."""
    from tfbt.data.synthetic import _catalogue

    config = SyntheticConfig(num_items=300, num_genres=5, successors=3, seed=7)
    genre, _, popularity, members, successor = _catalogue(config, np.random.default_rng(7))

    rng = np.random.default_rng(7)  # the same stream, up to the successor draws
    rng.shuffle(np.arange(config.num_items) % config.num_genres)
    rng.random(config.num_items), rng.integers(0, config.num_genres, config.num_items)
    for ids in members:
        rng.permutation(len(ids))
    for item in range(config.num_items):
        pool = members[genre[item]] if rng.random() < 0.8 else np.arange(config.num_items)
        expected = rng.choice(pool, config.successors, p=popularity[pool] / popularity[pool].sum())
        np.testing.assert_array_equal(successor[item], expected)
