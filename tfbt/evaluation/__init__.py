"""Full-ranking evaluation (seen items removed, batched) and the metrics it reports."""

from tfbt.evaluation.ranking import (
                                     evaluate_full_ranking,
                                     evaluate_scores,
                                     most_popular_baseline,
)

__all__ = ["evaluate_full_ranking", "evaluate_scores", "most_popular_baseline"]
