"""The routing rules restated from the docstrings, independently of the router, for the property tests.

These functions are the specification the tests hold the router to: they are written from the theory
of operation in ``cti.routing.router`` and ``cti.routing.policy``, not from the router's code.
"""

from __future__ import annotations

from collections.abc import Mapping

from cti.routing.policy import QueuePolicy, SkillNeed


def has(skills: Mapping[str, int], needs: tuple[SkillNeed, ...], *, floor: int | None = None) -> bool:
    """Every need met; with ``floor`` (an escalation's min_level) a level of ``floor`` is enough."""
    return all(skills.get(n.skill, 0) >= (n.level if floor is None else min(n.level, floor)) for n in needs)


def steps_in_force(policy: QueuePolicy, waited: float) -> int:
    return sum(1 for s in policy.escalation if waited >= s.after)


def admits(
    policies: Mapping[str, QueuePolicy],
    queue: str,
    needs: tuple[SkillNeed, ...],
    step: int,
    agent: str,
    skills: Mapping[str, int],
) -> bool:
    """Whether escalation step ``step`` (-1: none) of ``queue`` lets ``agent`` take a call with ``needs``."""
    policy = policies[queue]
    member = not policy.members or agent in policy.members
    if step == -1:
        return member and has(skills, needs)
    s = policy.escalation[step]
    levels = [e.min_level for e in policy.escalation[: step + 1] if e.min_level is not None]
    dropped = {d for e in policy.escalation[: step + 1] for d in e.drop}
    if member and (s.min_level is not None or s.drop):
        kept = tuple(n for n in needs if n.skill not in dropped)
        if has(skills, kept, floor=min(levels) if levels else None):
            return True
    if any(skills.get(x, 0) > 0 for x in s.add_agents_with):
        return True
    if s.overflow_to is not None:
        other = policies[s.overflow_to]
        if (not other.members or agent in other.members) and has(skills, other.skills):
            return True
    return False


def eligible(
    policies: Mapping[str, QueuePolicy],
    queue: str,
    needs: tuple[SkillNeed, ...],
    waited: float,
    agent: str,
    skills: Mapping[str, int],
) -> bool:
    """Rule 2: the agent fits the call as it is, or through a step in force after ``waited`` seconds."""
    n = steps_in_force(policies[queue], waited)
    return any(admits(policies, queue, needs, i, agent, skills) for i in range(-1, n))
