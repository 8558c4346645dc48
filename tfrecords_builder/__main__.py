"""``python -m tfrecords_builder``: the same as ``tfbt build``."""

import sys

from tfrecords_builder.cli import main

sys.exit(main())
