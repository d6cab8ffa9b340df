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


def parse_rules(text: str | None) -> dict[str, Recycle]:
    """The campaign's rules from JSON ``{"busy": {"delay": 600, "max": 5}, ...}`` over the defaults.

    A clear ``ValueError`` on anything else."""
    rules = dict(DEFAULT_RULES)
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
