"""Contract design for the latent discrete confounder method (hidden U with four binary proxies)."""
from __future__ import annotations

import causal_core as cc
from causal_core.studies.mixtures import latent_confounder_frame

MIXTURE_ROLES = cc.Roles(treatment="treat", outcome="outcome", proxies=["proxy1", "proxy2", "proxy3", "proxy4"])


def _latent_mixture_design(seed: int):
    df, truth = latent_confounder_frame(n=3000, seed=seed)
    return df, MIXTURE_ROLES, truth["ATE"], {"n_boot": 50, "n_restarts": 3}


DESIGNS = {"latent_mixture": _latent_mixture_design}
