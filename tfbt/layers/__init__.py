"""Keras layers: user-sequence encoders, the Barlow Twins projector, downstream heads."""

from tfbt.layers.encoders import CNNEncoder, SASRecEncoder, build_encoder
from tfbt.layers.heads import DownstreamHead
from tfbt.layers.projector import ProjectorMLP

__all__ = ["CNNEncoder", "DownstreamHead", "ProjectorMLP", "SASRecEncoder", "build_encoder"]
