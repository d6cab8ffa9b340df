"""What a simulation runs: call types, agent groups, the app_queue baselines' settings (pure data).

The traffic file (``cti.simulate.traffic_file``, docs/simulate.md) builds these; a benchmark or a test
may build them directly. A distribution is anything with ``sample(rng) -> float`` (the simulated
Asterisk's ``cti.sim.scenario.Dist`` is one).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Protocol

from cti.routing.policy import Requirements


class Distribution(Protocol):
    def sample(self, rng: random.Random) -> float: ...


@dataclass(frozen=True, slots=True)
class Fixed:
    value: float

    def sample(self, rng: random.Random) -> float:
        return self.value


NEVER = Fixed(math.inf)  # a patience that never runs out
ZERO = Fixed(0.0)


@dataclass(frozen=True, slots=True)
class CallType:
    name: str
    queue: str
    per_hour: tuple[float, ...]  # arrivals per hour, hour by hour (the last one repeats)
    talk: Distribution
    needs: Requirements = field(default_factory=Requirements)
    wrap: Distribution = ZERO
    patience: Distribution = NEVER

    def rate(self, hour: int) -> float:
        return self.per_hour[min(hour, len(self.per_hour) - 1)]


@dataclass(frozen=True, slots=True)
class AgentGroup:
    name: str
    count: int
    skills: dict[str, int]
    start: float = 0.0  # shift, in hours from the start of the run
    end: float = math.inf
    ring_delay: Distribution = ZERO  # from the phone ringing to the agent answering
    answer_probability: float = 1.0


@dataclass(frozen=True, slots=True)
class AppQueueSettings:
    """How the app_queue baselines are configured (queues.conf), one queue per call type."""

    timeout: float = 15.0
    retry: float = 5.0
    wrapuptime: float = 0.0
    penalty_from_level: bool = True  # penalty = 10 - the member's level in the queue's first skill


@dataclass(frozen=True, slots=True)
class Traffic:
    call_types: tuple[CallType, ...]
    groups: tuple[AgentGroup, ...]
    hours: float = 8.0
    seed: int = 1
    drain_hours: float = 1.0  # after the last arrival, run this long for the calls still waiting
    unpause_after: float = 60.0  # an agent cti paused for ring-no-answer comes back after this
    app_queue: AppQueueSettings = field(default_factory=AppQueueSettings)
