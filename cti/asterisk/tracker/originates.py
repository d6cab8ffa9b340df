"""Originates: what an AMI Originate tells of a call (rules 7 and 9 of the tracker).

An originated call shows up three ways, in an order Asterisk does not fix: a DialBegin/DialEnd with no
calling channel (the Originate dials its destination, ami-reference.md 3.2) and an OriginateResponse, which
can even come before the channel's Newchannel (``PendingResponses`` holds it until then).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from enum import Enum

from cti.asterisk import translate as tr
from cti.asterisk.tracker.channels import RECENT_MEMORY

_BUSY_CAUSES = {17}
_NOANSWER_CAUSES = {18, 19, 20}
_CONGESTION_CAUSES = {21, 27, 34, 38, 41, 42, 44, 3, 1}
_DIAL_STATUS = {
    "ANSWER": "answered",
    "BUSY": "busy",
    "NOANSWER": "no-answer",
    "CONGESTION": "congestion",
    "CHANUNAVAIL": "congestion",
}
_REASONS = {4: "answered", 5: "busy", 3: "no-answer", 8: "congestion"}


def classify_originate(reason: int | None, dial_status: str, causes: Iterable[int]) -> str:
    """An originate's outcome: answered, busy, no-answer, congestion or failed (AMI.md, section on Reason)."""
    if reason is not None and reason in _REASONS:
        return _REASONS[reason]
    if dial_status in _DIAL_STATUS:
        return _DIAL_STATUS[dial_status]
    for c in causes:
        if c in _BUSY_CAUSES:
            return "busy"
        if c in _NOANSWER_CAUSES:
            return "no-answer"
        if c in _CONGESTION_CAUSES:
            return "congestion"
    return "failed"


class OriginateState(Enum):
    __hash__ = object.__hash__  # identity: as LegState

    NONE = "none"  # not (yet known to be) an originate
    DIALLING = "dialling"  # DialBegin with no caller: the Originate dials its destination
    DIAL_ENDED = "dial-ended"  # its DialEnd: the DialStatus is known
    RESPONDED = "responded"  # OriginateResponse: the Reason is known


_O = OriginateState

# Moves go forward only. A fact that comes after a later state (a DialEnd after the OriginateResponse)
# is recorded without a move: the state is the furthest point the originate reached.
ORIGINATE_TRANSITIONS: dict[OriginateState, frozenset[OriginateState]] = {
    _O.NONE: frozenset({_O.DIALLING, _O.DIAL_ENDED, _O.RESPONDED}),
    _O.DIALLING: frozenset({_O.DIAL_ENDED, _O.RESPONDED}),
    _O.DIAL_ENDED: frozenset({_O.RESPONDED}),
    _O.RESPONDED: frozenset(),
}


class Originate:
    """The originate facts of one journey."""

    __slots__ = ("context", "dial_status", "dialled", "exten", "originated", "reason", "state")

    def __init__(self) -> None:
        self.state = _O.NONE
        self.originated = False  # state is not NONE (an attribute: read by every CallStarted)
        self.reason: int | None = None
        self.dial_status = ""
        self.dialled = ""  # the destination number
        self.context = ""  # the target context: inbound_contexts tell a simulated caller from the dialer
        self.exten = ""  # the target extension

    def _move(self, new: OriginateState) -> None:
        if new in ORIGINATE_TRANSITIONS[self.state]:
            self.state = new
            self.originated = True

    def dial_began(self, dial_string: str) -> None:
        self.dialled = dial_string.split("@", 1)[0].split("/")[-1]
        self._move(_O.DIALLING)

    def dial_ended(self, dial_status: str) -> None:
        self.dial_status = dial_status
        self._move(_O.DIAL_ENDED)

    def responded(self, ev: tr.OriginateResponseEvent) -> None:
        self.reason = ev.reason
        if ev.context:
            self.context = ev.context
            self.exten = ev.exten
        self._move(_O.RESPONDED)

    def outcome(self, causes: Iterable[int]) -> str:
        return classify_originate(self.reason, self.dial_status, causes)


# OriginateResponses for channels not seen yet, by Uniqueid (bounded: the oldest is dropped first); a
# plain OrderedDict, read with ``pop(uid, None)`` (see channels.Recent).
PendingResponses = OrderedDict[str, tr.OriginateResponseEvent]


def hold(pending: PendingResponses, uid: str, ev: tr.OriginateResponseEvent) -> None:
    pending[uid] = ev
    if len(pending) > RECENT_MEMORY:
        pending.popitem(last=False)
