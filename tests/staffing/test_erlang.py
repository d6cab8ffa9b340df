"""Erlang C and Erlang A against the published figures (issue #17), and their invariants."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.core.errors import UsageError
from cti.staffing.erlang import (
    Traffic,
    agents_needed,
    erlang_a_figures,
    erlang_b,
    erlang_c,
    erlang_c_figures,
    scheduled,
)

# 100 calls per 30 minutes, AHT 3 minutes, answered within 20 s, 14 agents
PUBLISHED = Traffic(calls=100, interval=1800, aht=180)


def test_erlang_c_equals_the_published_figures() -> None:
    f = erlang_c_figures(PUBLISHED, 14, 20)
    assert f.p_wait == pytest.approx(0.174132, abs=1e-4)
    assert f.asa == pytest.approx(7.836, abs=1e-4)
    assert f.service_level == pytest.approx(0.888350, abs=1e-4)
    assert f.occupancy == pytest.approx(0.714286, abs=1e-4)
    assert f.p_abandon == 0.0


def test_erlang_a_with_five_minutes_patience_equals_the_published_figures() -> None:
    f = erlang_a_figures(Traffic(100, 1800, 180, patience=300), 14, 20)
    assert f.p_wait == pytest.approx(0.14526, abs=1e-4)
    assert f.p_abandon == pytest.approx(0.013984, abs=1e-4)
    assert f.occupancy == pytest.approx(0.704297, abs=1e-4)
    assert f.service_level == pytest.approx(0.9168, abs=1e-4)


def test_erlang_b_of_small_cases_by_hand() -> None:
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)  # (1/2) / (1 + 1 + 1/2)
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = rho


def test_agents_needed_is_the_fewest_that_reach_the_target() -> None:
    need = agents_needed(PUBLISHED, 20, 0.8)
    assert need.agents == 14
    assert erlang_c_figures(PUBLISHED, 13, 20).service_level < 0.8 <= need.service_level
    assert agents_needed(Traffic(100, 1800, 180, 300), 20, 0.85).agents == 13
    assert scheduled(13, 0.3) == 19
    assert scheduled(14, 0.3) == 20  # 14 / 0.7 is 20.000000000000004 in floating point
    assert scheduled(0, 0.5) == 0


def test_large_centers_are_stable() -> None:
    big = Traffic(200_000, 1800, 180)  # 20 000 Erlangs
    need = agents_needed(big, 20, 0.8)
    assert 20_000 < need.agents < 20_200
    assert 0.8 <= need.service_level <= 1
    a = erlang_a_figures(Traffic(200_000, 1800, 180, 300), need.agents, 20)
    assert all(0 <= x <= 1 for x in (a.p_wait, a.p_abandon, a.service_level, a.occupancy))
    assert a.service_level >= need.service_level - 1e-3


def test_overload_and_empty_traffic() -> None:
    over = erlang_c_figures(PUBLISHED, 10, 20)  # 10 agents, 10 Erlangs
    assert (over.p_wait, over.service_level, over.asa) == (1.0, 0.0, math.inf)
    assert over.to_json()["asa"] is None
    assert erlang_c_figures(Traffic(0, 1800, 180), 0, 20).service_level == 0.0
    assert agents_needed(Traffic(0, 1800, 180), 20, 0.8).agents == 0
    abandon = erlang_a_figures(Traffic(300, 1800, 180, 300), 14, 20)  # 30 Erlangs on 14: stable, abandons
    assert abandon.p_abandon == pytest.approx(1 - 14 / 30, abs=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"calls": -1, "interval": 1800, "aht": 180}, "calls"),
        ({"calls": 1, "interval": 0, "aht": 180}, "interval"),
        ({"calls": 1, "interval": 1800, "aht": 0}, "AHT"),
        ({"calls": 1, "interval": 1800, "aht": 180, "patience": 0}, "patience"),
    ],
)
def test_bad_traffic_is_refused_with_a_clear_error(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Traffic(**kwargs)


def test_bad_targets_are_refused() -> None:
    with pytest.raises(UsageError, match="service-level target"):
        agents_needed(PUBLISHED, 20, 1.0)
    with pytest.raises(UsageError, match="shrinkage"):
        scheduled(3, 1.0)
    with pytest.raises(UsageError, match="target answer time"):
        erlang_c_figures(PUBLISHED, 3, -1)


calls = st.floats(min_value=0.5, max_value=2000)
ahts = st.floats(min_value=10, max_value=900)
targets = st.floats(min_value=0, max_value=120)
patiences = st.none() | st.floats(min_value=5, max_value=3600)


@given(calls, ahts, targets, patiences, st.integers(min_value=0, max_value=400))
def test_service_level_is_non_decreasing_in_agents(
    n_calls: float, aht: float, target: float, patience: float | None, agents: int
) -> None:
    t = Traffic(n_calls, 900, aht, patience)
    now = erlang_a_figures(t, agents, target)
    more = erlang_a_figures(t, agents + 1, target)
    assert more.service_level >= now.service_level - 1e-12
    for f in (now, more):
        assert 0.0 <= f.p_wait <= 1.0
        assert 0.0 <= f.p_abandon <= f.p_wait + 1e-12
        assert 0.0 <= f.service_level <= 1.0
        assert 0.0 <= f.occupancy <= 1.0


@given(calls, ahts, targets, st.floats(min_value=1.05, max_value=3))
def test_erlang_a_with_a_huge_patience_is_erlang_c(
    n_calls: float, aht: float, target: float, headroom: float
) -> None:
    t = Traffic(n_calls, 900, aht)
    agents = max(1, math.ceil(t.load * headroom))
    c = erlang_c_figures(t, agents, target)
    a = erlang_a_figures(Traffic(n_calls, 900, aht, patience=1e12), agents, target)
    assert a.p_wait == pytest.approx(c.p_wait, abs=1e-6)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-6)
    assert a.asa == pytest.approx(c.asa, rel=1e-6, abs=1e-6)
    assert a.occupancy == pytest.approx(c.occupancy, abs=1e-6)
    assert a.p_abandon < 1e-6


@given(calls, ahts, targets, patiences, st.floats(min_value=0.05, max_value=0.99))
def test_agents_needed_is_minimal(
    n_calls: float, aht: float, target: float, patience: float | None, sl: float
) -> None:
    t = Traffic(n_calls, 900, aht, patience)
    need = agents_needed(t, target, sl)
    assert need.service_level >= sl
    assert need.agents == 0 or erlang_a_figures(t, need.agents - 1, target).service_level < sl


def uniformized(
    lam: float, mu: float, theta: float, n: int, t: float, size: int = 400
) -> tuple[float, float]:
    """An independent oracle: (P(wait), P(answered within t)) of M/M/n+M from the truncated chain's
    stationary law and the tagged caller's position process, solved by uniformization."""
    states = [1.0]
    for k in range(1, n + size):
        states.append(states[-1] * lam / (k * mu if k <= n else n * mu + (k - n) * theta))
    z = sum(states)
    ahead = [states[n + j] / z for j in range(size)]  # an arrival finds j waiting ahead (PASTA)
    rate = n * mu + size * theta
    p, served, within, weight = ahead[:], 0.0, 0.0, math.exp(-rate * t)
    for k in range(int(rate * t + 12 * math.sqrt(rate * t) + 30)):
        within += weight * served
        nxt = [0.0] * size
        for i, x in enumerate(p):
            advance = n * mu + i * theta
            if i == 0:
                served += x * advance / rate
            else:
                nxt[i - 1] += x * advance / rate
            nxt[i] += x * (1 - (advance + theta) / rate)
        p, weight = nxt, weight * rate * t / (k + 1)
    p_wait = sum(ahead)
    return p_wait, 1 - p_wait + within


@pytest.mark.parametrize(
    ("calls", "aht", "patience", "agents", "target"),
    [(100, 180, 300, 14, 20), (100, 180, 60, 9, 30), (40, 300, 120, 6, 15), (300, 120, 600, 21, 10)],
)
def test_erlang_a_agrees_with_an_independent_solution(
    calls: float, aht: float, patience: float, agents: int, target: float
) -> None:
    f = erlang_a_figures(Traffic(calls, 1800, aht, patience), agents, target)
    p_wait, sl = uniformized(calls / 1800, 1 / aht, 1 / patience, agents, target)
    assert f.p_wait == pytest.approx(p_wait, abs=1e-9)
    assert f.service_level == pytest.approx(sl, abs=1e-6)
