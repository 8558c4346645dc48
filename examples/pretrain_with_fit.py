"""Barlow Twins pretraining with plain Keras, no tfbt CLI: the pieces and `model.fit`.

    python examples/pretrain_with_fit.py --data DIR   # a folder written by `tfbt build`

(Without --data it builds the embedded synthetic dataset first.)
"""

import argparse
import tempfile

import keras

from tfbt import data
from tfbt.data.augment import SequenceAugmenter
from tfbt.data.synthetic import SyntheticConfig, write_synthetic
from tfbt.layers import ProjectorMLP
from tfbt.layers.encoders import CNNEncoder
from tfbt.models import BarlowTwinsPretrainer, encoder_model

parser = argparse.ArgumentParser()
parser.add_argument("--data", help="dataset folder from `tfbt build`")
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--max-len", type=int, default=50)
args = parser.parse_args()

data_dir = args.data
if data_dir is None:
    data_dir = tempfile.mkdtemp() + "/synthetic"
    write_synthetic(data_dir, SyntheticConfig(num_users=1000, num_items=300))
metadata = data.load_metadata(data_dir)  # every size comes from metadata.json

train = data.make_dataset(data_dir, mode="sequence", batch_size=128, max_len=args.max_len,
                          shuffle=True, seed=0, drop_remainder=True)

model = BarlowTwinsPretrainer(
    encoder=CNNEncoder(metadata.vocab_size, embedding_dim=64, filters=64),
    augmenter=SequenceAugmenter("segment_mask:0.2", mask_id=metadata.mask_id),
    projector=ProjectorMLP((256, 256)),
    lambd=0.0051,
)
model.compile(optimizer=keras.optimizers.Adam(1e-3))
model.fit(train, epochs=args.epochs)

# Keep the encoder, drop the projector: items [B, max_len] -> user vectors [B, 64].
encoder = encoder_model(model.encoder, args.max_len)
encoder.save("user_encoder.keras")
print("saved user_encoder.keras;", encoder.output_shape)
