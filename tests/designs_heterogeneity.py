"""Contract designs for the heterogeneity methods: the back-door design with cheap options.

The contract's linear constant-effect design (1500 rows) is reused; only the
options change, so the contract runs in seconds (linear base models, few
bootstrap replicates, a short TARNet training, few mixture initialisations).
"""
from __future__ import annotations

import causal_core as cc
from causal_core.datasets.simulate import linear_confounded

BACKDOOR_ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4", "region"])


def _with_options(options: dict):
    def design(seed: int):
        df, truth = linear_confounded(n=1500, seed=seed)
        return df, BACKDOOR_ROLES, truth["ATE"], dict(options)

    return design


DESIGNS = {
    "gmm_subgroups": _with_options({"within_method": "regression_adjustment", "max_components": 4, "n_init": 1}),
    "gmm_weighting": _with_options({"max_components": 4, "n_init": 1}),
    "s_learner": _with_options({"base_model": "linear"}),
    "t_learner": _with_options({"base_model": "linear"}),
    "x_learner": _with_options({"base_model": "linear"}),
    "dr_learner": _with_options({"base_model": "linear", "n_folds": 3}),
    "tarnet": _with_options({"epochs": 30, "hidden_units": 16}),
}


CLUSTER_EFFECTS = (1.0, 3.0, -1.0)
CLUSTER_CENTRES = ((-4.0, 0.0), (4.0, 0.0), (0.0, 5.0))
CLUSTER_ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2"])


def three_cluster_design(n: int, seed: int, *, treat_in_last: bool = True):
    """Three well-separated Gaussian clusters of (x1, x2) with effects 1, 3 and -1.

    Treatment depends on the position within the cluster (confounding inside
    each subgroup); ``treat_in_last=False`` leaves the third cluster untreated.
    Returns ``(df, cluster, tau)``: the table, each row's cluster and its true effect.
    """
    import numpy as np
    import pandas as pd
    from scipy.special import expit

    rng = np.random.default_rng(seed)
    cluster = rng.choice(3, size=n, p=[0.4, 0.35, 0.25])
    centres = np.asarray(CLUSTER_CENTRES)[cluster]
    x = centres + rng.normal(size=(n, 2))
    within = x - centres
    p = expit(0.8 * within[:, 0] - 0.5 * within[:, 1] + np.array([0.0, 0.5, -0.5])[cluster])
    if not treat_in_last:
        p = np.where(cluster == 2, 0.0, p)
    t = rng.binomial(1, p)
    tau = np.asarray(CLUSTER_EFFECTS)[cluster]
    y = 0.5 * x[:, 0] + x[:, 1] + 1.5 * within[:, 0] + tau * t + rng.normal(size=n)
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "treat": t, "y": y}), cluster, tau
