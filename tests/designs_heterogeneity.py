"""Contract designs for the heterogeneity methods: the back-door design with cheap options.

The contract's linear constant-effect design (1500 rows) is reused; only the
options change, so the contract runs in seconds (linear base models, few
bootstrap replicates, a short TARNet training, few mixture initialisations).
"""
from __future__ import annotations

import causal_core as cc
from causal_core.simulate import linear_confounded

BACKDOOR_ROLES = cc.Roles(treatment="treat", outcome="y", confounders=["x1", "x2", "x3", "x4", "region"])


def _with_options(options: dict):
    def design(seed: int):
        df, truth = linear_confounded(n=1500, seed=seed)
        return df, BACKDOOR_ROLES, truth["ATE"], dict(options)

    return design


DESIGNS = {
    "gmm_subgroups": _with_options({"within_method": "regression_adjustment", "max_components": 4, "n_init": 1}),
    "gmm_weighting": _with_options({"max_components": 4, "n_init": 1}),
    "s_learner": _with_options({"base_model": "linear", "n_boot": 20}),
    "t_learner": _with_options({"base_model": "linear", "n_boot": 20}),
    "x_learner": _with_options({"base_model": "linear", "n_boot": 20}),
    "dr_learner": _with_options({"base_model": "linear", "n_folds": 3}),
    "tarnet": _with_options({"epochs": 30, "hidden_units": 16}),
}
