"""Simulated agent phones: what happens when a Local/<ext>@agents channel rings.

The real PBX's ``agents`` context: the ``;2`` half rings RINGDELAY (default 1 s), answers, talks TALK
seconds (inherited ``__TALK``) and hangs up; ``__NOANSWER_<ext>=1`` makes it ring 3 s and reject the
call as busy. Without those variables the scenario's agent profile decides: ring delay, answer
probability (a phone that does not answer rings until the caller gives up or the queue times out),
talk time and which side hangs up. A *manual* phone (the human at the browser) answers after its ring
delay and then stays up until the CTI hangs it up over AMI, or ``max_talk``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cti.sim.scenario import AgentSpec

if TYPE_CHECKING:
    from cti.sim.pbx import AgentLeg

REJECT_AFTER = 3.0  # seconds a NOANSWER phone rings before it rejects


@dataclass(frozen=True, slots=True)
class RingPlan:
    """What the phone will do with one ringing call."""

    answer_after: float | None  # None: never answers
    reject_after: float | None  # busy rejection (cause 17)


@dataclass(frozen=True, slots=True)
class TalkPlan:
    duration: float | None  # None: until hung up from elsewhere (manual phone without max)
    agent_hangs_up: bool


@dataclass(eq=False, slots=True)
class AgentPhone:
    spec: AgentSpec
    legs: list[AgentLeg] = field(default_factory=list)

    @property
    def extension(self) -> str:
        return self.spec.extension

    def in_use(self) -> bool:
        return bool(self.legs)

    def in_call(self) -> bool:
        return any(leg.answered for leg in self.legs)

    def plan_ring(self, variables: dict[str, str], rng: random.Random) -> RingPlan:
        if (
            variables.get(f"__NOANSWER_{self.extension}") == "1"
            or variables.get(f"NOANSWER_{self.extension}") == "1"
        ):
            return RingPlan(None, REJECT_AFTER)
        ring = variables.get("__RINGDELAY") or variables.get("RINGDELAY")
        if ring is not None:
            try:
                return RingPlan(max(0.0, float(ring)), None)
            except ValueError:
                pass
        if self.spec.manual or rng.random() < self.spec.answer_probability:
            return RingPlan(self.spec.ring_delay.sample(rng), None)
        return RingPlan(None, None)

    def plan_talk(self, variables: dict[str, str], rng: random.Random) -> TalkPlan:
        if self.spec.manual:
            return TalkPlan(self.spec.max_talk, True)
        talk = variables.get("__TALK") or variables.get("TALK")
        if talk is not None:
            try:
                return TalkPlan(max(0.0, float(talk)), True)
            except ValueError:
                pass
        duration = self.spec.talk_time.sample(rng)
        return TalkPlan(duration, rng.random() >= self.spec.caller_hangs_up)
