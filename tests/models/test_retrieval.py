"""One retrieval interface: SASRec / BT-SR, the TFRS dual encoder and an encoder paired with an
item table all offer ``user_embeddings(items)`` and ``item_embeddings()``, and evaluation takes
each of them as it is."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfbt
from tfbt import data
from tfbt.evaluation import evaluate, evaluate_full_ranking, full_ranking
from tfbt.models import ItemTableRetriever, Retriever, encoder_model, user_vectors

MAX_LEN = 8


@pytest.fixture(scope="module")
def folder(synthetic_data):
    return synthetic_data(60, 40, 12)


def recommenders(metadata):
    from tfbt.baselines import DualEncoder

    keras.utils.set_random_seed(0)
    sasrec = tfbt.sequential_recommender(metadata, max_len=MAX_LEN, hidden_dim=8)
    dual = DualEncoder(metadata.vocab_size, embedding_dim=8, filters=8)
    cnn = encoder_model(tfbt.CNNEncoder(metadata.vocab_size, embedding_dim=8, filters=8),
                        MAX_LEN)
    table = np.random.default_rng(0).normal(size=(metadata.vocab_size, 8)).astype(np.float32)
    return {"sasrec": sasrec, "dual_encoder": dual, "encoder+table": ItemTableRetriever(cnn, table)}


def test_every_recommender_has_the_same_two_methods(folder):
    metadata = data.load_metadata(folder)
    items = np.array([[0, 0, 0, 0, 0, 3, 4, 5], [1, 2, 3, 4, 5, 6, 7, 8]], np.int32)
    for name, model in recommenders(metadata).items():
        assert isinstance(model, Retriever), name
        assert tuple(model.item_embeddings().shape) == (metadata.vocab_size, 8), name
        users = np.asarray(model.user_embeddings(items))
        assert users.shape == (2, 8), name
        np.testing.assert_allclose(user_vectors(model, items, batch_size=1), users, rtol=1e-5,
                                   atol=1e-6)
    plain = encoder_model(tfbt.CNNEncoder(metadata.vocab_size), MAX_LEN)
    assert not isinstance(plain, Retriever)
    with pytest.raises(TypeError, match="ItemTableRetriever"):
        full_ranking(plain, [], metadata.num_items)


def test_evaluation_takes_any_recommender_as_it_is(folder):
    metadata = data.load_metadata(folder)
    batches = data.evaluation_dataset(folder, "valid", max_len=MAX_LEN, batch_size=16)
    for name, model in recommenders(metadata).items():
        by_hand = evaluate_full_ranking(
            lambda items, model=model: model.user_embeddings(items),
            np.asarray(model.item_embeddings()), batches, num_items=metadata.num_items,
            progress=False)
        assert full_ranking(model, batches, metadata.num_items, progress=False) == by_hand, name
        # One call on the folder: the same ranking metrics, plus popularity and calibration.
        one_call = evaluate(model, folder, "valid", max_len=MAX_LEN, batch_size=16)
        assert {k: one_call[k] for k in by_hand} == by_hand, name
        assert "long_tail@10" in one_call and "calibration_kl@10" in one_call
        with pytest.raises(ValueError, match="num_items"):
            evaluate(model, batches)
    assert tf.is_tensor(recommenders(metadata)["dual_encoder"].item_embeddings())
