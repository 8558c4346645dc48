"""SASRec (full-softmax next-item loss) with plain `model.fit`.

    python examples/train_sasrec_with_fit.py DATASET_DIR [EPOCHS]

DATASET_DIR is a folder written by `tfbt build`. With the same seed and settings this trains
and scores exactly what `tfbt train --model sasrec --data DATASET_DIR --output RUN` does.
"""

import sys

import keras

import tfbt

data_dir = sys.argv[1]
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 200
SEED, MAX_LEN = 0, 50

tfbt.set_seed(SEED)
metadata = tfbt.load_metadata(data_dir)

# SASRecEncoder (causal Transformer) + NextItemLoss("full") in a SequentialRecommender,
# compiled with Adam: the model `tfbt train --model sasrec` builds, from its defaults.
model = tfbt.sequential_recommender(metadata, max_len=MAX_LEN, hidden_dim=64, num_blocks=2,
                                    dropout=0.2, loss="full", seed=SEED)
print(model.encoder.count_params(), "weights")

train = tfbt.next_item_dataset(data_dir, batch_size=256, max_len=MAX_LEN, seed=SEED)
valid = tfbt.evaluation_dataset(data_dir, "valid", max_len=MAX_LEN)
early_stopping = tfbt.FullRankingEarlyStopping(valid, num_items=metadata.num_items, patience=5)
history = model.fit(train, epochs=epochs, shuffle=False, callbacks=[early_stopping])
print("validation NDCG@10 per epoch:", history.history["val_NDCG@10"])

# Any recommender offers the same two things: user vectors and an item table.
users = model.user_embeddings(keras.ops.convert_to_tensor([[0, 0, 1, 2, 3]]))  # [1, 64]
scores = keras.ops.matmul(users, keras.ops.transpose(model.item_embeddings()[1:-1]))
print("top-5 items for the history 1, 2, 3:", keras.ops.top_k(scores, 5).indices[0] + 1)

for split in ("valid", "test"):
    metrics = tfbt.evaluate(model, data_dir, split)  # full ranking, seen items removed
    print(f"{split}: NDCG@10 {metrics['NDCG@10']!r} HR@10 {metrics['HR@10']!r}")
