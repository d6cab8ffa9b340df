"""What a queue asks of its calls and agents, as data: skills, selection order, escalation, wrap-up.

Everything a supervisor may tune lives in ``QueuePolicy`` (read from ``[routing.queues.<name>]`` in
cti.toml by ``cti.config``); the router (``cti.routing.router``) only interprets it.

Skills: an agent has skills with levels 1-10 (``{"sales": 7, "lang_fr": 3}``). A call needs skills with
a minimum level (``SkillNeed``); a language is the skill ``lang_<code>``; the customer's value tier can
raise the priority (``tier_priority``) and ask for a skill (``tier_skills``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum

SKILL_NAME = re.compile(r"^[a-z0-9_-]{1,32}$")
MIN_LEVEL, MAX_LEVEL = 1, 10


class PolicyError(ValueError):
    """A routing setting is wrong; ``key`` names it (``cti.config`` adds the file)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key, self.reason = key, reason


def check_skill(name: str, level: int, key: str = "skill") -> None:
    if not SKILL_NAME.match(name):
        raise PolicyError(key, f"skill name {name!r} must be 1-32 of a-z, 0-9, '_' or '-'")
    if not MIN_LEVEL <= level <= MAX_LEVEL:
        raise PolicyError(key, f"level {level} of {name!r} must be {MIN_LEVEL}..{MAX_LEVEL}")


def language_skill(language: str) -> str:
    return f"lang_{language.lower()}"


@dataclass(frozen=True, slots=True)
class SkillNeed:
    skill: str
    level: int = MIN_LEVEL

    def __post_init__(self) -> None:
        check_skill(self.skill, self.level)

    @classmethod
    def parse(cls, text: str, key: str = "skill") -> SkillNeed:
        """``sales`` (level 1) or ``sales:5``."""
        name, _, level = text.strip().partition(":")
        try:
            lvl = int(level) if level else MIN_LEVEL
        except ValueError:
            raise PolicyError(key, f"{text!r}: the level must be a whole number") from None
        check_skill(name, lvl, key)
        return cls(name, lvl)


@dataclass(frozen=True, slots=True)
class Requirements:
    """What one call needs, beyond its queue: from an inbound rule or from the CRM."""

    skills: tuple[SkillNeed, ...] = ()
    language: str | None = None
    tier: str | None = None
    priority: int = 0

    def merged(self, other: Requirements) -> Requirements:
        """Both sets of needs; for one skill the higher level; the higher priority."""
        levels: dict[str, int] = {}
        for need in (*self.skills, *other.skills):
            levels[need.skill] = max(levels.get(need.skill, 0), need.level)
        return Requirements(
            tuple(SkillNeed(s, lvl) for s, lvl in sorted(levels.items())),
            other.language or self.language,
            other.tier or self.tier,
            max(self.priority, other.priority),
        )


class Selection(Enum):
    """Among agents who fit a call equally well, who gets it."""

    LONGEST_IDLE = "longest_idle"
    FEWEST_CALLS = "fewest_calls"
    LEAST_TALK = "least_talk"
    # wait_weight * caller's wait + idle_weight * agent's idle time, highest first; the router takes the
    # calls in order (its rule 4), so in effect: the longest idle agent (wait_weight has no effect)
    WEIGHTED = "weighted"


@dataclass(frozen=True, slots=True)
class Escalation:
    """After ``after`` seconds of wait, the call accepts more agents (steps add up, in order of ``after``).

    - ``min_level``: any level >= this one in the required skills will do;
    - ``drop``: these skills are no longer required;
    - ``add_agents_with``: agents with any of these skills (the generalists) are eligible;
    - ``overflow_to``: agents who fit that queue's requirements are eligible; the call keeps its place.
    """

    after: float
    min_level: int | None = None
    drop: tuple[str, ...] = ()
    add_agents_with: tuple[str, ...] = ()
    overflow_to: str | None = None
    priority: int = 0  # added to the call's priority from this step on


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    name: str
    skills: tuple[SkillNeed, ...] = ()
    selection: Selection = Selection.LONGEST_IDLE
    wait_weight: float = 1.0
    idle_weight: float = 1.0
    best_fit: bool = True  # prefer the agent with the fewest skills the call does not need
    escalation: tuple[Escalation, ...] = ()
    priority: int = 0
    tier_priority: Mapping[str, int] = field(default_factory=dict)
    tier_skills: Mapping[str, SkillNeed] = field(default_factory=dict)
    relationship_seconds: float = 0.0  # the customer's owner or last agent first, for this long
    reservation_timeout: float = 5.0  # an offered agent's phone must ring within this
    ring_timeout: float = 20.0  # a ring not answered within this is a ring-no-answer
    miss_retry: float = 30.0  # an agent who let a call ring is not offered that call again for this long
    max_misses: int = 3  # ring-no-answers in a row that pause the agent (0: never)
    miss_pause_reason: str = "ring-no-answer"
    wrapup_seconds: float = 0.0
    wrapup_early_end: bool = True
    need_disposition: bool = False
    members: frozenset[str] = frozenset()  # when set, only these agents serve the queue
    # > 0: the service-level-aware order (router rule 1a): within a priority, this queue's calls are
    # served by how soon they pass this threshold (seconds), and once past it after every call that has
    # not. Raises the share answered within the threshold; the calls past it wait longer (max wait,
    # abandons). 0: oldest first (rule 1)
    service_level_order: float = 0.0
    # where the estimated wait at entry (cti.routing.ewt) is used; 0: off
    offer_callback_above: float = 0.0  # EWT above this (seconds): the caller is offered a callback
    overflow_if_ewt_above: float = 0.0  # EWT above this (seconds): the call joins ``overflow_to`` instead
    overflow_to: str | None = None
    # re-estimation while waiting (cti.routing.ewt.reannounce): every ``announce_every`` seconds (the
    # dialplan's periodic announcement asks; 0: at entry only) the EWT is announced again, the overflow
    # decided again, and the callback offered again when the EWT rose past ``offer_callback_above`` since
    # the last answer or ``offer_callback_every`` seconds after the last offer (0: once per rise)
    announce_every: float = 0.0
    offer_callback_every: float = 0.0

    def __post_init__(self) -> None:
        key = f"routing.queues.{self.name}"
        afters = [s.after for s in self.escalation]
        if afters != sorted(afters) or any(a < 0 for a in afters):
            raise PolicyError(f"{key}.escalation", "steps must be in order of 'after' (seconds, >= 0)")
        for s in self.escalation:
            if s.min_level is not None and not MIN_LEVEL <= s.min_level <= MAX_LEVEL:
                raise PolicyError(f"{key}.escalation", f"min_level {s.min_level} must be 1..10")
            if s.overflow_to == self.name:
                raise PolicyError(f"{key}.escalation", "a queue cannot overflow to itself")
        for name, value in (
            ("reservation_timeout", self.reservation_timeout),
            ("ring_timeout", self.ring_timeout),
        ):
            if value <= 0:
                raise PolicyError(f"{key}.{name}", "must be > 0 seconds")
        for name, value in (
            ("wrapup_seconds", self.wrapup_seconds),
            ("relationship_seconds", self.relationship_seconds),
            ("miss_retry", self.miss_retry),
            ("service_level_order", self.service_level_order),
            ("offer_callback_above", self.offer_callback_above),
            ("overflow_if_ewt_above", self.overflow_if_ewt_above),
            ("announce_every", self.announce_every),
            ("offer_callback_every", self.offer_callback_every),
        ):
            if not value >= 0:  # NaN too
                raise PolicyError(f"{key}.{name}", "must be >= 0 seconds")
        if self.max_misses < 0:
            raise PolicyError(f"{key}.max_misses", "must be >= 0")
        if self.overflow_to == self.name:
            raise PolicyError(f"{key}.overflow_to", "a queue cannot overflow to itself")
        if (self.overflow_to is None) != (self.overflow_if_ewt_above == 0):
            missing = "overflow_to" if self.overflow_to is None else "overflow_if_ewt_above"
            raise PolicyError(
                f"{key}.{missing}", "overflow by EWT needs both overflow_if_ewt_above and overflow_to"
            )

    def with_members(self, members: frozenset[str]) -> QueuePolicy:
        return replace(self, members=members)


def check_overflows(policies: Mapping[str, QueuePolicy]) -> None:
    for p in policies.values():
        if p.overflow_to is not None and p.overflow_to not in policies:
            raise PolicyError(f"routing.queues.{p.name}.overflow_to", f"{p.overflow_to!r} is not a queue")
        for s in p.escalation:
            if s.overflow_to is not None and s.overflow_to not in policies:
                raise PolicyError(
                    f"routing.queues.{p.name}.escalation", f"overflow_to {s.overflow_to!r} is not a queue"
                )
