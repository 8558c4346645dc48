"""Shared fixtures: real datasets are optional, synthetic ones are built on demand."""

import os
from pathlib import Path

import pytest

import tfbt  # noqa: F401  (sets TF_USE_LEGACY_KERAS before anything imports TensorFlow)

SHARED_DATA = Path(os.environ.get("TFBT_SHARED_DATA",
                                  Path(__file__).resolve().parents[1].parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets folder (../shared/data), or skip: end users do not have it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def synthetic_data(tmp_path_factory):
    """``synthetic_data(num_users, num_items, mean_length, seed=0)`` -> the folder of that
    synthetic dataset, built once per test session and shared (tests must not modify it)."""
    from tfbt.datasets.synthetic import SyntheticConfig, write_synthetic

    built = {}

    def build(num_users: int, num_items: int, mean_length: int, seed: int = 0) -> Path:
        key = (num_users, num_items, mean_length, seed)
        if key not in built:
            path = tmp_path_factory.mktemp("synthetic") / "data"
            write_synthetic(path, SyntheticConfig(num_users=num_users, num_items=num_items,
                                                  mean_length=mean_length, seed=seed),
                            progress=False)
            built[key] = path
        return built[key]

    return build
