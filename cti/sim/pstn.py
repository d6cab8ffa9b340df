"""The simulated public network, for outbound calls.

Two forms reach it, as in a real deployment:

- ``Local/<number>@pstn/n``: the real PBX's test context. The number's last digit picks the outcome
  (0 answer after 1 s, 1 busy, 2 no answer, 3 congestion, 4 answer after 3 s, 5-9 answer and hang up
  after 1 s), so recorded dialer sessions replay exactly. An answering callee (0, 4) stays ``PTALK``
  seconds when the originate sets that variable, else until the call is hung up from our side.
- ``PJSIP/<number>@<trunk>``: a trunk. The outcome is drawn from the scenario's ``[pstn]`` mix
  (answer, busy, no answer, congestion, answering machine) and ring-time distribution.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from cti.sim.scenario import PstnSpec

ANSWER, BUSY, NO_ANSWER, CONGESTION, MACHINE = "answer", "busy", "no_answer", "congestion", "machine"


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str
    after: float  # seconds of ringing before the outcome (answer, busy, congestion)
    talk: float | None  # for an answer: the callee hangs up after this long (None: waits for us)
    digit: str = ""  # the last digit, for the pstn-outcome extension name


def by_last_digit(number: str) -> Outcome:
    d = number[-1:] if number[-1:].isdigit() else "0"
    if d == "0":
        return Outcome(ANSWER, 1.0, None, d)
    if d == "1":
        return Outcome(BUSY, 0.0, None, d)
    if d == "2":
        return Outcome(NO_ANSWER, 0.0, None, d)
    if d == "3":
        return Outcome(CONGESTION, 0.0, None, d)
    if d == "4":
        return Outcome(ANSWER, 3.0, None, d)
    return Outcome(ANSWER, 0.0, 1.0, d)


def drawn(spec: PstnSpec, rng: random.Random) -> Outcome:
    r = rng.random()
    ring = spec.ring_time.sample(rng)
    for kind, p in (
        (ANSWER, spec.answer),
        (BUSY, spec.busy),
        (NO_ANSWER, spec.no_answer),
        (CONGESTION, spec.congestion),
    ):
        if r < p:
            if kind == ANSWER:
                return Outcome(ANSWER, ring, spec.talk_time.sample(rng))
            if kind in (BUSY, CONGESTION):
                return Outcome(kind, min(ring, 1.0), None)
            return Outcome(kind, 0.0, None)
        r -= p
    return Outcome(MACHINE, ring, spec.machine_message.sample(rng))
