"""Liu et al. (2025): BT user-sequence pretraining vs the dual encoder across label fractions.

* ``config``: the experiment's settings, tasks, transfer modes and encoder variants.
* ``experiment``: runs (and resumes) the grid of cells.
* ``report``: ``results.md`` and the plots.
* ``cli``: ``tfbt experiment liu2025``.
"""

from tfbt.experiments.liu2025.cli import add_arguments, run
from tfbt.experiments.liu2025.config import ExperimentConfig
from tfbt.experiments.liu2025.experiment import run_experiment

__all__ = ["ExperimentConfig", "add_arguments", "run", "run_experiment"]
