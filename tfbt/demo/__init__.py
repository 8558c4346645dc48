"""``tfbt demo``: the whole pipeline on the embedded synthetic dataset, one command."""

from tfbt.demo.run import add_arguments, run

__all__ = ["add_arguments", "run"]
