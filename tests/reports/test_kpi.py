"""KPI targets: the alert levels as a table, the hysteresis, the config's errors, the center's figures."""

from __future__ import annotations

from typing import Any

import pytest

from cti.config import parse_config
from cti.core.errors import ConfigError
from cti.reports.kpi import TRANSITIONS, KpiEvaluator, Level, Scope, Target, Zone, center_figures

G, W, B = Level.OK, Level.WARN, Level.BREACH  # green, warn, breach
# service level of queue sales: at least 0.80, warn under 0.85, hysteresis 0.02
SL = Target.build("service_level", "queue", "sales", 0.80, "min", warn=0.85, hysteresis=0.02)
# calls waiting in the center: at most 10, warn over 5, hysteresis 1
WAITING = Target.build("waiting", "center", "", 10, "max", warn=5, hysteresis=1)


@pytest.mark.parametrize(
    ("target", "values", "levels"),
    [
        # ok -> warn -> breach -> ok
        (SL, [0.90, 0.84, 0.79, 0.90], [G, W, B, G]),
        # a breach is left only 0.02 above the threshold; warn only 0.02 above warn
        (SL, [0.79, 0.81, 0.819, 0.821, 0.86, 0.869, 0.871], [B, B, B, W, W, W, G]),
        # on the boundary: meeting the threshold is not a breach, meeting warn not a warning
        (SL, [0.85, 0.80, 0.7999], [G, W, B]),
        # straight from ok to breach and back
        (SL, [0.5, 0.95], [B, G]),
        # no figure yet (nothing offered): ok
        (SL, [0.5, None], [B, G]),
        (WAITING, [0, 6, 11, 10, 9, 5, 4], [G, W, B, B, W, W, G]),
        (WAITING, [5, 10, 4.5, 6, 5.5], [G, W, W, W, W]),
    ],
)
def test_levels_follow_the_figure_with_hysteresis(
    target: Target, values: list[float | None], levels: list[Level]
) -> None:
    kpi = KpiEvaluator([target])
    seen = []
    level = G
    for v in values:
        for alert in kpi.observe(target.scope, target.name, {target.metric: v}, 0.0):
            assert alert.previous is level
            level = alert.level
        seen.append(level)
    assert seen == levels


def test_the_table_is_complete_and_is_enter_then_hold() -> None:
    assert set(TRANSITIONS) == {(level, zone) for level in Level for zone in Zone}
    rank = {G: 0, W: 1, B: 2}
    enter_hold = {
        Zone.PAST_BREACH: (B, B),
        Zone.PAST_WARN_HOLD_BREACH: (W, B),
        Zone.PAST_WARN: (W, W),
        Zone.HOLD_BREACH: (G, B),
        Zone.HOLD_WARN: (G, W),
        Zone.CLEAR: (G, G),
    }
    for (level, zone), nxt in TRANSITIONS.items():
        enter, hold = enter_hold[zone]
        expected = max(enter, min(level, hold, key=rank.__getitem__), key=rank.__getitem__)
        assert nxt is expected, (level, zone)


def test_a_wide_hysteresis_holds_a_breach_above_warn() -> None:
    wide = Target.build("abandon_rate", "queue", "", 0.10, "max", warn=0.08, hysteresis=0.05)
    assert wide.zone(0.11) is Zone.PAST_BREACH
    assert wide.zone(0.09) is Zone.PAST_WARN_HOLD_BREACH
    assert wide.zone(0.07) is Zone.HOLD_BREACH
    assert wide.zone(0.04) is Zone.HOLD_WARN
    assert wide.zone(0.02) is Zone.CLEAR


def test_targets_apply_to_their_subjects_and_remember_each() -> None:
    every = Target.build("answered", "agent", "", 3, "max")  # any agent: at most 3 answered
    kpi = KpiEvaluator([every, SL])
    assert every.hysteresis == 0 and every.warn == 3
    [alice] = kpi.observe(Scope.AGENT, "Alice", {"answered": 4}, 10.0)
    assert (alice.subject, alice.level, alice.value, alice.at) == ("Alice", B, 4.0, 10.0)
    assert kpi.observe(Scope.AGENT, "Bob", {"answered": 2}, 11.0) == []
    assert kpi.observe(Scope.QUEUE, "support", {"service_level": 0.1}, 12.0) == []  # SL is sales' only
    [sales] = kpi.observe(Scope.QUEUE, "sales", {"service_level": 0.1}, 13.0)
    assert [a.subject for a in kpi.active()] == ["Alice", "sales"]
    assert sales.to_json() == {
        "metric": "service_level",
        "scope": "queue",
        "name": "sales",
        "threshold": 0.8,
        "direction": "min",
        "warn": 0.85,
        "subject": "sales",
        "level": "breach",
        "previous": "ok",
        "value": 0.1,
        "at": 13.0,
    }
    kpi.observe(Scope.AGENT, "Alice", {"answered": 3}, 14.0)
    assert [a.subject for a in kpi.active()] == ["sales"]


def test_the_center_figures_sum_the_queues() -> None:
    queues: list[dict[str, Any]] = [
        {"offered": 10, "answered": 8, "abandoned": 2, "answered_within": 6, "waiting": 1,
         "avg_wait_answered": 10.0, "avg_wait": 12.0, "max_wait": 40.0},
        {"offered": 30, "answered": 30, "abandoned": 0, "answered_within": 30, "waiting": 3,
         "avg_wait_answered": 2.0, "avg_wait": 2.0, "max_wait": 9.0},
        {"offered": 0, "answered": 0, "abandoned": 0, "answered_within": 0, "waiting": 0,
         "avg_wait_answered": None, "avg_wait": None, "max_wait": 0.0},
    ]  # fmt: skip
    assert center_figures(queues) == {
        "offered": 40,
        "answered": 38,
        "abandoned": 2,
        "waiting": 4,
        "service_level": 36 / 40,
        "abandon_rate": 2 / 40,
        "avg_wait_answered": (80 + 60) / 38,
        "avg_wait": (120 + 60) / 40,
        "max_wait": 40.0,
    }
    assert center_figures([])["service_level"] is None


CONFIG = """
[[kpi.target]]
metric = "service_level"
scope = "queue"
name = "sales"
threshold = 0.8
direction = "min"
warn = 0.85
hysteresis = 0.02

[[kpi.target]]
metric = "waiting"
scope = "center"
threshold = 10
direction = "max"
warn = 5
"""


def test_the_configuration_builds_the_targets() -> None:
    assert parse_config(CONFIG).kpi.targets() == [
        SL,
        Target(WAITING.metric, Scope.CENTER, "", 10, "max", 5, 2.5),
    ]


MAX = 'threshold = 1\ndirection = "max"'
WAIT = 'metric = "waiting"\n'


@pytest.mark.parametrize(
    ("body", "key", "problem"),
    [
        ('metric = "sl"\n' + MAX, "metric", "not a queue figure"),
        (WAIT + 'scope = "team"\n' + MAX, "scope", "center"),
        (WAIT + 'scope = "center"\nname = "x"\n' + MAX, "name", "names no queue"),
        (WAIT + 'threshold = 1\ndirection = "up"', "direction", "min"),
        (WAIT + 'direction = "max"', "threshold", "required"),
        ('metric = "service_level"\nthreshold = 0.8\ndirection = "min"\nwarn = 0.7', "warn", ">="),
        (WAIT + MAX + "\nwarn = 7", "warn", "<="),
        (WAIT + MAX + "\nhysteresis = -1", "hysteresis", ">= 0"),
        (WAIT + 'threshold = "1"\ndirection = "max"', "threshold", "'1'"),
        (WAIT + MAX + "\nlevel = 2", "level", "unknown key"),
        ('metric = "aht"\nscope = "queue"\n' + MAX, "metric", "not a queue"),
    ],
)
def test_a_bad_target_is_a_clear_error(body: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config("[[kpi.target]]\n" + body)
    assert e.value.key == f"kpi.target[0].{key}"
    assert problem in e.value.problem
