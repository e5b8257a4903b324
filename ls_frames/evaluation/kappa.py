"""Chance-corrected agreement coefficients on plain numpy arrays.

The formulas scikit-learn's ``cohen_kappa_score``, statsmodels' ``fleiss_kappa`` and the
``krippendorff`` package compute (nominal data), without their dependencies; the tests
check them against those libraries to 1e-9.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["cohen_kappa", "fleiss_kappa", "krippendorff_alpha"]


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two equally long label arrays; NaN when chance agreement is 1."""
    codes, _ = pd.factorize(np.concatenate([a, b]))
    n_cat = int(codes.max()) + 1 if len(codes) else 0
    left, right = codes[: len(a)], codes[len(a) :]
    confusion = np.zeros((n_cat, n_cat))
    np.add.at(confusion, (left, right), 1)
    expected = np.outer(confusion.sum(1), confusion.sum(0)) / confusion.sum()
    off = 1.0 - np.eye(n_cat)
    denominator = float((off * expected).sum())
    if denominator == 0.0:
        return float("nan")
    return float(1.0 - (off * confusion).sum() / denominator)


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa of a ``units x categories`` count table with equal row sums."""
    n_units = counts.shape[0]
    raters = counts.sum(1)[0]
    p_cat = counts.sum(0) / (n_units * raters)
    p_unit = ((counts * counts).sum(1) - raters) / (raters * (raters - 1.0))
    p_bar, p_e = p_unit.mean(), float((p_cat * p_cat).sum())
    return float("nan") if p_e == 1.0 else float((p_bar - p_e) / (1.0 - p_e))


def krippendorff_alpha(counts: np.ndarray) -> float:
    """Krippendorff's alpha (nominal) of a ``units x categories`` count table; units with
    fewer than two values are not pairable and left out."""
    m = counts.sum(1)
    counts = counts[m >= 2].astype(float)
    m = m[m >= 2].astype(float)
    if counts.size == 0:
        return float("nan")
    same = (counts * (counts - 1.0)).sum(1) / (m - 1.0)  # o_cc summed over categories
    n_c = counts.sum(0)
    n = float(n_c.sum())
    observed = n - float(same.sum())
    expected = (n * n - float((n_c * n_c).sum())) / (n - 1.0)
    return float("nan") if expected == 0.0 else float(1.0 - observed / expected)
