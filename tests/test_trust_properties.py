"""Hypothesis property tests (issue 14, point 7) for the cleaner, the language step, date
normalisation, the readers, the lenient UTF-8 decoder and the similarity score. Few examples here
(the "tidings" profile keeps the suite fast); bench/fuzz.py runs the same targets with 100,000."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from trust_targets import TARGETS

settings.register_profile("tidings", max_examples=20, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_property(name):
    strategy, check = TARGETS[name]

    @settings(settings.get_profile("tidings"))
    @given(strategy)
    def run(value):
        check(value)

    run()
