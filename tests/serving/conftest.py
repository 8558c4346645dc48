"""Fixtures shared by the serving tests: one small synthetic dataset and its vocabulary."""

import pytest

from tfrecords_builder import schema


@pytest.fixture(scope="module")
def dataset(synthetic_data):
    """200 users, 60 items, built once per session by the root conftest's factory."""
    return synthetic_data(200, 60, 15)


@pytest.fixture(scope="module")
def vocab(dataset):
    """Raw item ids in index order (line i = item i + 1)."""
    return schema.read_vocab(dataset)
