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
