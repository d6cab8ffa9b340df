"""Channels and bridges as Asterisk names and numbers them, and the header blocks that describe them.

Rules (from main/channel.c, core_local.c and the real transcripts):

1. A Uniqueid is ``<epoch seconds at creation>.<n>`` where ``n`` is one counter for the whole
   process, so ids are monotonic: ``1795362992.0``, ``1795362992.1``, ``1795363013.10``.
   Originate's ``ChannelId`` replaces it; the Local ``;2`` half then gets ``OtherChannelId`` or
   ``<ChannelId>;2``.
2. A Linkedid is the Uniqueid of the oldest channel of the call: a channel created on behalf of
   another (an agent leg dialled by a queue) inherits the requester's Linkedid.
3. Local channels come in pairs ``Local/<exten>@<context>-<8 hex digits>;1`` and ``;2``; the hex
   number is a second process-wide counter. With ``/n`` the pair is never optimised away.
4. Name-like values (CallerIDName, ConnectedLineName) are C-escaped on the wire; an empty caller id
   is written ``<unknown>``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from cti.asterisk.ami import escape

Headers = list[tuple[str, str]]

STATE_DESC = {0: "Down", 1: "Rsrvd", 2: "OffHook", 3: "Dialing", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}
DOWN, RING, RINGING, UP, BUSY = 0, 4, 5, 6, 7

CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    127: "Interworking, unspecified",
}


def _id(value: str) -> str:
    return value if value else "<unknown>"


@dataclass(eq=False, slots=True)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    created: float
    state: int = DOWN
    priority: int = 1
    cid_num: str = ""
    cid_name: str = ""
    con_num: str = ""
    con_name: str = ""
    app: str = ""
    appdata: str = ""
    bridge: Bridge | None = None
    variables: dict[str, str] = field(default_factory=dict)
    peer: Channel | None = None  # the other half of a Local pair
    owner: Any = None  # the model object that reacts to a hangup of this channel
    hungup: bool = False

    @property
    def state_desc(self) -> str:
        return STATE_DESC.get(self.state, "Unknown")

    def snapshot(self, prefix: str = "") -> Headers:
        """The channel block of ast_manager_build_channel_state_string_prefix, in its order."""
        return [
            (prefix + "Channel", self.name),
            (prefix + "ChannelState", str(self.state)),
            (prefix + "ChannelStateDesc", self.state_desc),
            (prefix + "CallerIDNum", _id(self.cid_num)),
            (prefix + "CallerIDName", escape(_id(self.cid_name))),
            (prefix + "ConnectedLineNum", _id(self.con_num)),
            (prefix + "ConnectedLineName", escape(_id(self.con_name))),
            (prefix + "Language", "en"),
            (prefix + "AccountCode", ""),
            (prefix + "Context", self.context),
            (prefix + "Exten", self.exten),
            (prefix + "Priority", str(self.priority)),
            (prefix + "Uniqueid", self.uniqueid),
            (prefix + "Linkedid", self.linkedid),
        ]

    def variable(self, name: str) -> str | None:
        v = self.variables.get(name)
        if v is None:
            v = self.variables.get("__" + name)
        if v is None:
            v = self.variables.get("_" + name)
        return v


@dataclass(eq=False, slots=True)
class Bridge:
    uniqueid: str
    channels: list[Channel] = field(default_factory=list)
    # (BridgeType, BridgeTechnology, BridgeCreator, BridgeName): a basic two-party bridge, or ConfBridge's
    # ("base", "softmix", "ConfBridge", <room>)
    kind: tuple[str, str, str, str] = ("basic", "simple_bridge", "<unknown>", "<unknown>")

    def snapshot(self, prefix: str = "") -> Headers:
        """ast_manager_build_bridge_state_string_prefix, in its order."""
        kind, tech, creator, name = self.kind
        return [
            (prefix + "BridgeUniqueid", self.uniqueid),
            (prefix + "BridgeType", kind),
            (prefix + "BridgeTechnology", tech),
            (prefix + "BridgeCreator", creator),
            (prefix + "BridgeName", name),
            (prefix + "BridgeNumChannels", str(len(self.channels))),
            (prefix + "BridgeVideoSourceMode", "none"),
        ]


def inheritable(variables: dict[str, str]) -> dict[str, str]:
    """Variables a new channel inherits from its requester: ``__X`` forever, ``_X`` once (as ``X``)."""
    out: dict[str, str] = {}
    for k, v in variables.items():
        if k.startswith("__"):
            out[k] = v
        elif k.startswith("_"):
            out[k[1:]] = v
    return out


class ChannelRegistry:
    """Creates, finds and forgets channels; owns the Uniqueid and Local-pair counters."""

    def __init__(self, rng_bytes: Any) -> None:
        self._counter = 0
        self._local_counter = 0
        self._tech_counter = 0
        self.by_name: dict[str, Channel] = {}
        self.by_uniqueid: dict[str, Channel] = {}
        self._rng_bytes = rng_bytes  # a callable(n) -> bytes, seeded, for bridge UUIDs

    def next_uniqueid(self, now: float) -> str:
        uid = f"{int(now)}.{self._counter}"
        self._counter += 1
        return uid

    def new_bridge_id(self) -> str:
        return str(uuid.UUID(bytes=self._rng_bytes(16), version=4))

    def exists(self, uniqueid: str) -> bool:
        return uniqueid in self.by_uniqueid

    def _add(self, ch: Channel) -> Channel:
        self.by_name[ch.name] = ch
        self.by_uniqueid[ch.uniqueid] = ch
        return ch

    def create_local_pair(
        self,
        exten: str,
        context: str,
        now: float,
        linkedid: str | None = None,
        uniqueid: str | None = None,
        other_uniqueid: str | None = None,
    ) -> tuple[Channel, Channel]:
        n = self._local_counter
        self._local_counter += 1
        base = f"Local/{exten}@{context}-{n:08x}"
        # the counter moves even when Originate assigned the ids (ast_channel_alloc always draws one)
        auto1, auto2 = self.next_uniqueid(now), self.next_uniqueid(now)
        uid1 = uniqueid or auto1
        if other_uniqueid:
            uid2 = other_uniqueid
        elif uniqueid:
            uid2 = uniqueid + ";2"
        else:
            uid2 = auto2
        link = linkedid or uid1
        one = Channel(base + ";1", uid1, link, context, exten, now, state=DOWN)
        two = Channel(base + ";2", uid2, link, context, exten, now, state=RING)
        one.peer, two.peer = two, one
        return self._add(one), self._add(two)

    def create_tech(
        self, tech: str, resource: str, exten: str, context: str, now: float, uniqueid: str | None
    ) -> Channel:
        n = self._tech_counter
        self._tech_counter += 1
        auto = self.next_uniqueid(now)
        uid = uniqueid or auto
        ch = Channel(f"{tech}/{resource}-{n:08x}", uid, uid, context, exten, now, state=DOWN)
        return self._add(ch)

    def forget(self, ch: Channel) -> None:
        self.by_name.pop(ch.name, None)
        self.by_uniqueid.pop(ch.uniqueid, None)

    def find(self, name: str) -> Channel | None:
        return self.by_name.get(name)

    def __len__(self) -> int:
        return len(self.by_name)

    def all(self) -> list[Channel]:
        return list(self.by_name.values())
