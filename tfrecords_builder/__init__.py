"""tfrecords_builder: raw interaction logs -> sharded TFRecords + metadata.json.

``readers.read_source`` turns a source into a ``raw.RawDataset``; ``build.build`` (pandas, one
machine) or ``beam_pipeline.run_beam_build`` (Apache Beam) writes the dataset folder that
``schema.py`` describes; ``python -m tfrecords_builder`` (or ``tfbt build``) does both.

Submodules are not imported here, so reading a source does not load TensorFlow.
"""

import os

# As in tfbt/__init__.py: a process that imports the builder first and tfbt's TFRS baseline later
# needs tf.keras to resolve to tf-keras, which is decided when TensorFlow first loads.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
