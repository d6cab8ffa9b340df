"""Matching: which agents a waiting call accepts at a given wait, and how they rank. Pure.

Rules 2 and 4 of ``cti.routing.router`` (eligibility with escalation steps; best fit, levels, then the
queue's selection order), as functions of the policy, the call's needs and one candidate agent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from cti.routing.agents import Agent
from cti.routing.policy import QueuePolicy, Selection, SkillNeed


class Candidate(Protocol):
    """An agent as the router keeps it (``cti.routing.router._RoutedAgent``)."""

    @property
    def machine(self) -> Agent: ...

    @property
    def skills(self) -> dict[str, int]: ...

    @property
    def calls(self) -> int: ...

    @property
    def talk_seconds(self) -> float: ...


def stage(policy: QueuePolicy, waited: float) -> int:
    """How many escalation steps are in force after ``waited`` seconds."""
    n = 0
    for step in policy.escalation:
        if waited >= step.after:
            n += 1
        else:
            break
    return n


def fits(
    skills: Mapping[str, int], needs: Iterable[SkillNeed], min_level: int | None, drop: set[str]
) -> bool:
    for need in needs:
        if need.skill in drop:
            continue
        level = need.level if min_level is None else min(need.level, min_level)
        if skills.get(need.skill, 0) < level:
            return False
    return True


def eligible(
    policies: Mapping[str, QueuePolicy],
    policy: QueuePolicy,
    needs: tuple[SkillNeed, ...],
    stage: int,
    rec: Candidate,
) -> int | None:
    """-1 when the agent fits the call as it is, the index of the step that let it in, or None (rule 2)."""
    skills = rec.skills
    member = not policy.members or rec.machine.id in policy.members
    if member and fits(skills, needs, None, set()):
        return -1
    min_level: int | None = None
    drop: set[str] = set()
    for i in range(stage):
        step = policy.escalation[i]
        if step.min_level is not None:
            min_level = step.min_level if min_level is None else min(min_level, step.min_level)
        drop.update(step.drop)
        if member and (step.min_level is not None or step.drop) and fits(skills, needs, min_level, drop):
            return i
        if step.add_agents_with and any(skills.get(s, 0) > 0 for s in step.add_agents_with):
            return i
        if step.overflow_to is not None:
            other = policies.get(step.overflow_to)
            if (
                other is not None
                and (not other.members or rec.machine.id in other.members)
                and fits(skills, other.skills, None, set())
            ):
                return i
    return None


def rank(
    policy: QueuePolicy,
    rec: Candidate,
    needed: frozenset[str],
    needs: tuple[SkillNeed, ...],
    waited: float,
    at: float,
) -> tuple[float, ...]:
    """Smaller is better (rule 4)."""
    spare = float(sum(1 for s in rec.skills if s not in needed)) if policy.best_fit else 0.0
    level = -float(sum(rec.skills.get(n.skill, 0) for n in needs)) if policy.best_fit else 0.0
    idle = at - rec.machine.since
    sel = policy.selection
    if sel is Selection.LONGEST_IDLE:
        order = -idle
    elif sel is Selection.FEWEST_CALLS:
        order = float(rec.calls)
    elif sel is Selection.LEAST_TALK:
        order = rec.talk_seconds
    else:
        order = -(policy.wait_weight * waited + policy.idle_weight * idle)
    return (spare, level, order, -idle)
