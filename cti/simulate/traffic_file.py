"""The traffic file of ``cti simulate`` (TOML; every key is documented in docs/simulate.md).

Errors are ``ConfigError``s naming the file and the dotted key. Distributions are those of the
simulated Asterisk (``cti.sim.scenario.parse_dist``: a number, or ``{dist = "constant" | "fixed" |
"uniform" | "exponential" | "normal" | "lognormal", ...}``); the table reader is that module's too.
"""

from __future__ import annotations

import math
import tomllib
from typing import Any

from cti.core.errors import ConfigError
from cti.routing.policy import PolicyError, Requirements, SkillNeed, check_skill
from cti.routing.simulate.traffic import (
    NEVER,
    ZERO,
    AgentGroup,
    AppQueueSettings,
    CallType,
    Distribution,
    Traffic,
)
from cti.sim.scenario import Dist, _Reader, parse_dist

TALK = Dist("exponential", 180.0)


def _fixed_alias(v: Any) -> Any:
    if isinstance(v, dict) and v.get("dist") == "fixed":
        return {**v, "dist": "constant"}
    return v


def _dist(r: _Reader, k: str, default: Distribution) -> Distribution:
    v = r.get(k)
    return default if v is None else parse_dist(r.path, r.key(k), _fixed_alias(v))


def _per_hour(r: _Reader, k: str) -> tuple[float, ...]:
    v = r.get(k)
    values = [v] if isinstance(v, int | float) and not isinstance(v, bool) else v
    if not isinstance(values, list) or not values:
        raise r.err(k, "required: arrivals per hour, a number or a list with one number per hour")
    for i, x in enumerate(values):
        if isinstance(x, bool) or not isinstance(x, int | float) or x < 0:
            raise r.err(f"{k}[{i}]", f"expected a number >= 0, got {x!r}")
    return tuple(float(x) for x in values)


def _skills_list(r: _Reader, k: str) -> tuple[SkillNeed, ...]:
    v = r.get(k, [])
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise r.err(k, 'expected a list of skills, e.g. ["sales:5", "billing"]')
    try:
        return tuple(SkillNeed.parse(x, r.key(k)) for x in v)
    except PolicyError as e:
        raise r.err(k, e.reason) from None


def _skills_table(r: _Reader, k: str) -> dict[str, int]:
    v = r.get(k, {})
    if not isinstance(v, dict) or not v:
        raise r.err(k, "required: a table of skill = level (1-10), e.g. {sales = 7}")
    out: dict[str, int] = {}
    for name, level in v.items():
        if isinstance(level, bool) or not isinstance(level, int):
            raise r.err(f"{k}.{name}", f"expected a whole level 1-10, got {level!r}")
        try:
            check_skill(name, level, r.key(f"{k}.{name}"))
        except PolicyError as e:
            raise r.err(f"{k}.{name}", e.reason) from None
        out[name] = level
    return out


def _opt_str(r: _Reader, k: str) -> str | None:
    v = r.get(k)
    if v is not None and not isinstance(v, str):
        raise r.err(k, f"expected a string, got {v!r}")
    return v


def parse_traffic(text: str, path: str = "<string>") -> Traffic:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, "<syntax>", f"invalid TOML: {e}") from None
    top = _Reader(path, "", raw)
    sim = top.table("simulation")
    hours = sim.num("hours", 8.0, lo=1e-6)
    seed = sim.num("seed", 1, lo=0)
    drain = sim.num("drain_hours", 1.0)
    unpause = sim.num("unpause_after", 60.0)
    sim.done()
    aq = top.table("app_queue")
    app_queue = AppQueueSettings(
        aq.num("timeout", 15.0, lo=1e-3),
        aq.num("retry", 5.0),
        aq.num("wrapuptime", 0.0),
        aq.bool_("penalty_from_level", True),
    )
    aq.done()
    types: list[CallType] = []
    seen: set[str] = set()
    for r in top.tables("call_types"):
        name = r.str_("name")
        if name in seen:
            raise r.err("name", f"duplicate call type {name!r}")
        seen.add(name)
        priority = r.num("priority", 0, lo=-1000, hi=1000)
        needs = Requirements(_skills_list(r, "skills"), _opt_str(r, "language"), _opt_str(r, "tier"))
        needs = Requirements(needs.skills, needs.language, needs.tier, int(priority))
        types.append(
            CallType(
                name,
                r.str_("queue"),
                _per_hour(r, "arrivals_per_hour"),
                _dist(r, "talk", TALK),
                needs,
                _dist(r, "wrap", ZERO),
                _dist(r, "patience", NEVER),
            )
        )
        r.done()
    if not types:
        raise top.err("call_types", "required: at least one [[call_types]] table")
    groups: list[AgentGroup] = []
    for r in top.tables("agents"):
        name = r.str_("group")
        count = r.num("count", 1, lo=0, hi=100_000)
        if count != int(count):
            raise r.err("count", f"expected a whole number, got {count}")
        start, end = r.num("start", 0.0), r.num("end", math.inf)
        if end <= start:
            raise r.err("end", f"the shift must end after it starts ({start} h)")
        groups.append(
            AgentGroup(
                name,
                int(count),
                _skills_table(r, "skills"),
                start,
                end,
                _dist(r, "ring_delay", ZERO),
                r.num("answer_probability", 1.0, hi=1.0),
            )
        )
        r.done()
    if not groups:
        raise top.err("agents", "required: at least one [[agents]] group")
    top.done()
    return Traffic(tuple(types), tuple(groups), hours, int(seed), drain, unpause, app_queue)
