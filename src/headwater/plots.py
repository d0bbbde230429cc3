"""PNG plots for models: confusion matrix, residuals, score history (matplotlib, Agg)."""

from __future__ import annotations

import io
from typing import Any


def _figure() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_matrix_png(y_true: Any, y_pred: Any, labels: list[Any], title: str) -> bytes:
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = _figure()
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, labels=labels, ax=ax, colorbar=False)
    ax.set_title(title)
    return _png(fig, plt)


def residuals_png(y_true: Any, y_pred: Any, title: str) -> bytes:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(5, 4))
    residuals = [t - p for t, p in zip(y_true, y_pred, strict=True)]
    ax.scatter(y_pred, residuals, s=6, alpha=0.5)
    ax.axhline(0, color="grey", linewidth=1)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual − predicted")
    ax.set_title(title)
    return _png(fig, plt)


def score_history_png(
    versions: list[int], scores: list[float], metric: str, production: int | None
) -> bytes:
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(versions, scores, marker="o")
    if production in versions:
        i = versions.index(production)
        ax.scatter(
            [production],
            [scores[i]],
            s=120,
            facecolors="none",
            edgecolors="green",
            label="production",
        )
        ax.legend()
    ax.set_xlabel("model version")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by model version")
    return _png(fig, plt)


def _png(fig: Any, plt: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()
