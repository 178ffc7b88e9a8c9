"""Mechanism learning: classifiers trained on front-door deconfounded samples.

``front_door_resample`` draws samples of the features under do(cause = y)
(causal bootstrap or causally weighted Gaussian mixtures); any ordinary
classifier trained on them predicts the cause without leaning on features that
are only confounded with it. The classifier comparison used by the app lives
in :mod:`causal_core.studies.mechanism.evaluate` (imported on demand: it loads
several scikit-learn estimators).
"""
from causal_core.studies.mechanism.resample import front_door_resample, front_door_weights
from causal_core.datasets.simulate import (MECHANISM_SAMPLE_ROLES, load_mechanism_sample, mechanism_learning_data,
                       mechanism_learning_sample_frame)
from causal_core.studies.mechanism.weighted_gmm import GaussianMixtureFit, fit_weighted_gmm, gmm_log_density, sample_gmm, select_weighted_gmm

__all__ = [
    "GaussianMixtureFit",
    "MECHANISM_SAMPLE_ROLES",
    "fit_weighted_gmm",
    "front_door_resample",
    "front_door_weights",
    "gmm_log_density",
    "load_mechanism_sample",
    "mechanism_learning_data",
    "mechanism_learning_sample_frame",
    "sample_gmm",
    "select_weighted_gmm",
]
