"""Shared fixtures: simulated designs with known truth."""
from __future__ import annotations

import os
import sys
from pathlib import Path

# One BLAS thread per test process: the suite's arrays are small, and threaded
# BLAS on a 2-core machine (or beside pytest-xdist workers) only oversubscribes.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from causal_core.datasets.simulate import heterogeneous_confounded, linear_confounded  # noqa: E402


@pytest.fixture(scope="session")
def linear_design():
    return linear_confounded(n=2000, seed=1)


@pytest.fixture(scope="session")
def heterogeneous_design():
    return heterogeneous_confounded(n=3000, seed=2)
