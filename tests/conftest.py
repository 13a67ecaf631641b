"""Shared test configuration: hypothesis profiles and backend selection.

HYPOTHESIS_PROFILE=ci (bounded, derandomized: what CI runs), dev (default), intense.
MINIGRAD_BACKEND=cupy runs the whole suite on the GPU backend.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=20, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "dev", max_examples=50, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "intense", max_examples=1000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same random state on the active backend."""
    import minigrad as mg
    mg.manual_seed(0)
    np.random.seed(0)
    yield
    mg.current_backend().raise_deferred()  # a GPU's index check left unread fails its test
