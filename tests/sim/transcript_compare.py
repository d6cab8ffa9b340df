"""Reduce an AMI stream to what must match between the real Asterisk and the simulator.

What is compared: for every channel, the ordered list of (event name, header names) of the events
that concern it; for every bridge, the same; the member-management events in stream order; every
action's response (header names, and the Message text). What is left out, on purpose:

- ``VarSet``, ``Newexten``, ``DeviceStateChange``: dialplan and device-state noise.
- Local-channel artefacts: ``LocalBridge``, ``SoftHangupRequest``/``HangupRequest`` and the
  ``QueueMemberStatus`` flurries that Local channels' own device state raises while ringing.
- ``Unhold`` (the real PBX's phones send it on transfer; the simulated ones do not).
- ``SuccessfulAuth`` (a security event, carried but not part of any call).
- ``OriginateResponse`` and ``AgentComplete`` are compared apart from the channel's other events
  (see below).
- Channel names are compared by role: ``<context>#<k>;<half>``, k counting pairs of a context in the
  order they appear, so the simulator's own Local sequence numbers do not matter.
- Header *values* are not compared here (times, ids); the test checks key values separately.
"""

from __future__ import annotations

import re
from collections import defaultdict

from cti.asterisk.ami import Message

NOISE = {
    "VarSet",
    "Newexten",
    "DeviceStateChange",
    "LocalBridge",
    "SoftHangupRequest",
    "HangupRequest",
    "QueueMemberStatus",
    "Unhold",
    "SuccessfulAuth",
}
MEMBER_EVENTS = {"QueueMemberAdded", "QueueMemberRemoved", "QueueMemberPause", "QueueMemberPenalty"}
_LOCAL = re.compile(r"^Local/[^@]*@(?P<ctx>[^-]+)-(?P<seq>[0-9a-f]{8});(?P<half>[12])$")


class Roles:
    def __init__(self) -> None:
        self.pairs: dict[str, str] = {}
        self.counts: dict[str, int] = defaultdict(int)
        self.bridges: dict[str, str] = {}

    def channel(self, name: str) -> str:
        m = _LOCAL.match(name)
        if m is None:
            return name
        key = m.group("ctx") + m.group("seq")
        if key not in self.pairs:
            ctx = m.group("ctx")
            self.pairs[key] = f"{ctx}#{self.counts[ctx]}"
            self.counts[ctx] += 1
        return f"{self.pairs[key]};{m.group('half')}"

    def bridge(self, uid: str) -> str:
        return self.bridges.setdefault(uid, f"bridge#{len(self.bridges)}")


def names(msg: Message) -> tuple[str, ...]:
    """The event (or response) and its header names, in order; Timestamp is optional in AMI.

    AgentComplete's Dest block is dropped: real Asterisk leaves it out when the agent channel's
    snapshot is already gone (a race: 01 lacks it, 07 carries it)."""
    skip_dest = msg.event == "AgentComplete"
    return (
        msg.event or msg.response or "",
        *(k for k, _ in msg.headers if k != "Timestamp" and not (skip_dest and k.startswith("Dest"))),
    )


def reduce_stream(msgs: list[Message], linked: set[str] | None = None) -> dict[str, list[tuple[str, ...]]]:
    """Group the comparable events per channel role / bridge role; ``linked`` keeps only those calls."""
    roles = Roles()
    out: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for msg in msgs:
        ev = msg.event
        if ev is None:
            key = "responses"
            out[key].append((*names(msg), msg.get("Message") or ""))
            continue
        if ev in NOISE:
            continue
        link = msg.get("Linkedid") or msg.get("DestLinkedid") or msg.get("TransfereeLinkedid")
        if linked is not None and link is not None and link not in linked:
            continue
        if ev == "OriginateResponse":
            # raised by the originating thread while the channels run: its place among the
            # channel's events differs between real runs (01, 02 and 05 show three), so it is
            # compared on its own, per channel role
            out["originate:" + roles.channel(msg.get("Channel") or "")].append(
                (*names(msg), msg.get("Reason") or "")
            )
            continue
        if ev == "AgentComplete":
            # Asterisk raises it from the caller's Queue() as the call unwinds: whether the caller's
            # and the agent's channel blocks are still there is a race (01 lacks Dest, mixed-seed1
            # has two with neither), so it is compared by its facts, per queue
            facts = tuple(msg.get(k) or "" for k in ("MemberName", "HoldTime", "TalkTime", "Reason"))
            out["complete:" + (msg.get("Queue") or "")].append(facts)
            continue
        if ev in MEMBER_EVENTS:
            out["members"].append((*names(msg), msg.get("MemberName") or ""))
            continue
        if ev.startswith(("Bridge",)) and ev not in ("BridgeEnter", "BridgeLeave"):
            out[roles.bridge(msg.get("BridgeUniqueid") or "")].append(names(msg))
            continue
        chan = msg.get("Channel") or msg.get("DestChannel") or msg.get("TransfereeChannel")
        if chan is None:
            out["other"].append(names(msg))
            continue
        if ev in ("BridgeEnter", "BridgeLeave"):
            roles.bridge(msg.get("BridgeUniqueid") or "")
        out[roles.channel(chan)].append(names(msg))
    return dict(out)


def event_names(reduced: dict[str, list[tuple[str, ...]]]) -> dict[str, list[str]]:
    return {k: [v[0] if k != "responses" else v[-1] for v in seq] for k, seq in reduced.items()}
