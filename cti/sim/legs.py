"""The simulated PBX's call legs: a dialplan leg with its outside party, an agent leg, and the
constants and helpers the model's parts share."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from cti.sim.agents import AgentPhone
from cti.sim.channels import (
    Bridge,
    Channel,
    Headers,
)
from cti.sim.queues import Member, QueueEntry
from cti.sim.timeline import Timer

Sink = Callable[[str, Headers], None]

CID_PRES = ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")
RECHECK = 1.0  # app_queue: a caller waiting for its turn looks again every second
ANSWER_DELAY = 0.5  # Answer() waits 500 ms before the next application (the transcripts' Wait starts then)
PROMPT_TIME = 1.0  # the holding extension's Read() prompt; the simulated caller keys its CHOICE at its end
READ_TIMEOUT = 5.0  # Read(CHOICE,please-choose,1,,1,5): no digit within 5 s after the prompt
DELIVER_TIMEOUT = 20  # the sample dialplan's Dial(...,20,t) ring timeout; DELIVER_TIMEOUT overrides it
RECORDED_DELIVER_TIMEOUT = 10  # the transcripts' PBX: Dial(Local/${EXTEN}@agents/n,10)
HOLD_SAFETY = {"sample": 600.0, "recorded": 300.0}  # WaitExten(600,m(default)) / Wait(300), then Hangup()
DIGIT_TIMEOUT = 1.0  # the sample dialplan's TIMEOUT(digit)=1: WaitExten runs a key's extension after it
CALLBACK_KEY = "1"  # the sample dialplan's inbound,1: a waiting caller asks to be called back
CALLBACK_PROMPT = 3.0  # Playback(cti-callback-booked) before the Hangup()
CALLBACK_OFFER = 6.0  # BackGround(cti-callback-offer): the offer the holding extension plays


def dial_status(cause: int) -> str:
    """ast_hangup_cause_to_dial_status: the DialEnd status of a dialled channel that hung up."""
    if cause == 17:
        return "BUSY"
    if cause == 34:
        return "CONGESTION"
    if cause in (3, 20):  # no route to destination, subscriber absent (unregistered)
        return "CHANUNAVAIL"
    return "NOANSWER"


def atoi(value: str | None) -> int:
    """C's atoi: the leading digits (with a sign), 0 when there are none."""
    m = re.match(r"\s*([+-]?\d+)", value or "")
    return int(m.group(1)) if m else 0


class ActionError(Exception):
    """An AMI action failed; the message is Asterisk's own text."""


@dataclass(eq=False, slots=True)
class AgentLeg:
    leg: Leg
    phone: AgentPhone
    one: Channel
    two: Channel
    started: float
    entry: QueueEntry | None = None
    member: Member | None = None
    answered: bool = False
    connected_at: float = 0.0
    timers: list[Timer] = field(default_factory=list)
    done: bool = False

    def cancel_timers(self) -> None:
        for t in self.timers:
            t.cancel()
        self.timers.clear()


@dataclass(eq=False, slots=True)
class Leg:
    ch: Channel
    outside: Channel | None
    target: tuple[str, str, int]
    action_id: str | None = None
    dial_string: str = ""
    on_result: Callable[[bool], None] | None = None  # a synchronous Originate waits for this
    answered: bool = False
    entry: QueueEntry | None = None  # waiting in a queue
    dialing: AgentLeg | None = None  # Dial() from deliver
    peer: AgentLeg | None = None  # bridged with this agent leg
    bridge: Bridge | None = None
    queue_connect: QueueEntry | None = None  # the queue entry the bridged call came from
    after: Timer | None = None  # the dialplan's next step after Queue() (DialerDrop's hangup)
    timers: list[Timer] = field(default_factory=list)
    done: bool = False

    def cancel_timers(self) -> None:
        for t in self.timers:
            t.cancel()
        self.timers.clear()


def float_var(value: str | None, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        return default
