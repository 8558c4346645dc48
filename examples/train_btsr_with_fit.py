"""BT-SR (SASRec + alpha * Barlow Twins on twin sequences) with plain `model.fit`.

    python examples/train_btsr_with_fit.py DATASET_DIR [EPOCHS]

DATASET_DIR is a folder written by `tfbt build` (e.g. `tfbt build --format movielens-100k
--input ml-100k --output data/ml100k`). With the same seed and settings this trains and
scores exactly what `tfbt train --model btsr --data DATASET_DIR --output RUN` does.
"""

import sys

import keras

import tfbt

data_dir = sys.argv[1]
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 200
SEED, MAX_LEN = 0, 50

tfbt.set_seed(SEED)  # same seed, same machine -> same weights and metrics
metadata = tfbt.load_metadata(data_dir)  # every size comes from metadata.json

# A compiled SASRec encoder + next-item loss + 0.2 * Barlow Twins between twin sequences.
model = tfbt.sequential_recommender(metadata, max_len=MAX_LEN, alpha=0.2, seed=SEED)

# Training batches carry each user's twin: another user whose sequence ends with the same item.
train = tfbt.next_item_dataset(data_dir, batch_size=256, max_len=MAX_LEN, twins="last-item",
                               seed=SEED)
valid = tfbt.evaluation_dataset(data_dir, "valid", max_len=MAX_LEN)

# Full-ranking validation each epoch; stop after 5 without a better NDCG@10, keep the best.
early_stopping = tfbt.FullRankingEarlyStopping(valid, num_items=metadata.num_items,
                                               monitor="NDCG@10", patience=5)
history = model.fit(train, epochs=epochs, shuffle=False,
                    callbacks=[early_stopping, keras.callbacks.TerminateOnNaN()])

for split in ("valid", "test"):
    metrics = tfbt.evaluate(model, data_dir, split)
    print(f"{split}: NDCG@10 {metrics['NDCG@10']!r} HR@10 {metrics['HR@10']!r} "
          f"coverage@10 {metrics['coverage@10']!r}")
