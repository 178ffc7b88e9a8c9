"""A mechanism-learning simulation: a hidden confounder links the label to a spurious feature.

The design follows the synthetic example of Mao & Little (mechanism learning):

* cause/label ``Y`` (0/1) and a hidden binary confounder ``U``;
* mechanism ``Z = Y + N(0, 0.6²)`` — the only path from ``Y`` to the features;
* features ``x1 = Z + N(0, 0.4²)`` (carries the causal signal) and
  ``x2 = 1.2 (2U - 1) + 0.4 Z + N(0, 0.5²)`` (mostly driven by the confounder).

In the confounded (training) population ``P(Y = U) = confounding`` (0.9 by
default), so ``x2`` predicts the label well; in the non-confounded (deployment)
population ``U`` is independent of ``Y`` and ``x2`` says almost nothing. A
classifier trained naively leans on ``x2`` and loses accuracy out of sample;
one trained on front-door deconfounded samples does not.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["load_mechanism_sample", "mechanism_learning_data", "mechanism_learning_sample_frame", "MECHANISM_SAMPLE_ROLES"]

#: Suggested roles for :func:`causal_core.front_door_resample` on this design.
MECHANISM_SAMPLE_ROLES = {"cause": "y", "mechanism": ["z"], "features": ["x1", "x2"]}


def mechanism_learning_data(
    n: int = 2000,
    seed: int = 0,
    *,
    confounding: float = 0.9,
    prevalence: float = 0.5,
) -> pd.DataFrame:
    """Simulate the design described in the module docstring.

    Parameters
    ----------
    n : int
        Rows.
    seed : int
        Seed of the random generator.
    confounding : float
        P(U = Y): 0.5 means no confounding (the deployment population), 0.9 strong.
    prevalence : float
        P(Y = 1).

    Returns
    -------
    DataFrame
        Columns ``y`` (label/cause, 0/1), ``z`` (mechanism), ``x1``, ``x2`` (features).
        The confounder ``U`` is not returned: it is hidden.
    """
    rng = np.random.default_rng(seed)
    y = rng.binomial(1, prevalence, n)
    u = np.where(rng.random(n) < confounding, y, 1 - y)
    z = y + rng.normal(0, 0.6, n)
    x1 = z + rng.normal(0, 0.4, n)
    x2 = 1.2 * (2 * u - 1) + 0.4 * z + rng.normal(0, 0.5, n)
    return pd.DataFrame({"y": y, "z": z, "x1": x1, "x2": x2})


def mechanism_learning_sample_frame() -> pd.DataFrame:
    """The bundled sample ``sample_data/mechanism_learning.csv``.

    2,000 confounded training rows (``split == "train"``, P(U = Y) = 0.9) and
    2,000 non-confounded rows (``split == "test"``, P(U = Y) = 0.5) from the same
    mechanisms, so the app can train on one and judge on the other.
    """
    train = mechanism_learning_data(2000, seed=2024, confounding=0.9).assign(split="train")
    test = mechanism_learning_data(2000, seed=2025, confounding=0.5).assign(split="test")
    return pd.concat([train, test], ignore_index=True).round(6)


#: Where the bundled copy of :func:`mechanism_learning_sample_frame` lives.
SAMPLE_PATH = Path(__file__).resolve().parents[2] / "sample_data" / "mechanism_learning.csv"


def load_mechanism_sample() -> pd.DataFrame:
    """The bundled sample from ``sample_data/mechanism_learning.csv`` (regenerated if the file is absent)."""
    if SAMPLE_PATH.exists():
        return pd.read_csv(SAMPLE_PATH)
    return mechanism_learning_sample_frame()
