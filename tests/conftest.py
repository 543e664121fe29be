"""Test configuration shared by the whole suite: hypothesis profiles and tolerances.

Profiles (choose with HYPOTHESIS_PROFILE=...; CI=true selects "ci"):
  dev       the default: a moderate number of examples, no deadline
  ci        fewer examples, derandomised so a CI run is reproducible
  thorough  many examples, for hunting bugs locally
Deadlines are off everywhere: these machines are shared and timings are noisy.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=40, deadline=None)
settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# Tolerances for comparing the engine's float64 gradients with central differences.
GRAD_ATOL = 1e-5
GRAD_RTOL = 1e-3
