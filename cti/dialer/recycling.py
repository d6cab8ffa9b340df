"""Recycling a lead after a dial: its next status and when it may be dialled again (pure, no I/O).

Each outcome has a rule ``Recycle(delay, max_attempts)`` (cti.dialer.eligibility): the lead is retried
``delay`` seconds after the attempt while the attempts that ended with that outcome are below the rule's
maximum (busy max 2: the second busy ends the lead) and all its attempts are below the campaign's
``max_attempts`` (the overall cap); past either the lead is ``done`` with that outcome as its final one.
``answered`` ends the lead. An ``abandoned`` (dropped) call is never redialled within 72 h (Ofcom),
whatever its delay says.
Outcomes without a rule use the campaign's ``retry_seconds`` and ``max_attempts`` (docs/design/leads.md).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cti.dialer.compliance import ABANDON_NO_REDIAL
from cti.dialer.eligibility import DEFAULT_RECYCLING, Recycle

ABANDONED = "abandoned"
FINAL_OUTCOMES = frozenset({"answered", "connected"})
DEFAULT_RULES: Mapping[str, Recycle] = {
    **DEFAULT_RECYCLING,
    ABANDONED: Recycle(delay=ABANDON_NO_REDIAL.total_seconds(), max_attempts=3),
}
# the outcomes a rule may be set for (cti.toml, the campaign page); others use retry_seconds/max_attempts
RECYCLABLE = ("busy", "no_answer", "machine", "abandoned", "congestion", "failed")
MAX_DISPOSITIONS = 100
_CODE = re.compile(r"^[\w][\w .:/-]{0,63}$", re.UNICODE)
_ALIASES = {"no-answer": "no_answer", "noanswer": "no_answer", "dropped": ABANDONED, "amd": "machine"}


@dataclass(frozen=True, slots=True)
class Step:
    status: str  # retry or done
    next_attempt_at: float | None
    final_outcome: str | None  # set when the lead is done


def canonical(outcome: str) -> str:
    o = outcome.strip().lower()
    return _ALIASES.get(o, o)


def next_step(
    *,
    attempts: int,
    outcome: str,
    at: float,
    campaign_max: int,
    retry_seconds: float,
    rules: Mapping[str, Recycle] = DEFAULT_RULES,
    last_abandon_at: float | None = None,
    outcome_attempts: int | None = None,
) -> Step:
    """``attempts`` counts this attempt, ``outcome_attempts`` the attempts (this one too) that ended with
    ``outcome`` (default: ``attempts``). The lead's status after ``outcome`` at ``at`` (epoch seconds)."""
    o = canonical(outcome)
    if o in FINAL_OUTCOMES:
        return Step("done", None, o)
    rule = rules.get(o, Recycle(retry_seconds, campaign_max))
    same = attempts if outcome_attempts is None else outcome_attempts
    if same >= rule.max_attempts or attempts >= campaign_max:
        return Step("done", None, o)
    ready = at + max(rule.delay, 0.0)
    abandon = at if o == ABANDONED else last_abandon_at
    if abandon is not None:
        ready = max(ready, abandon + ABANDON_NO_REDIAL.total_seconds())
    return Step("retry", ready, None)


class RuleError(ValueError):
    """A recycling rule or a disposition refused: ``key`` (``busy``, ``[2].code``) and the ``reason``."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key, self.reason = key, reason


@dataclass(frozen=True, slots=True)
class Disposition:
    """A code an agent may give a campaign's lead: ``final`` ends the lead, ``sale`` counts a sale,
    ``callback`` asks for a time and schedules a callback to the same agent."""

    code: str
    final: bool = True
    sale: bool = False
    callback: bool = False


def check_rule(outcome: object, value: object) -> tuple[str, Recycle]:
    """One rule as given (``{"delay": 600, "max": 3}``) for a known outcome, or RuleError."""
    name = canonical(str(outcome))
    if name not in RECYCLABLE:
        raise RuleError(str(outcome), f"not an outcome; one of {', '.join(RECYCLABLE)}")
    if not isinstance(value, Mapping) or set(value) - {"delay", "max"}:
        raise RuleError(name, "expected {delay = seconds, max = attempts}")
    delay, most = value.get("delay", 0), value.get("max")
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not math.isfinite(delay):
        raise RuleError(name, "delay must be a number of seconds")
    if delay < 0:
        raise RuleError(name, "delay must be >= 0 seconds")
    if isinstance(most, bool) or not isinstance(most, int) or most < 1:
        raise RuleError(name, "max must be a whole number >= 1 (attempts with that outcome)")
    return name, Recycle(float(delay), most)


def check_rules(data: object) -> dict[str, Recycle]:
    """The rules given (outcome -> {delay, max}), checked; the defaults are not added."""
    if not isinstance(data, Mapping):
        raise RuleError("recycling", "expected a table outcome -> {delay, max}")
    return dict(check_rule(k, v) for k, v in data.items())


def check_dispositions(data: object) -> tuple[Disposition, ...]:
    """A campaign's dispositions as given (a list of {code, final, sale, callback}), checked, by code."""
    if not isinstance(data, list | tuple) or len(data) > MAX_DISPOSITIONS:
        raise RuleError("dispositions", f"expected a list of at most {MAX_DISPOSITIONS} dispositions")
    out: dict[str, Disposition] = {}
    for i, d in enumerate(data):
        if not isinstance(d, Mapping) or set(d) - {"code", "final", "sale", "callback"}:
            raise RuleError(f"[{i}]", "expected {code, final, sale, callback}")
        code = d.get("code")
        if not isinstance(code, str) or not _CODE.match(code):
            raise RuleError(f"[{i}].code", "1 to 64 letters, digits, spaces or . : / - (starting with one)")
        if code in out:
            raise RuleError(f"[{i}].code", f"{code!r} twice")
        flags = {k: d.get(k, k == "final") for k in ("final", "sale", "callback")}
        for k, v in flags.items():
            if not isinstance(v, bool):
                raise RuleError(f"[{i}].{k}", "must be true or false")
        out[code] = Disposition(code, **flags)
    return tuple(sorted(out.values(), key=lambda d: d.code))  # as the store lists them: by code


def parse_rules(text: str | None) -> dict[str, Recycle]:
    """The campaign's rules from JSON ``{"busy": {"delay": 600, "max": 5}, ...}`` over the defaults.

    A clear ``ValueError`` on anything else."""
    return {**DEFAULT_RULES, **own_rules(text)}


def own_rules(text: str | None) -> dict[str, Recycle]:
    """The rules stored for a campaign (JSON, as :func:`parse_rules`), without the defaults."""
    rules: dict[str, Recycle] = {}
    if not text:
        return rules
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"recycling rules: not JSON ({e.msg})") from None
    if not isinstance(data, dict):
        raise ValueError("recycling rules: expected an object outcome -> {delay, max}")
    for key, value in data.items():
        if not isinstance(value, dict):
            raise ValueError(f"recycling rule {key!r}: expected {{delay, max}}")
        delay, most = value.get("delay"), value.get("max")
        if not isinstance(delay, int | float) or delay < 0 or not isinstance(most, int) or most < 1:
            raise ValueError(f"recycling rule {key!r}: delay >= 0 seconds and max >= 1 attempts")
        rules[canonical(str(key))] = Recycle(float(delay), most)
    return rules


def dump_rules(rules: Mapping[str, Recycle]) -> str:
    return json.dumps({k: {"delay": r.delay, "max": r.max_attempts} for k, r in sorted(rules.items())})
