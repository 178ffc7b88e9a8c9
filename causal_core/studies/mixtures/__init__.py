"""Mixtures of discrete sources: latent discrete confounders (EM, Jennrich moments) and k coins (Prony).

Public entry points::

    import causal_core as cc
    cc.fit_mix_iid(df, columns=["trial_1", ..., "trial_6"], k=2)   # or count="successes", trials=6
    cc.fit_mix_prod(df, ["proxy1", "proxy2", "proxy3"], k=2)        # Jennrich on binary proxies
    cc.estimate(df, roles, "latent_mixture", k=2, solver="moments+em")
"""
from causal_core.studies.mixtures.em import EMFit, fit_em
from causal_core.studies.mixtures.fit import MixtureFit, fit_latent_mixture, moment_parameters
from causal_core.studies.mixtures.identifiability import (
    IdentifiabilityReport,
    kruskal_identifiable,
    mix_iid_identifiable,
    mix_prod_identifiable,
)
from causal_core.datasets.simulate import latent_confounder_frame, repeated_measurements_frame
from causal_core.studies.mixtures.latent_class import LatentClassData, LatentClassParameters
from causal_core.studies.mixtures.moments_iid import MixIIDResult, fit_mix_iid
from causal_core.studies.mixtures.moments_prod import ProdFit, fit_mix_prod_codes, fit_mix_prod

__all__ = [
    "EMFit",
    "IdentifiabilityReport",
    "LatentClassData",
    "LatentClassParameters",
    "MixIIDResult",
    "MixtureFit",
    "ProdFit",
    "fit_em",
    "fit_latent_mixture",
    "fit_mix_iid",
    "fit_mix_prod_codes",
    "fit_mix_prod",
    "kruskal_identifiable",
    "latent_confounder_frame",
    "mix_iid_identifiable",
    "mix_prod_identifiable",
    "moment_parameters",
    "repeated_measurements_frame",
]
