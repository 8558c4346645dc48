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
    from tfbt.data.synthetic import SyntheticConfig, write_synthetic

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


def run_layer_test(layer, inputs, *, expected_output_shape, tmp_path, atol=1e-6):
    """The checks every tfbt Keras layer must pass (keras-hub's ``run_layer_test`` in small).

    1. ``compute_output_shape`` (where the layer has one) and the real output agree with
       ``expected_output_shape``;
    2. ``from_config(get_config())`` gives the same config and, with the same weights, the
       same outputs;
    3. a model holding the layer saves to ``.keras`` and loads back with the same outputs.

    Args:
      layer: a fresh layer, called here on ``inputs`` for the first time.
      inputs: a tensor or array the layer takes as its single positional input.
      expected_output_shape: the output shape for ``inputs``.
      tmp_path: a folder for the saved model.
    """
    import keras
    import numpy as np

    expected = np.asarray(layer(inputs, training=False))
    assert expected.shape == tuple(expected_output_shape)
    if type(layer).compute_output_shape is not keras.layers.Layer.compute_output_shape:
        assert tuple(layer.compute_output_shape(tuple(inputs.shape))) == tuple(
            expected_output_shape)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone(inputs, training=False)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(clone(inputs, training=False)), expected, atol=atol)
    model_inputs = keras.Input(tuple(inputs.shape[1:]), dtype=inputs.dtype)
    model = keras.Model(model_inputs, layer(model_inputs))
    model.save(tmp_path / "layer.keras")
    loaded = keras.models.load_model(tmp_path / "layer.keras")
    np.testing.assert_allclose(np.asarray(loaded(inputs, training=False)), expected, atol=atol)


@pytest.fixture
def layer_test(tmp_path):
    """``layer_test(layer, inputs, expected_output_shape=...)``: ``run_layer_test`` in a fresh
    temporary folder."""
    return lambda layer, inputs, **kwargs: run_layer_test(layer, inputs, tmp_path=tmp_path,
                                                          **kwargs)
