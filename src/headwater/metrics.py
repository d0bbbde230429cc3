"""Which way each model metric points: the one table train, the gate and monitor share.

Ground floor (imports nothing of ours), so every stage that compares scores reads the
direction from here instead of keeping its own copy.
"""

from __future__ import annotations

LOWER_IS_BETTER = {"rmse", "mae"}
CLASSIFICATION = {"f1", "accuracy", "precision", "recall", "roc_auc"}


def lower_is_better(metric: str) -> bool:
    """True for error metrics (rmse, mae), where a higher score is worse."""
    return metric in LOWER_IS_BETTER
