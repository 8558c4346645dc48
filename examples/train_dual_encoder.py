"""The TFRS dual encoder (CNN query tower, item candidate tower, in-batch softmax), ranked by the
same full-ranking evaluation as SASRec.

    python examples/train_dual_encoder.py DATASET_DIR [EPOCHS]

TensorFlow Recommenders needs Keras 2, so the model trains with tf-keras `fit` inside
`tfbt.baselines`; what comes out is a `tfbt.models.Retriever` (`user_embeddings(items)`,
`item_embeddings()`), which `tfbt.evaluate` and the export take as they take SASRec. With the
same seed and settings this scores exactly what `tfbt train-dual-encoder --data DATASET_DIR
--output RUN` does.
"""

import sys

import tfbt
from tfbt.baselines import train_dual_encoder

data_dir = sys.argv[1]
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
MAX_LEN = 50

model = train_dual_encoder(data_dir, max_len=MAX_LEN, epochs=epochs, batch_size=256,
                           learning_rate=1e-3, seed=0, embedding_dim=64, filters=64,
                           pooling="mean", dropout=0.1)
print("loss per epoch:", [round(v, 4) for v in model.history.history["epoch_loss"]])
print("item table:", tuple(model.item_embeddings().shape))  # [num_items + 2, 64]

for split in ("valid", "test"):
    metrics = tfbt.evaluate(model, data_dir, split, max_len=MAX_LEN)
    print(f"{split}: NDCG@10 {metrics['NDCG@10']!r} HR@10 {metrics['HR@10']!r} "
          f"coverage@10 {metrics['coverage@10']!r}")
