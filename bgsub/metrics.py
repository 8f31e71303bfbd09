"""Scores in two steps: confusion counts first (with an explicit *valid* mask for ignored pixels), then the
CDnet metric set from counts.

Averaging: ``micro`` sums TP/FP/FN/TN over frames and then scores (the CDnet convention, what ``bgsub evaluate``
reports); per-frame scores are also available.

Rule for empty denominators (frames with no positives, or no detections), stated once and used everywhere:
Precision = 1 when nothing was detected (TP + FP = 0: nothing was claimed wrongly); Recall = 1 when there was
nothing to find (TP + FN = 0); F = 0 when P + R = 0; Specificity = 1 and FPR = 0 when there are no negatives;
FNR = 0 when there are no positives; PWC = 0 for zero scored pixels. So a frame with no positives scores F = 1 if
nothing is detected and F = 0 otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

METRICS = ("precision", "recall", "f_measure", "specificity", "fpr", "fnr", "pwc")


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def confusion(pred: np.ndarray, positive: np.ndarray, valid: np.ndarray | None = None) -> Counts:
    """Counts over the pixels where ``valid`` is True (all pixels if None).

    pred, positive, valid: bool arrays of the same shape (prediction, ground-truth positive, scored pixel).
    """
    pred = np.asarray(pred, dtype=bool)
    positive = np.asarray(positive, dtype=bool)
    if pred.shape != positive.shape:
        raise ValueError(f"shape mismatch: prediction {pred.shape}, ground truth {positive.shape}")
    if valid is None:
        valid = np.ones_like(pred)
    valid = np.asarray(valid, dtype=bool)
    tp = int(np.count_nonzero(pred & positive & valid))
    fp = int(np.count_nonzero(pred & ~positive & valid))
    fn = int(np.count_nonzero(~pred & positive & valid))
    tn = int(np.count_nonzero(valid)) - tp - fp - fn
    return Counts(tp, fp, fn, tn)


def _div(a: float, b: float, empty: float) -> float:
    return a / b if b else empty


def scores(c: Counts) -> dict[str, float]:
    """Precision, recall, F-measure, specificity, FPR, FNR, PWC from counts (rule for empty denominators above)."""
    p = _div(c.tp, c.tp + c.fp, 1.0)
    r = _div(c.tp, c.tp + c.fn, 1.0)
    f = _div(2 * p * r, p + r, 0.0)
    return {
        "precision": p,
        "recall": r,
        "f_measure": f,
        "specificity": _div(c.tn, c.tn + c.fp, 1.0),
        "fpr": _div(c.fp, c.fp + c.tn, 0.0),
        "fnr": _div(c.fn, c.tp + c.fn, 0.0),
        "pwc": 100.0 * _div(c.fn + c.fp, c.total, 0.0),
    }
