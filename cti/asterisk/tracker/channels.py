"""Channels: the live channels of tracked calls, and a bounded memory of the ones that hung up.

``Channels`` owns the table ``uniqueid -> Channel``. It knows nothing of journeys beyond the reference each
channel holds to its own; what a channel event means for a call is decided by the handlers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cti.core.ids import AgentId

if TYPE_CHECKING:
    from cti.asterisk.tracker.journeys import Journey

RECENT_MEMORY = 4096  # finished channels/Linkedids remembered to drop late events


def device_of(channel: str) -> str:
    """The device of a channel: ``Local/1002@agents-0000001b;1`` -> ``Local/1002@agents``,
    ``PJSIP/1001-00000022`` -> ``PJSIP/1001``."""
    name = channel
    if name.startswith("Local/"):
        name = name.rsplit(";", 1)[0]
    dash = name.rfind("-")
    if dash > 0 and "/" in name[:dash]:
        name = name[:dash]
    return name


def interface_device(interface: str) -> str:
    """A queue member interface as a device: ``Local/1002@agents/n`` -> ``Local/1002@agents``."""
    if interface.startswith("Local/"):
        return interface.split("/", 2)[0] + "/" + interface.split("/", 2)[1]
    return interface


# A bounded memory of keys, oldest forgotten first (finished channels and Linkedids): a plain OrderedDict,
# not a subclass (odict's C code goes through Python-level method lookups for a subclass).
Recent = OrderedDict[str, None]


def remember(recent: Recent, key: str) -> None:
    recent[key] = None
    if len(recent) > RECENT_MEMORY:
        recent.popitem(last=False)


@dataclass(frozen=True, slots=True)
class ChannelView:
    """A live channel of a call: what an action (Hangup, Redirect, a transfer) needs to address it."""

    uniqueid: str
    name: str
    agent: AgentId | None  # set when this is an agent's leg
    is_caller: bool  # the journey's primary channel: the caller's side (outbound: the called party's)
    hangup_requested: bool


@dataclass(slots=True)
class Channel:
    uid: str
    name: str
    linkedid: str
    journey: Journey
    caller_num: str = ""
    caller_name: str = ""
    context: str = ""
    exten: str = ""
    partner: str | None = None  # the other half of a Local channel pair
    hangup_requested: bool = False
    agent: AgentId | None = None  # set when this channel is an agent's leg
    hold_since: float | None = None
    parked: bool = False  # in a parking lot (ParkedCall .. UnParkedCall): its music is no hold

    def view(self) -> ChannelView:
        primary = self.uid == self.journey.primary
        return ChannelView(self.uid, self.name, self.agent, primary, self.hangup_requested)


class Channels:
    """The tracked channels by Uniqueid, and the recently hung-up ones (to drop late events)."""

    __slots__ = ("by_uid", "dead")

    def __init__(self) -> None:
        self.by_uid: dict[str, Channel] = {}
        self.dead: Recent = OrderedDict()

    def __len__(self) -> int:
        return len(self.by_uid)

    def __iter__(self) -> Iterator[Channel]:
        return iter(self.by_uid.values())

    def add(self, ch: Channel) -> None:
        self.by_uid[ch.uid] = ch

    def hung_up(self, uid: str) -> Channel | None:
        """The channel ``uid`` is gone: forget it (remembering the id) and return what it was."""
        remember(self.dead, uid)
        return self.by_uid.pop(uid, None)

    def caller_gone(self, ch: Channel) -> bool:
        """The caller side of this leg is going away (rule 2: either Local half had a hangup request)."""
        if ch.hangup_requested:
            return True
        if ch.partner is not None:
            p = self.by_uid.get(ch.partner)
            return p is None or p.hangup_requested
        return False

    def pair(self, one: Channel, two: Channel) -> None:
        one.partner, two.partner = two.uid, one.uid

    def pair_locals(self) -> None:
        """Local halves known by name only (their LocalBridge was in a gap): pair ;1 with ;2."""
        by_name = {ch.name: ch for ch in self.by_uid.values() if ch.name.startswith("Local/")}
        for name, ch in by_name.items():
            if ch.partner is None and name.endswith(";1"):
                other = by_name.get(name[:-1] + "2")
                if other is not None:
                    self.pair(ch, other)

    def rename_agent(self, old: AgentId, new: AgentId) -> None:
        for ch in self.by_uid.values():
            if ch.agent == old:
                ch.agent = new
