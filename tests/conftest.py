"""Shared test settings: Hypothesis profiles for the bounded and the long fuzz run."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# The normal suite runs the same examples every time, so a red run is reproducible and
# a green one is not luck; `HYPOTHESIS_PROFILE=long` explores (see tests/README.md).
settings.register_profile(
    "ci",
    max_examples=50,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
)
settings.register_profile(
    "long",
    max_examples=5_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
