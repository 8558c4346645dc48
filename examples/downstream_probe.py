"""Barlow Twins pretraining of a user encoder with `model.fit`, then a linear probe of a user
label on the frozen representations (the quick check of Liu et al.'s transfer protocol; the
full one is `tfbt experiment liu2025`).

    python examples/downstream_probe.py DATASET_DIR [EPOCHS] [LABEL]

LABEL is one of the dataset's user labels (default: the first, e.g. `age`).
"""

import sys

import keras

import tfbt

data_dir = sys.argv[1]
epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
SEED, MAX_LEN = 0, 50

tfbt.set_seed(SEED)
metadata = tfbt.load_metadata(data_dir)
label = sys.argv[3] if len(sys.argv) > 3 else sorted(metadata.labels)[0]

# Whole training sequences; two augmented views of each are made inside the train step.
sequences = tfbt.make_dataset(data_dir, mode="sequence", batch_size=128, max_len=MAX_LEN,
                              shuffle=True, seed=SEED, drop_remainder=True)
model = tfbt.BarlowTwinsPretrainer(
    encoder=tfbt.CNNEncoder(metadata.vocab_size, embedding_dim=64, filters=64),
    augmenter=tfbt.SequenceAugmenter("segment_mask:0.2", mask_id=metadata.mask_id),
    projector=tfbt.ProjectorMLP((256, 256)),
    lambd=0.0051,
)
model.compile(optimizer=keras.optimizers.Adam(1e-3))
history = model.fit(sequences, epochs=epochs, verbose=2)

# Keep the encoder, drop the projector: items [B, MAX_LEN] -> user vectors [B, 64].
encoder = tfbt.encoder_model(model.encoder, MAX_LEN)
probe = tfbt.probe_label(encoder, data_dir, label, max_len=MAX_LEN, seed=SEED)
print(f"{label} from frozen BT user vectors: accuracy {probe['accuracy']:.4f}, macro-F1 "
      f"{probe['macro_f1']:.4f} ({probe['num_train']} training users, {probe['num_test']} test)")
