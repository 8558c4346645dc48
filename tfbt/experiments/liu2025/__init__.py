"""Liu et al. (2025): BT user-sequence pretraining vs the dual encoder across label fractions.

* ``config``: the experiment's settings, tasks, transfer modes and encoder variants.
* ``experiment``: runs (and resumes) the grid of cells.
* ``report``: ``results.md`` and the plots.
* ``cli``: ``tfbt experiment liu2025``.

``run_experiment`` loads TensorFlow on first use, so that ``--help`` answers without it.
"""

from tfbt.experiments.liu2025.cli import add_arguments, run
from tfbt.experiments.liu2025.config import ExperimentConfig

__all__ = ["ExperimentConfig", "add_arguments", "run", "run_experiment"]


def __getattr__(name):
    if name == "run_experiment":
        from tfbt.experiments.liu2025.experiment import run_experiment

        return run_experiment
    raise AttributeError(f"module 'tfbt.experiments.liu2025' has no attribute {name!r}")
