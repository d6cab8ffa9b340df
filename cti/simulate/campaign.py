"""``cti simulate --campaign FILE``: a campaign's dialling settings offline, through the pacing core.

The file (TOML) has one ``[campaign]`` table; every key is optional::

    [campaign]
    agents = 20          # agents logged in all day
    hours = 8.0
    days = 5             # seeded days
    talk_mean = 120.0    # seconds; talk_sd > 0 makes it lognormal, else exponential
    talk_sd = 0.0
    wrap = 15.0          # wrap-up seconds
    live = 0.20          # answer mix: live, answering machine, busy (the rest: no answer at 26 s)
    machine = 0.15
    busy = 0.10
    limit = 0.03         # the abandon limit of the day's window
    ratio = 3.0          # the fixed-ratio baseline's lines per idle agent

It prints per strategy (progressive, fixed_ratio, adaptive, cti) the talk utilisation, the abandon
rate, the worst hour, the days over the limit and the dials per agent hour.
"""

from __future__ import annotations

import statistics
import tomllib
from collections.abc import Callable
from typing import Any

from cti.core.errors import ConfigError
from cti.dialer.daymodel import AnswerMix, DayConfig, Duration, run_day
from cti.dialer.strategies import Adaptive, FixedRatio, Predictive, Progressive, Strategy

KEYS = {
    "agents": (20, 1, 100_000),
    "hours": (8.0, 0.01, 24.0),
    "days": (5, 1, 1000),
    "talk_mean": (120.0, 1.0, 36_000.0),
    "talk_sd": (0.0, 0.0, 36_000.0),
    "wrap": (15.0, 0.0, 3600.0),
    "live": (0.20, 0.0, 1.0),
    "machine": (0.15, 0.0, 1.0),
    "busy": (0.10, 0.0, 1.0),
    "limit": (0.03, 0.0, 1.0),
    "ratio": (3.0, 1.0, 50.0),
}
WHOLE = {"agents", "days"}


def parse_campaign(text: str, path: str = "<string>") -> dict[str, float]:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, "<syntax>", f"invalid TOML: {e}") from None
    table = raw.get("campaign")
    if not isinstance(table, dict):
        raise ConfigError(path, "campaign", "required: a [campaign] table")
    out: dict[str, float] = {}
    for key, value in table.items():
        if key not in KEYS:
            raise ConfigError(path, f"campaign.{key}", f"unknown key (known: {', '.join(KEYS)})")
        _, lo, hi = KEYS[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise ConfigError(path, f"campaign.{key}", f"expected a number in [{lo}, {hi}], got {value!r}")
        if key in WHOLE and value != int(value):
            raise ConfigError(path, f"campaign.{key}", f"expected a whole number, got {value!r}")
        out[key] = float(value)
    full = {k: out.get(k, float(d)) for k, (d, _, _) in KEYS.items()}
    if full["live"] + full["machine"] + full["busy"] > 1.0:
        raise ConfigError(path, "campaign.live", "live + machine + busy must be <= 1")
    return full


def simulate_campaign(c: dict[str, float]) -> dict[str, Any]:
    talk = (
        Duration("lognormal", c["talk_mean"], c["talk_sd"])
        if c["talk_sd"] > 0
        else Duration("exponential", c["talk_mean"])
    )
    cfg = DayConfig(
        int(c["agents"]),
        talk=talk,
        wrap=c["wrap"],
        mix=AnswerMix(c["live"], c["machine"], c["busy"]),
        hours=c["hours"],
        tick=2.0,
    )
    limit = c["limit"]
    makers: dict[str, Callable[[], Strategy]] = {
        "progressive": Progressive,
        "fixed_ratio": lambda: FixedRatio(c["ratio"]),
        "adaptive": lambda: Adaptive(limit),
        "cti": lambda: Predictive(limit),
    }
    out: dict[str, Any] = {"ceiling": round(cfg.ceiling, 4)}
    for name, make in makers.items():
        days = [run_day(cfg, make(), seed) for seed in range(1, int(c["days"]) + 1)]
        out[name] = {
            "talk_utilisation": round(statistics.fmean(d.talk_utilisation for d in days), 4),
            "abandon_rate": round(sum(d.abandons for d in days) / max(1, sum(d.live for d in days)), 4),
            "max_hour_abandon": round(max(d.max_hour_abandon for d in days), 4),
            "days_over_limit": sum(d.abandon_rate > limit for d in days),
            "dials_per_agent_hour": round(statistics.fmean(d.dials_per_agent_hour for d in days), 1),
        }
    return out


def human(f: dict[str, Any]) -> str:
    lines = [
        f"{'strategy':12} {'util':>6} {'abandon':>8} {'worst h':>8} {'days over':>9} {'dials/agent-h':>13}"
    ]
    for name in ("progressive", "fixed_ratio", "adaptive", "cti"):
        r = f[name]
        lines.append(
            f"{name:12} {r['talk_utilisation']:6.3f} {100 * r['abandon_rate']:7.2f}% "
            f"{100 * r['max_hour_abandon']:7.2f}% {r['days_over_limit']:9} {r['dials_per_agent_hour']:13}"
        )
    lines.append(f"ceiling talk/(talk+wrap) {f['ceiling']:.3f}")
    return "\n".join(lines)
