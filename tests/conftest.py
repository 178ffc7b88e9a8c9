"""Shared fixtures: simulated designs with known truth."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from causal_core.simulate import heterogeneous_confounded, linear_confounded  # noqa: E402


@pytest.fixture(scope="session")
def linear_design():
    return linear_confounded(n=2000, seed=1)


@pytest.fixture(scope="session")
def heterogeneous_design():
    return heterogeneous_confounded(n=3000, seed=2)
