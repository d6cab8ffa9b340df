"""Warm (attended) transfers and three-way conferences from the agent console.

Mechanism (docs/design/warm-transfer-and-conference.md):

=============================  ========================================================================
warm_transfer                  ``Atxfer Channel=<agent's channel> Context=cti-consult Exten=<colleague's
                               extension>`` (``cti-consult-dial``, ``<number>`` for a number): Asterisk
                               holds the customer (music) and puts the agent in a consultation with the
                               target
consult complete               ``Hangup`` of the agent's channel: Asterisk merges the customer with the
                               target (AttendedTransfer); the agent is free, in wrap-up. A queue:
                               ``Context=<queue context> Exten=<queue>``: the agent waits in the queue
                               for a colleague (``atxfernoanswertimeout`` at most), the customer on music
consult cancel                 ``Hangup`` of the consultation's target channel (``Local/<exten>@<ctx>-…;1``):
                               Asterisk brings the agent back to the customer
consult conference             ``Redirect`` of the agent's channel with ``ExtraChannel`` = the customer's
                               into ``cti-conference,<room>`` (ConfBridge), then of the target's channel
conference start               the same dual Redirect, then ``Originate`` of the third party into the room
conference leave / end         ``ConfbridgeKick`` of the agent's channel / of ``all``
=============================  ========================================================================

The desk keeps each call's consultation here (``Consults``) and sees the hub's events first
(``Consults.handle``): while the agent consults, the target's answer is the target's news only (the
call stays the transferring agent's); the AttendedTransfer hands the call to the target; an Unhold of the
agent's channel (Asterisk brought the agent back: cancel, no answer, busy) ends the consultation.
Refusals are ``DeskError``s: not your call, no consultation under way, Asterisk's own error.
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cti.core.events import (
    CallAnswered,
    CallEnded,
    CallerLeft,
    CallHoldChanged,
    CallTransferred,
    DomainEvent,
    OriginateFinished,
)
from cti.core.ids import AgentId, LinkedId
from cti.screenpop import protocol as p
from cti.screenpop.actions import DeskError, DeskRequests, extension_of, queue_named
from cti.screenpop.hub import Hub
from cti.screenpop.tokens import Identity

if TYPE_CHECKING:
    from cti.screenpop.actions import Desk

CONSULT_CONTEXT = "cti-consult"  # config/asterisk/extensions.conf: Dial(PJSIP/${EXTEN},20)
CONSULT_DIAL_CONTEXT = "cti-consult-dial"  # Dial(PJSIP/${EXTEN}@trunk,30)
CONFERENCE_CONTEXT = "cti-conference"  # ConfBridge(${EXTEN})
_ROOMS = itertools.count(int(time.time()) % 100_000 * 1000)


@runtime_checkable
class ChannelSearch(Protocol):
    """The live channels of a call by name prefix (cti.screenpop.channels.TrackerChannels)."""

    def channel_like(self, server: str, linkedid: str, prefix: str, suffix: str) -> str | None: ...


@dataclass(slots=True)
class Consultation:
    server: str
    linkedid: str
    agent: AgentId  # the transferring agent
    channel: str  # the agent's channel when the consultation began
    to: str  # "agent", "queue" or "number"
    target: str  # the member name, the queue or the number, as shown
    exten: str
    context: str
    target_agent: AgentId | None
    state: str = "consulting"  # consulting, conference
    answered: bool = False
    room: str = ""
    parties: list[str] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {
            "linkedid": self.linkedid,
            "server": self.server,
            "state": self.state,
            "to": self.to,
            "target": self.target,
            "answered": self.answered,
            "room": self.room,
            "parties": list(self.parties),
        }


class Consults:
    """The calls with a consultation or a conference under way, by Linkedid; the hub's event hook."""

    def __init__(self) -> None:
        self.calls: dict[str, Consultation] = {}
        # a colleague originated into a conference: its ChannelId -> (the customer's Linkedid, the colleague)
        self.invited: dict[str, tuple[LinkedId, AgentId]] = {}
        # a colleague in a conference on a channel of their own: (the customer's Linkedid, them) -> ChannelId
        self.members: dict[tuple[str, AgentId], str] = {}

    def own_channel_id(self, linkedid: str, agent: AgentId) -> str | None:
        """The Uniqueid (= its Linkedid) of ``agent``'s own channel in call ``linkedid``'s room, if any."""
        return self.members.get((linkedid, agent))

    def invite(self, hub: Hub, c: Consultation, agent: AgentId, channel_id: str) -> None:
        """The colleague's phone rings for the conference: their console pops the customer's card (the
        Originate's channel has a Linkedid of its own, so the hub is told it is the customer's call)."""
        view = hub.calls.get(LinkedId(c.linkedid))
        first = view.pops.get(c.agent) if view is not None else None
        if view is None or first is None:
            return
        pop = {**first, "agent": agent, "at": hub.now()}
        view.agents.add(agent)
        view.pops[agent] = pop
        hub._remember(agent, c.server, view.linkedid)
        self.invited[channel_id] = (view.linkedid, agent)
        self.members[(view.linkedid, agent)] = channel_id
        hub.pops_sent += 1
        hub._emit(pop, (agent,))

    def _invite_answered(self, hub: Hub, event: OriginateFinished) -> None:
        lid, agent = self.invited.pop(event.channel_id)
        if event.outcome == "answered":
            update = {"agent": agent, "queue": None, "waited_seconds": 0.0, "at": event.at}
            hub._call_update(lid, "answered", update, only=agent)
            return
        self.members.pop((lid, agent), None)
        view = hub.calls.get(lid)
        if view is not None:
            view.agents.discard(agent)
            view.pops.pop(agent, None)
        msg = {"type": "call", "event": "missed", "linkedid": lid, "agent": agent, "ring_seconds": 0.0}
        hub._emit({**msg, "server": view.server if view else ""}, (agent,))

    def _tell(self, hub: Hub, c: Consultation, state: str, audience: tuple[AgentId, ...]) -> None:
        hub._emit({"type": "consult", **c.view(), "state": state}, audience)

    def _target_leaves(self, hub: Hub, c: Consultation) -> None:
        """The consulted agent is out of the call: its card ends ("left"), it gets no more updates."""
        agent = c.target_agent
        view = hub.calls.get(LinkedId(c.linkedid))
        if agent is None or view is None or agent not in view.agents:
            return
        view.agents.discard(agent)
        view.pops.pop(agent, None)
        msg = {"type": "call", "event": "left", "linkedid": c.linkedid, "server": c.server}
        hub._emit(msg, (agent,))

    def state_of(self, linkedid: str, agent: AgentId) -> dict[str, Any] | None:
        """The panel of the agent who started it (Complete/Cancel/Conference, or Leave/End); None else."""
        c = self.calls.get(linkedid)
        return c.view() if c is not None and c.agent == agent else None

    def handle(self, hub: Hub, event: DomainEvent) -> bool:
        if isinstance(event, OriginateFinished) and event.channel_id in self.invited:
            self._invite_answered(hub, event)
            return False
        lid = getattr(event, "linkedid", None)
        if isinstance(event, CallEnded):
            self.calls.pop(event.journey.linkedid, None)
            for key in [k for k in self.members if k[0] == event.journey.linkedid]:
                del self.members[key]
            return False
        c = self.calls.get(lid) if isinstance(lid, str) else None
        if c is None or c.state != "consulting":
            return False
        match event:
            case CallAnswered(agent=agent) if agent != c.agent:
                c.answered = True
                if c.target_agent is None:
                    c.target_agent = agent
                hub._call_update(
                    event.linkedid,
                    "answered",
                    {"agent": agent, "queue": event.queue, "waited_seconds": 0.0, "at": event.at},
                    only=agent,
                )
                view = hub.calls.get(event.linkedid)
                if view is not None:
                    view.state = "held"  # the customer still waits on hold; the call stays the agent's
                self._tell(hub, c, "answered", (c.agent,))
                return True
            case CallerLeft():  # Asterisk keeps the agent and the colleague talking: nothing to transfer
                del self.calls[c.linkedid]
                self._tell(hub, c, "stranded", (c.agent,))
                hub._call_update(event.linkedid, "caller_left", {"at": event.at})
                return True
            case CallHoldChanged(on_hold=False):  # Asterisk brought the agent back to the customer
                del self.calls[c.linkedid]
                self._target_leaves(hub, c)
                self._tell(hub, c, "over", (c.agent,))
                return False  # the customer is talking to the agent again: "resumed"
            case CallTransferred(kind="attended"):
                del self.calls[c.linkedid]
                view = hub.calls.get(event.linkedid)
                if view is not None:
                    view.agent = c.target_agent
                    view.state = "answered"
                hub._call_update(
                    event.linkedid,
                    "transferred",
                    {"agent": c.agent, "target": c.target, "kind": "attended"},
                    only=c.agent,
                )
                if view is not None:
                    view.state = "answered"
                self._tell(hub, c, "completed", (c.agent,))
                return True
            case _:
                return False


def book(desk: Desk) -> Consults:
    hook = desk.hub.consults
    if isinstance(hook, Consults):
        return hook
    consults = Consults()
    desk.hub.consults = consults
    return consults


def _target(
    desk: Desk, identity: Identity, server: str, to: str, target: str
) -> tuple[str, str, AgentId | None, str]:
    """(exten, context, target agent, the seat's interface) of a consultation or conference target; a
    queue's is its extension in the queue context (the agent waits there, the customer on music)."""
    if to == "queue":
        return queue_named(desk.hub, target), desk.contexts_of(server).queue, None, ""
    if to == "agent":
        folded = {a.casefold(): a for a in desk.hub.seats}
        name = AgentId(folded.get(target.casefold(), target))
        if name == identity.agent:
            raise DeskError("bad_target", "you cannot consult yourself", "target")
        seat = desk.hub.seats.get(name)
        exten = extension_of(seat.interface) if seat else None
        if seat is None or exten is None:
            raise DeskError("unknown_agent", f"no extension known for {target}", "target")
        return exten, CONSULT_CONTEXT, name, seat.interface
    if desk.hub.normalize(target) is None and not target.isdigit():
        raise DeskError("bad_number", f"{target} is not a number that can be dialled", "target")
    return target, CONSULT_DIAL_CONTEXT, None, ""


async def _answered_call(desk: Desk, identity: Identity, lid: str) -> tuple[str, AgentId, str]:
    server, agent = desk._call(identity, lid)
    view = desk.hub.calls.get(LinkedId(lid))
    if agent is None or view is None or view.agent is None:
        raise DeskError("not_answered", "only a call an agent answered can be transferred warm")
    if identity.supervisor:
        agent = view.agent
    channel = await desk._channel(desk.channels.agent_channel(server, lid, agent))
    if channel is None:
        raise DeskError("no_channel", "the call has no live channel of yours")
    return server, agent, channel


async def warm_transfer(desk: Desk, identity: Identity, cmd: p.WarmTransfer) -> dict[str, Any]:
    lid = cmd.linkedid
    consults = book(desk)
    if lid in consults.calls:
        raise DeskError("consulting", "a warm transfer or conference of this call is already under way")
    server, agent, channel = await _answered_call(desk, identity, lid)
    exten, context, target_agent, _ = _target(desk, identity, server, cmd.to, cmd.target)
    shown = target_agent or (exten if cmd.to == "queue" else cmd.target)
    await desk._ami(
        server,
        {"Action": "Atxfer", "Channel": channel, "Exten": exten, "Context": context},
        ("atxfer", {"linkedid": lid, "agent": agent, "exten": exten, "context": context}),
    )
    c = Consultation(server, lid, agent, channel, cmd.to, shown, exten, context, target_agent)
    consults.calls[lid] = c
    consults._tell(desk.hub, c, "consulting", ())  # the supervisors' live calls say so
    return {**c.view(), "consulting": shown}


def _mine(desk: Desk, identity: Identity, lid: str, state: str) -> Consultation:
    desk._call(identity, lid)  # the call is yours (or you supervise)
    c = book(desk).calls.get(lid)
    if c is None or c.state != state:
        what = "warm transfer" if state == "consulting" else "conference"
        raise DeskError(
            f"no_{'consultation' if state == 'consulting' else 'conference'}",
            f"no {what} of this call is under way",
        )
    if not identity.supervisor and c.agent != identity.agent:
        raise DeskError("forbidden", "only the agent who started it acts on it")
    return c


async def _dual_redirect(desk: Desk, c: Consultation, customer: str, room: str) -> None:
    target = {"Context": CONFERENCE_CONTEXT, "Exten": room, "Priority": "1"}
    await desk._ami(
        c.server,
        {
            "Action": "Redirect",
            "Channel": c.channel,
            **target,
            "ExtraChannel": customer,
            "ExtraContext": CONFERENCE_CONTEXT,
            "ExtraExten": room,
            "ExtraPriority": "1",
        },
        ("conference", {"linkedid": c.linkedid, "agent": c.agent, "room": room}),
    )


def _about(c: Consultation, **more: str) -> dict[str, Any]:
    """A desk-level request's arguments about ``c`` (for the instance connected to its server)."""
    return {"linkedid": c.linkedid, "agent": c.agent, "exten": c.exten, "context": c.context, **more}


async def consult(desk: Desk, identity: Identity, cmd: p.Consult) -> dict[str, Any]:
    c = _mine(desk, identity, cmd.linkedid, "consulting")
    consults = book(desk)
    if cmd.op == "complete":
        await desk._ami(
            c.server,
            {"Action": "Hangup", "Channel": c.channel},
            ("hangup", {"linkedid": c.linkedid, "agent": c.agent}),
        )
        return {**c.view(), "state": "completing"}
    # another instance connected to the server finds the channel itself (cti.bus.commands)
    remote = isinstance(desk.servers(c.server), DeskRequests)
    target = "" if remote else await _consult_channel(desk, c)
    if cmd.op == "cancel":
        await desk._ami(c.server, {"Action": "Hangup", "Channel": target}, ("consult_cancel", _about(c)))
        return {**c.view(), "state": "cancelling"}
    customer = await desk._channel(desk.channels.caller_channel(c.server, c.linkedid))
    if customer is None:
        raise DeskError("no_channel", "the customer's channel is gone")
    room = str(next(_ROOMS))
    await _dual_redirect(desk, c, customer, room)
    await desk._ami(
        c.server,
        {
            "Action": "Redirect",
            "Channel": target,
            "Context": CONFERENCE_CONTEXT,
            "Exten": room,
            "Priority": "1",
        },
        ("consult_redirect", _about(c, room=room)),
    )
    c.state, c.room = "conference", room
    c.parties = [c.agent, _customer_name(desk, c.linkedid), c.target]
    consults.calls[c.linkedid] = c
    consults._tell(desk.hub, c, "conference", ())  # to supervisors
    return c.view()


async def _consult_channel(desk: Desk, c: Consultation) -> str:
    search = desk.channels
    if not isinstance(search, ChannelSearch):
        raise DeskError("no_channel", "the consultation's channel cannot be looked up from this instance")
    found = search.channel_like(c.server, c.linkedid, f"Local/{c.exten}@{c.context}-", ";1")
    if found is None:
        raise DeskError("no_channel", "the consultation's channel is gone")
    return found


def _customer_name(desk: Desk, lid: str) -> str:
    view = desk.hub.calls.get(LinkedId(lid))
    return view.number if view is not None and view.number else "customer"


async def conference(desk: Desk, identity: Identity, cmd: p.Conference) -> dict[str, Any]:
    consults = book(desk)
    if cmd.op == "start":
        if cmd.linkedid in consults.calls:
            raise DeskError("consulting", "a warm transfer or conference of this call is already under way")
        server, agent, channel = await _answered_call(desk, identity, cmd.linkedid)
        assert cmd.to is not None and cmd.target is not None
        exten, _, target_agent, interface = _target(desk, identity, server, cmd.to, cmd.target)
        customer = await desk._channel(desk.channels.caller_channel(server, cmd.linkedid))
        if customer is None:
            raise DeskError("no_channel", "the customer's channel is gone")
        shown = target_agent or cmd.target
        c = Consultation(server, cmd.linkedid, agent, channel, cmd.to, shown, exten, "", target_agent)
        room = str(next(_ROOMS))
        await _dual_redirect(desk, c, customer, room)
        dial = interface or f"Local/{exten}@{desk.contexts_of(server).dial}/n"
        caller = _customer_name(desk, cmd.linkedid)
        channel_id = uuid.uuid4().hex  # the originated channel's Uniqueid: its OriginateResponse is ours
        await desk._ami(
            server,
            {
                "Action": "Originate",
                "Channel": dial,
                "Context": CONFERENCE_CONTEXT,
                "Exten": room,
                "Priority": "1",
                "Async": "true",
                "Timeout": "30000",
                "CallerID": f'"{agent}" <{caller}>',
                "ChannelId": channel_id,
            },
            (
                "originate_conference",
                _about(c, room=room, to=cmd.to, target=shown, caller=caller, channel_id=channel_id),
            ),
        )
        if target_agent is not None:
            consults.invite(desk.hub, c, target_agent, channel_id)
        c.state, c.room = "conference", room
        c.parties = [agent, _customer_name(desk, cmd.linkedid), shown]
        consults.calls[cmd.linkedid] = c
        consults._tell(desk.hub, c, "conference", ())  # to supervisors
        return c.view()
    c = _mine(desk, identity, cmd.linkedid, "conference")
    who = c.channel if cmd.op == "leave" else "all"
    await desk._ami(
        c.server,
        {"Action": "ConfbridgeKick", "Conference": c.room, "Channel": who},
        ("conference_kick", _about(c, room=c.room, who="agent" if cmd.op == "leave" else "all")),
    )
    if cmd.op == "leave":
        del consults.calls[c.linkedid]
        if c.agent in c.parties:
            c.parties.remove(c.agent)
        view = desk.hub.calls.get(LinkedId(c.linkedid))
        if view is not None:
            view.agents.discard(c.agent)
            view.agent = c.target_agent  # the colleague stays with the customer: the call is theirs
        msg = {"type": "call", "event": "left", "linkedid": c.linkedid, "server": c.server}
        desk.hub._emit(msg, (c.agent,))
        if view is not None and c.target_agent is not None:  # their card and the supervisors' live calls
            update = {"agent": c.target_agent, "queue": None, "waited_seconds": 0.0, "at": desk.hub.now()}
            desk.hub._call_update(view.linkedid, "answered", update)
        return {**c.view(), "state": "left"}
    return {**c.view(), "state": "ending"}
