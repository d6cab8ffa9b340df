"""Simulated callers: arrivals from an hourly profile, patience, IVR choices, caller ids.

Arrivals are a non-homogeneous Poisson process over virtual time: ``calls_per_hour[h]`` is the rate
during hour ``h`` (UTC) of the virtual day, drawn by thinning. Each arrival is a customer from the
scenario's CSV (or the built-in list), who picks a queue by the IVR weights (or waits in
``inbound,hold`` for CTI routing, ``hold_fraction`` of the time), with a patience drawn from
``patience`` (they abandon after it) and, when ``talk_time`` is set, a talk time the agent honours.
A caller is placed exactly as the real PBX's test client placed them: ``Originate
Channel=Local/<ani>@callers/n Context=inbound Exten=<queue>`` with ``PATIENCE`` and ``__TALK``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

from cti.sim.pbx import Leg, Pbx
from cti.sim.scenario import Customer, TrafficSpec
from cti.sim.timeline import Timer


@dataclass(frozen=True, slots=True)
class Arrival:
    customer: Customer
    exten: str  # a queue name, or "hold"
    patience: float
    talk: float | None
    choice: str | None = None  # the IVR digits the caller presses (CHOICE)


def place_call(
    pbx: Pbx,
    number: str,
    name: str,
    exten: str,
    patience: float,
    talk: float | None = None,
    extra: dict[str, str] | None = None,
    action_id: str | None = None,
) -> Leg | None:
    """Originate one caller into ``inbound,<exten>`` as the real PBX's test client did."""
    variables = {"PATIENCE": f"{patience:g}"}
    if talk is not None:
        variables["__TALK"] = f"{talk:g}"
    variables.update(extra or {})
    ani = number.lstrip("+") or "0000"
    return pbx.originate(
        f"Local/{ani}@callers/n", "inbound", exten, 1, number, name, variables, action_id, None, None, 30.0
    )


class CallerGenerator:
    def __init__(self, pbx: Pbx, spec: TrafficSpec, rng: random.Random) -> None:
        self.pbx = pbx
        self.spec = spec
        self.rng = rng
        self.placed = 0
        self._timer: Timer | None = None
        self._max_rate = max(spec.calls_per_hour) / 3600.0

    def start(self) -> None:
        if self._max_rate > 0:
            self._schedule()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        self._timer = self.pbx.later(self.rng.expovariate(self._max_rate), self._tick)

    def rate_at(self, when: float) -> float:
        return self.spec.calls_per_hour[time.gmtime(when).tm_hour] / 3600.0

    def _tick(self) -> None:
        if self.rng.random() * self._max_rate < self.rate_at(self.pbx.now):
            a = self.draw()
            extra = {"PATIENCE_SCOPE": "wait"}
            if a.choice is not None:
                extra["CHOICE"] = a.choice
            place_call(
                self.pbx,
                a.customer.number,
                a.customer.name,
                a.exten,
                a.patience,
                a.talk,
                extra,
            )
            self.placed += 1
        self._schedule()

    def draw(self) -> Arrival:
        rng, spec = self.rng, self.spec
        customer = rng.choice(spec.customers)
        choice = None
        if spec.calls:
            kind = rng.choices(spec.calls, [c.weight for c in spec.calls])[0]
            exten, choice = kind.exten, kind.choice
        elif spec.hold_fraction and rng.random() < spec.hold_fraction:
            exten = "hold"
        else:
            names = [n for n, _ in spec.ivr]
            weights = [w for _, w in spec.ivr]
            exten = rng.choices(names, weights)[0] if sum(weights) > 0 else names[0]
        patience = max(1.0, spec.patience.sample(rng))
        talk = spec.talk_time.sample(rng) if spec.talk_time is not None else None
        return Arrival(customer, exten, patience, talk, choice)
