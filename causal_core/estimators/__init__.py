"""Estimator modules; importing this package registers every method.

Each module registers its methods with :func:`causal_core.registry.register`.
"""
from . import simple  # noqa: F401
from . import matching_exact, matching_nearest  # noqa: F401
from . import regression  # noqa: F401
from . import ipw  # noqa: F401
from . import doubly_robust  # noqa: F401
from . import d2vd  # noqa: F401
from . import iv_linear, heckman, front_door  # noqa: F401
from . import entropy_balancing  # noqa: F401
from . import residual_balancing  # noqa: F401
from . import confounder_balancing  # noqa: F401
from . import iv_neural  # noqa: F401
from . import gmm_subgroups, meta_learners, tarnet  # noqa: F401
from . import latent_mixture  # noqa: F401
from . import ipsw, shadow_variable  # noqa: F401
