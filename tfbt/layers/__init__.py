"""Keras layers: user-sequence encoders, the Barlow Twins projector, downstream heads."""

from tfbt.layers.encoders import CNNEncoder, SASRecEncoder, build_encoder
from tfbt.layers.heads import DownstreamHead, ItemEmbeddingHead
from tfbt.layers.projector import ProjectorMLP

__all__ = ["CNNEncoder", "DownstreamHead", "ItemEmbeddingHead", "ProjectorMLP", "SASRecEncoder",
           "build_encoder"]
