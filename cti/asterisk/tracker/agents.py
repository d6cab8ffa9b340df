"""Agents as the tracker observes them (rule 8): one ``cti.routing.agents.Agent`` per queue member name.

The state machine is ``cti.routing.agents`` (facts, rule table, transition table). ``Roster`` feeds it what
Asterisk shows: membership and pause (QueueMember* events, QueueStatus at resync), rings (AgentCalled, a
dial to a member's device), calls (an answer, AgentConnect), the device state, and app_queue's wrap-up
(``start_wrapup`` with the member's wrapuptime or the queue's configured seconds). Every ``Transition``
an agent returns becomes one ``AgentStateChanged``. Facts that one event carries together (membership,
pause and device state of a QueueMember event) are written to ``Agent.facts`` together and the state is
derived once (``Agent.update``), so one event makes at most one move.

``Roster`` also owns what ties agents to channels: member interface -> agent, the extension standing in
for an agent a CTI-routed dial named before any member list did, the rings in progress, and the wrap-up
timers (wrap-up ends by event time: the first event at or after its end, or ``advance``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cti.asterisk import translate as tr
from cti.asterisk.tracker.channels import interface_device
from cti.core.events import AgentState, AgentStateChanged, DomainEvent
from cti.core.frozen import quick_constructor
from cti.core.ids import AgentId, QueueName
from cti.routing.agents import Agent, CallKind, Transition

if TYPE_CHECKING:
    from cti.asterisk.tracker.journeys import Journey
    from cti.asterisk.tracker.legs import Visit

_AgentStateChanged = quick_constructor(AgentStateChanged)

_DEVICE_BUSY = {2, 3, 8}  # AST_DEVICE_INUSE, BUSY, ONHOLD
_DEVICE_RINGING = {6, 7}
_DEVICE_GONE = {4, 5}  # INVALID, UNAVAILABLE
_NEVER = float("inf")


@dataclass(frozen=True, slots=True)
class AgentView:
    """What the supervisor sees of one agent."""

    agent: AgentId
    interface: str
    state: AgentState
    reason: str
    since: float
    queues: tuple[QueueName, ...]


@dataclass(slots=True)
class Ring:
    """An agent's phone ringing for a call (the agent leg's uniqueid is the key)."""

    agent: AgentId
    interface: str
    visit: Visit | None  # the queue visit it rings for; None for a CTI-routed dial
    caller_uid: str
    journey: Journey
    rang_at: float


class Roster:
    """The agents, their devices and rings, and the wrap-up timers."""

    __slots__ = (
        "_devices",
        "_shown_at",
        "_wrapups",
        "_wrapuptime",
        "by_name",
        "conferences",
        "device_agent",
        "next_wrapup",
        "on_rename",
        "placeholders",
        "rings",
        "server",
        "stale",
        "wrapup_seconds",
    )

    def __init__(
        self, server: str, wrapup_seconds: dict[str, float], on_rename: Callable[[AgentId, AgentId], None]
    ) -> None:
        self.server = server
        self.wrapup_seconds = wrapup_seconds  # queue -> seconds, when the member list says none
        self.on_rename = on_rename  # the tracker renames the agent in its channels and journeys
        self.by_name: dict[str, Agent] = {}
        self.device_agent: dict[str, AgentId] = {}
        self.placeholders: dict[str, AgentId] = {}  # device -> agent named by its extension
        self.rings: dict[str, Ring] = {}  # agent leg uid -> ring
        self._wrapuptime: dict[str, int] = {}  # member -> app_queue's wrapuptime
        self._wrapups: dict[str, float] = {}  # member -> end of its wrap-up
        self._shown_at: dict[str, float] = {}  # member -> time of its last AgentStateChanged
        self._devices: dict[str, str] = {}  # member interface -> its device (most events name one)
        self.next_wrapup = _NEVER
        self.stale: Agent | None = None  # an agent whose facts changed without a move (a rename)
        # an agent's channel in a ConfBridge: uid -> (the agent, the queue its call came from)
        self.conferences: dict[str, tuple[AgentId, str | None]] = {}

    def __len__(self) -> int:
        return len(self.by_name)

    # --- agents ------------------------------------------------------------------------------------

    def agent(self, name: str, interface: str = "") -> Agent:
        """The agent ``name``, known from now on; ``interface`` ties its device to it."""
        a = self.by_name.get(name)
        if a is None:
            a = self.by_name[name] = Agent(AgentId(name), interface)
        if interface:
            if not a.interface:
                a.interface = interface
            device = self._devices.get(interface)
            if device is None:
                device = self._devices[interface] = interface_device(interface)
            if self.device_agent.get(device) != a.id:
                self.device_agent[device] = a.id
                placeholder = self.placeholders.pop(device, None)
                if placeholder is not None and placeholder != a.id:
                    self._rename(placeholder, a)
        return a

    def _rename(self, old: AgentId, a: Agent) -> None:
        """A CTI-routed dial named the agent by extension before its member name was known: fix it.
        The rings and calls move over as facts; the next change of ``a`` shows them."""
        ph = self.by_name.pop(old, None)
        if ph is not None:
            a.facts.rings |= ph.facts.rings
            a.facts.calls.update(ph.facts.calls)
        for ring in self.rings.values():
            if ring.agent == old:
                ring.agent = a.id
        self.stale = a
        self.on_rename(old, a.id)

    def agent_of_device(self, device: str) -> AgentId | None:
        return self.device_agent.get(device)

    def is_agent_device(self, device: str) -> bool:
        return device in self.device_agent

    def stand_in(self, device: str, extension: str) -> AgentId:
        """A dial from the deliver context to a device no member list named: the extension stands in."""
        agent = self.placeholders[device] = AgentId(extension)
        return agent

    def views(self) -> dict[AgentId, AgentView]:
        return {
            a.id: AgentView(
                a.id,
                a.interface,
                a.state,
                a.reason,
                self._shown_at.get(a.id, a.since),
                tuple(map(QueueName, a.facts.queues)),
            )
            for a in self.by_name.values()
        }

    # --- the moves ---------------------------------------------------------------------------------

    def show(self, a: Agent, move: Transition | None, out: list[DomainEvent]) -> None:
        """Emit the move an agent made, if it made one."""
        if move is None:
            return
        self._shown_at[a.id] = move.at
        out.append(
            _AgentStateChanged(
                move.at,
                self.server,
                a.id,
                a.interface,
                move.new,
                move.reason,
                tuple(map(QueueName, sorted(a.facts.queues))),
            )
        )

    def _wrapup_started(self, a: Agent, at: float) -> None:
        """Wrap-up ends by time: remember when, so the first event at or after it ends it."""
        until = a.wrapup_ends
        if until > at:
            self._wrapups[a.id] = until
            if until < self.next_wrapup:
                self.next_wrapup = until

    def member_event(self, ev: tr.QueueMemberEvent, out: list[DomainEvent], force: bool = False) -> None:
        """A QueueMember* event: membership, pause and device state of one member, together. ``force``:
        a QueueStatus item read at a resync, Asterisk's word after a gap (any move is taken, marked
        ``forced``)."""
        a = self.agent(ev.member, ev.interface)
        f = a.facts
        was_member = ev.queue in f.queues
        if ev.name == "QueueMemberRemoved":
            f.queues.pop(ev.queue, None)
        else:
            f.queues[ev.queue] = ev.paused
            if ev.paused and ev.paused_reason:
                f.reason = ev.paused_reason
            elif ev.paused and ev.name == "QueueMemberPause":
                f.reason = ""
            self._wrapuptime[a.id] = ev.wrapuptime
            f.device_busy = ev.status in _DEVICE_BUSY
            f.device_ringing = ev.status in _DEVICE_RINGING
            f.device_gone = ev.status in _DEVICE_GONE
        move = a.update(ev.at, force=force)
        if move is not None:
            self.show(a, move, out)
        elif was_member != (ev.queue in f.queues):
            self.show_queues(a, ev.at, out)

    def show_queues(self, a: Agent, at: float, out: list[DomainEvent]) -> None:
        """The agent joined or left a queue without changing state (a member of two queues, the second
        one listed at a resync; a QueueRemove from one of them): consumers get the new list, same state."""
        out.append(
            _AgentStateChanged(
                at,
                self.server,
                a.id,
                a.interface,
                a.state,
                a.reason,
                tuple(map(QueueName, sorted(a.facts.queues))),
            )
        )

    def left_queues(self, name: str, queues: list[str], at: float, out: list[DomainEvent]) -> None:
        """A resync found the member in none of ``queues`` any more (Asterisk's word: forced)."""
        a = self.by_name[name]
        for q in queues:
            a.facts.queues.pop(q, None)
        move = a.update(at, force=True)
        if move is not None:
            self.show(a, move, out)
        elif queues and a.facts.queues:
            self.show_queues(a, at, out)

    def ring(self, a: Agent, uid: str, ring: Ring, queue: str | None, out: list[DomainEvent]) -> None:
        """The phone of ``a`` rings on the leg ``uid`` (app_queue rings members only: a queue ring makes
        the agent a member of ``queue`` if no list said so)."""
        self.rings[uid] = ring
        if queue is not None:
            a.facts.queues.setdefault(queue, False)
        move = a.ring_started(uid, ring.rang_at)
        if move is not None:
            self.show(a, move, out)

    def end_ring(self, uid: str, at: float, out: list[DomainEvent], answered: CallKind | None = None) -> None:
        """The ring on the leg ``uid`` is over. ``answered``: it was answered, and the agent is on that call
        from now (no "available" blink before AgentConnect): the call and the ring's end, one move."""
        ring = self.rings.pop(uid, None)
        if ring is None:
            return
        if ring.visit is not None:
            ring.visit.ring_ended()
        a = self.by_name.get(ring.agent)
        if a is not None:
            if answered is not None:
                a.facts.calls[uid] = answered
            move = a.ring_ended(uid, at)
            if move is not None:
                self.show(a, move, out)

    def rings_of(self, j: Journey) -> list[str]:
        return [uid for uid, ring in self.rings.items() if ring.journey is j]

    def merged(self, keep: Journey, gone: Journey) -> None:
        for ring in self.rings.values():
            if ring.journey is gone:
                ring.journey = keep

    def refresh(self, a: Agent, at: float, out: list[DomainEvent]) -> None:
        """Every fact change makes its move at once, except the facts a rename moved over: shown here."""
        if self.stale is a:
            self.stale = None
            self.show(a, a.advance(at), out)

    def call_started(self, a: Agent, uid: str, kind: CallKind, at: float, out: list[DomainEvent]) -> None:
        if uid not in a.facts.calls:  # an AgentConnect after the answer's DialEnd: known already
            self.show(a, a.call_started(uid, kind, at), out)

    def call_ended(self, name: str, uid: str, queue: str | None, at: float, out: list[DomainEvent]) -> None:
        """The agent's call on ``uid`` is over; a queue call starts app_queue's wrap-up."""
        a = self.by_name.get(name)
        if a is None:
            return
        wrap = self.wrapup_for(a, queue) if queue is not None else 0.0
        if uid not in a.facts.calls and wrap > 0:
            move = a.start_wrapup(at + wrap, at)  # its call was never seen (a gap)
        else:
            move = a.call_ended(uid, at, wrapup=wrap)
        if wrap > 0:
            self._wrapup_started(a, at)
        self.show(a, move, out)

    def conference_joined(
        self, uid: str, agent: AgentId, queue: str | None, at: float, out: list[DomainEvent]
    ) -> None:
        """The agent's channel joined a ConfBridge: on a call while there, whatever app_queue says (its
        AgentComplete came at the Redirect that took the channel out of the queue call's bridge)."""
        a = self.by_name.get(agent)
        if a is None or uid in self.conferences:
            return
        self.conferences[uid] = (agent, queue)
        self.show(a, a.call_started(f"conference:{uid}", CallKind.ACD_INBOUND, at), out)

    def conference_left(self, uid: str, at: float, out: list[DomainEvent]) -> None:
        """The agent's channel left the ConfBridge (a kick, a hangup): the queue's wrap-up starts now."""
        found = self.conferences.pop(uid, None)
        a = self.by_name.get(found[0]) if found is not None else None
        if found is None or a is None:
            return
        wrap = self.wrapup_for(a, found[1]) if found[1] is not None else 0.0
        move = a.call_ended(f"conference:{uid}", at, wrapup=wrap)
        if wrap > 0:
            self._wrapup_started(a, at)
        self.show(a, move, out)

    def wrapup_for(self, a: Agent, queue: str) -> float:
        return float(self._wrapuptime.get(a.id, 0)) or self.wrapup_seconds.get(queue, 0.0)

    def completed(self, name: str, interface: str, queue: str, at: float, out: list[DomainEvent]) -> None:
        """AgentComplete: app_queue's wrap-up starts, unless the agent's hangup started it already."""
        a = self.agent(name, interface)
        wrap = self.wrapup_for(a, queue)
        if a.wrapup_ends <= at and wrap > 0:
            move = a.start_wrapup(at + wrap, at)
            self._wrapup_started(a, at)
            self.show(a, move, out)
        else:
            self.refresh(a, at, out)

    def finish_wrapups(self, at: float, out: list[DomainEvent]) -> None:
        due = sorted((until, name) for name, until in self._wrapups.items() if until <= at)
        for until, name in due:
            del self._wrapups[name]
            a = self.by_name.get(name)
            if a is not None:
                self.show(a, a.advance(until), out)
        self.next_wrapup = min(self._wrapups.values(), default=_NEVER)
