"""A dial attempt's life, as a transition table (pure: no I/O, no clock), and the rules the dialer
service (cti.delivery.dialer) applies: progressive pacing and call blending.

States: queued -> originating -> ringing -> answered -> live | machine -> connected | abandoned |
message -> ended; failed (refused, busy, no answer, congestion); unknown (the AMI link was lost while
the attempt's outcome was open: it is resolved from later events and NEVER dialled again blindly).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    QUEUED = "queued"
    ORIGINATING = "originating"
    RINGING = "ringing"
    ANSWERED = "answered"
    LIVE = "live"  # AMD said HUMAN or NOTSURE: wants an agent within 2 s
    MACHINE = "machine"
    CONNECTED = "connected"  # an agent's phone rings for it (reserved, redirected)
    ABANDONED = "abandoned"  # no agent within 2 s: the safe-harbour message, counted
    MESSAGE = "message"  # agentless, or a machine left a message
    FAILED = "failed"
    UNKNOWN = "unknown"
    ENDED = "ended"


class Ev(StrEnum):
    SEND = "send"  # the Originate goes out
    ACCEPTED = "accepted"  # Asterisk queued it (Response: Success)
    REFUSED = "refused"  # Asterisk refused it (Response: Error): nothing was dialled
    ANSWER = "answer"  # OriginateResponse Success
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    CONGESTION = "congestion"
    HUMAN = "human"  # UserEvent(AMDResult) AMDSTATUS=HUMAN
    NOTSURE = "notsure"
    MACHINE = "machine"
    AGENT = "agent"  # the reserved agent's phone rings for it
    NO_AGENT = "no-agent"  # 2 s after the live answer: no agent
    PLAYED = "played"  # a message is being played (agentless, machine message)
    HANGUP = "hangup"
    LINK_LOST = "link-lost"  # the AMI link dropped (or the Originate's reply was lost) meanwhile


_OPEN = (State.ORIGINATING, State.RINGING, State.ANSWERED, State.LIVE)
_FAIL = (Ev.BUSY, Ev.NO_ANSWER, Ev.CONGESTION)

TABLE: dict[tuple[State, Ev], State] = {
    (State.QUEUED, Ev.SEND): State.ORIGINATING,
    (State.ORIGINATING, Ev.ACCEPTED): State.RINGING,
    (State.ORIGINATING, Ev.REFUSED): State.FAILED,
    **{(s, Ev.ANSWER): State.ANSWERED for s in (State.ORIGINATING, State.RINGING, State.UNKNOWN)},
    **{(s, e): State.FAILED for s in (State.ORIGINATING, State.RINGING, State.UNKNOWN) for e in _FAIL},
    (State.ANSWERED, Ev.HUMAN): State.LIVE,
    (State.ANSWERED, Ev.NOTSURE): State.LIVE,
    (State.ANSWERED, Ev.MACHINE): State.MACHINE,
    (State.ANSWERED, Ev.PLAYED): State.MESSAGE,
    (State.LIVE, Ev.AGENT): State.CONNECTED,
    (State.ANSWERED, Ev.AGENT): State.CONNECTED,  # preview: dialled to its agent, no AMD, no 2 s rule
    (State.LIVE, Ev.NO_AGENT): State.ABANDONED,
    (State.LIVE, Ev.PLAYED): State.MESSAGE,  # agentless
    (State.MACHINE, Ev.PLAYED): State.MESSAGE,
    **{(s, Ev.LINK_LOST): State.UNKNOWN for s in _OPEN},
    **{
        (s, Ev.HANGUP): State.ENDED
        for s in (*_OPEN, State.UNKNOWN, State.MACHINE, State.CONNECTED, State.ABANDONED, State.MESSAGE)
    },
}

TERMINAL = frozenset({State.FAILED, State.ENDED})


def step(state: State, event: Ev) -> State | None:
    """The next state, or None: the event does not apply in this state (ignored, never a re-dial)."""
    return TABLE.get((state, event))


def amd_event(status: str) -> Ev:
    """AMDSTATUS to an event: MACHINE, HUMAN, anything else (NOTSURE, HANGUP...) is not sure."""
    s = status.strip().upper()
    return Ev.MACHINE if s == "MACHINE" else Ev.HUMAN if s == "HUMAN" else Ev.NOTSURE


def fail_event(outcome: str) -> Ev:
    """OriginateFinished.outcome of a failed attempt."""
    return {"busy": Ev.BUSY, "congestion": Ev.CONGESTION}.get(outcome, Ev.NO_ANSWER)


def progressive_lines(idle_agents: int, soon_free: int, ringing: int, free_lines: int) -> int:
    """Progressive: one line per idle agent, minus the lines already ringing, within the trunk."""
    del soon_free  # progressive never dials ahead of an agent
    return max(0, min(idle_agents - ringing, free_lines))


@dataclass(frozen=True, slots=True)
class BlendRule:
    idle_above: int  # inbound idle agents above this: the excess blended agents go outbound
    service_level_below: float  # inbound service level (0..1) below this: all blended agents back


def blend(
    outbound: Mapping[str, bool], inbound_idle: int, service_level: float | None, rule: BlendRule
) -> dict[str, bool]:
    """Which blended agents work outbound now (agent -> True: outbound). ``outbound`` is each blended
    agent's current side; ``inbound_idle`` counts idle agents on inbound (blended ones included)."""
    if service_level is not None and service_level < rule.service_level_below:
        return dict.fromkeys(outbound, False)
    out = dict(outbound)
    excess = inbound_idle - rule.idle_above
    for agent in sorted(a for a, ob in outbound.items() if not ob):
        if excess <= 0:
            break
        out[agent], excess = True, excess - 1
    return out
