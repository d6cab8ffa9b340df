"""A pure harness for the PBX model: a Timeline, a seeded Random and a list of the events raised."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from cti.sim.channels import Headers
from cti.sim.pbx import Pbx
from cti.sim.queue_log import QueueLog
from cti.sim.scenario import Scenario
from cti.sim.timeline import Timeline

T0 = 1795400000.0


@dataclass
class Harness:
    scenario: Scenario
    seed: int = 0
    events: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.timeline = Timeline(T0)
        self.log = QueueLog()
        self.pbx = Pbx(self.scenario, self.timeline, random.Random(self.seed), self._sink, self.log)

    def _sink(self, _category: str, headers: Headers) -> None:
        self.events.append(dict(headers))

    def run(self, seconds: float) -> None:
        self.timeline.advance_to(self.timeline.now + seconds)

    def named(self, name: str, **match: str) -> list[dict[str, str]]:
        return [e for e in self.events if e["Event"] == name and all(e.get(k) == v for k, v in match.items())]

    def verbs(self, verb: str) -> list[list[str]]:
        return [line.split("|") for line in self.log.lines if line.split("|")[4] == verb]

    def caller(
        self, number: str, exten: str, patience: float = 60, talk: float | None = 5, **variables: str
    ) -> None:
        from cti.sim.callers import place_call

        place_call(self.pbx, number, f"Caller {number}", exten, patience, talk, dict(variables) or None)
