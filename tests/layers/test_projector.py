import numpy as np
import pytest

from tfbt.layers import ProjectorMLP


def test_projector_layer_contract(layer_test):
    x = np.random.default_rng(0).normal(size=(6, 5)).astype("float32")
    layer_test(ProjectorMLP((8, 3)), x, expected_output_shape=(6, 3))


def test_projector_rejects_empty_or_non_positive_units():
    for units in ((), (4, 0)):
        with pytest.raises(ValueError, match="positive"):
            ProjectorMLP(units)
