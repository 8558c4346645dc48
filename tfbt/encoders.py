"""The 0.1 import path of the encoders (``from tfbt.encoders import SASRecEncoder``); they live
in ``tfbt.layers`` now."""

from tfbt.layers.encoders import CNNEncoder, SASRecEncoder, build_encoder

__all__ = ["CNNEncoder", "SASRecEncoder", "build_encoder"]
