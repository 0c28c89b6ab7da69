"""Latency percentiles: within the documented error of the exact quantile, rolling, through govern()."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_os import govern
from agent_sre import LatencyPercentiles

from .conftest import FakeClock


def exact(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[math.ceil(q * len(ordered)) - 1]


@settings(max_examples=150, deadline=None)
@given(
    samples=st.lists(st.floats(min_value=2e-6, max_value=1e4), min_size=1, max_size=300),
    q=st.sampled_from([0.5, 0.9, 0.95, 0.99, 1.0]),
)
def test_percentile_is_within_one_bin_above_the_exact_value(samples: list[float], q: float) -> None:
    lat = LatencyPercentiles(clock=lambda: 0.0)
    for s in samples:
        lat.record("t", s, at=0.0)
    (got,) = lat.percentiles(q)
    want = exact(samples, q)
    assert got is not None
    assert want * (1 - 1e-9) <= got <= want * (1 + lat.relative_error) * (1 + 1e-9)


def test_the_window_rolls(clock: FakeClock) -> None:
    lat = LatencyPercentiles(window_s=60, buckets=6, clock=clock)
    for _ in range(100):
        lat.record("t", 2.0)
    clock.advance(30)
    lat.record("t", 0.001)
    assert lat.percentiles(0.99)[0] == pytest.approx(2.0, rel=lat.relative_error)
    clock.advance(40)  # the slow calls have left the window
    assert lat.percentiles(0.99)[0] == pytest.approx(0.001, rel=lat.relative_error)
    clock.advance(60)
    assert lat.percentiles(0.5) == [None]


def test_per_tool_and_through_govern(clock: FakeClock) -> None:
    lat = LatencyPercentiles(clock=clock)
    policy = "apiVersion: governance.toolkit/v1\nname: p\ndefault_action: allow\nrules:\n- name: d\n  condition: \"action.type == 'drop'\"\n  action: deny\n"
    fast = govern(lambda q: q, policy=policy, audit=False, tool_name="fast", observers=[lat])
    for _ in range(10):
        fast(q=1)
    lat.record("slow", 5.0)
    (p_fast,) = lat.percentiles(1.0, tool="fast")
    assert p_fast is not None and p_fast < 0.5
    assert lat.percentiles(1.0, tool="slow")[0] == pytest.approx(5.0, rel=lat.relative_error)
    assert lat.percentiles(1.0)[0] == pytest.approx(5.0, rel=lat.relative_error)
    with pytest.raises(ValueError, match="quantiles"):
        lat.percentiles(1.5)
