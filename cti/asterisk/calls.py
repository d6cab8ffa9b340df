"""The call tracker: AMI messages in, domain events and finished call journeys out. Pure: no I/O, no clock.

Theory of operation (every rule that changes tracked state lives in this file):

1. One journey per Linkedid. A channel joins the journey of its Linkedid. Linkedid can change while a
   call runs (a basic bridge copies the oldest Linkedid to every member): the tracker follows the latest
   value, and when two tracked journeys meet, the younger one is merged into the older one.
2. Local channel halves (``;1``/``;2``, announced by LocalBridge) are one leg: the caller "hung up" when
   either half got a hangup request; an agent leg ends when either half hangs up.
3. A journey is complete when its last channel hangs up: ``CallEnded`` carries the finished record and
   the tracker forgets the journey and its channels, so memory stays bounded on an endless stream. A
   short, bounded memory of finished Linkedids drops late events instead of opening a ghost journey.
4. Time is the event's ``Timestamp`` header, else the ``received_at`` given to ``feed``.
5. Queue visits (QueueLeg) follow app_queue: QueueCallerJoin opens a leg; AgentCalled rings an agent;
   AgentRingNoAnswer adds to ``ring_no_answer``; DialEnd ANSWER from the waiting channel marks who
   answers; QueueCallerLeave closes the leg (wait = leave - join); AgentConnect starts talk;
   AgentComplete ends talk (``Reason: transfer`` makes the leg ``transferred``).
6. QueueCallerAbandon fires for a caller hang-up *and* for a queue timeout or leavewhenempty (AMI.md):
   if the waiting channel (or its Local partner) already had a hangup request, it is an abandon; else the
   exit is provisional (timeout) until the channel's ``QUEUESTATUS`` VarSet says TIMEOUT / LEAVEEMPTY /
   JOINEMPTY..., or the next event of that channel, its hangup or ``close`` settles it. A leave with no
   abandon and no answer is provisionally an exit with a key.
7. Direction: a journey started by an AMI Originate is inbound when the originate's target context is one
   of ``inbound_contexts`` (the simulated callers), else outbound (the dialer); a journey started by a
   channel that is not an originate is inbound, unless that channel is a known agent's device (then
   internal if it dials another agent, else outbound). ``CallStarted`` is emitted once the direction is
   known: at once for a trunk channel ringing in (Newchannel, state Ring, not Local, not an agent's
   device), else at the OriginateResponse, the queue join, the CtiWaiting event or the first dial.
8. Agents: one state per agent (queue member name, as queue_log logs it) across all queues, derived by
   ``_derive`` from what is known: device busy or a call in progress -> on_call; a ring -> ringing;
   inside wrap-up -> wrap_up; paused in every queue -> paused; member of no queue -> logged_out; else
   available. ``AgentStateChanged`` is emitted only when the derived state or reason changes. Wrap-up
   ends by event time: the first event at or after its end emits the change (``advance`` does too).
9. Outbound outcome: OriginateResponse Reason (4 answered, 5 busy, 3 no answer, 8 congestion), then the
   DialEnd DialStatus, then Hangup causes (17 busy, 18/19 no answer, 34/38/... congestion); an answered
   dialer call that never reached an agent is ``dropped``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cti.asterisk import translate as tr
from cti.asterisk.ami import Message
from cti.asterisk.snapshot import ResyncSnapshot
from cti.core.events import (
    AgentRinging,
    AgentRingNoAnswer,
    AgentState,
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallerInfo,
    CallHoldChanged,
    CallLeftQueue,
    CallQueued,
    CallStarted,
    CallTransferred,
    CallWaiting,
    DomainEvent,
    OriginateFinished,
    Resynced,
    StreamProblem,
    UserEventRaised,
)
from cti.core.frozen import quick_constructor
from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import CallJourney, Direction, JourneyOutcome, LegOutcome, QueueLeg

# Quick constructors (cti/core/frozen.py) of the domain events the tracker emits: exact, frozen instances.
_AgentStateChanged = quick_constructor(AgentStateChanged)
_CallStarted = quick_constructor(CallStarted)
_OriginateFinished = quick_constructor(OriginateFinished)
_CallEnded = quick_constructor(CallEnded)
_CallQueued = quick_constructor(CallQueued)
_AgentRinging = quick_constructor(AgentRinging)
_CallLeftQueue = quick_constructor(CallLeftQueue)
_CallAnswered = quick_constructor(CallAnswered)
_CallTransferred = quick_constructor(CallTransferred)
_AgentRingNoAnswer = quick_constructor(AgentRingNoAnswer)
_CallerInfo = quick_constructor(CallerInfo)
_CallHoldChanged = quick_constructor(CallHoldChanged)
_CallWaiting = quick_constructor(CallWaiting)
_UserEventRaised = quick_constructor(UserEventRaised)
_StreamProblem = quick_constructor(StreamProblem)

DEFAULT_INBOUND_CONTEXTS = ("inbound", "from-trunk", "from-pstn", "from-external", "from-did")
DEFAULT_DELIVER_CONTEXTS = ("deliver",)
RECENT_MEMORY = 4096  # finished channels/Linkedids remembered to drop late events

_QUEUESTATUS = {
    "TIMEOUT": LegOutcome.TIMEOUT,
    "LEAVEEMPTY": LegOutcome.EXIT_EMPTY,
    "JOINEMPTY": LegOutcome.EXIT_EMPTY,
    "LEAVEUNAVAIL": LegOutcome.EXIT_EMPTY,
    "JOINUNAVAIL": LegOutcome.EXIT_EMPTY,
    "FULL": LegOutcome.EXIT_EMPTY,
    "WITHDRAW": LegOutcome.ABANDONED,
}
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
_DEVICE_BUSY = {2, 3, 8}  # AST_DEVICE_INUSE, BUSY, ONHOLD
_DEVICE_RINGING = {6, 7}
_DEVICE_GONE = {4, 5}  # INVALID, UNAVAILABLE


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


@dataclass(frozen=True, slots=True)
class AgentView:
    """What the supervisor sees of one agent."""

    agent: AgentId
    interface: str
    state: AgentState
    reason: str
    since: float
    queues: tuple[QueueName, ...]


@dataclass(frozen=True, slots=True)
class ChannelView:
    """A live channel of a call: what an action (Hangup, Redirect, a transfer) needs to address it."""

    uniqueid: str
    name: str
    agent: AgentId | None  # set when this is an agent's leg
    is_caller: bool  # the journey's primary channel: the caller's side (outbound: the called party's)
    hangup_requested: bool


@dataclass(slots=True)
class _Channel:
    uid: str
    name: str
    linkedid: str
    jid: int
    caller_num: str = ""
    caller_name: str = ""
    context: str = ""
    exten: str = ""
    partner: str | None = None
    hangup_requested: bool = False
    agent: AgentId | None = None  # set when this channel is an agent's leg
    hold_since: float | None = None


@dataclass(slots=True)
class _Ring:
    agent: AgentId
    interface: str
    queue: QueueName | None
    caller_uid: str
    jid: int
    rang_at: float


@dataclass(slots=True)
class _Talk:
    agent: AgentId
    since: float
    leg: QueueLeg | None
    caller_uid: str
    agent_gone: bool = False


@dataclass(slots=True)
class _Journey:
    jid: int
    record: CallJourney
    primary: str
    channels: set[str] = field(default_factory=set)
    linkedids: set[str] = field(default_factory=set)
    started: bool = False
    originated: bool = False
    origin_context: str = ""
    originate_reason: int | None = None
    originate_dial_status: str = ""
    causes: list[int] = field(default_factory=list)
    open_legs: dict[str, QueueLeg] = field(default_factory=dict)  # waiting uid -> leg in a queue now
    provisional: dict[str, QueueLeg] = field(default_factory=dict)  # uid -> leg whose exit is not settled
    answering: dict[str, _Ring] = field(default_factory=dict)  # waiting uid -> ring answered (queue)
    talking: dict[str, _Talk] = field(default_factory=dict)  # agent leg uid -> talk segment
    estimated: set[int] = field(default_factory=set)  # id() of legs whose entry time is estimated
    waited: bool = False  # reached the CTI holding extension
    dropped: bool = False
    dials_agent: bool = False
    transferring: bool = False  # a transfer event was seen; the dial it causes is not a Redirect
    abandoned: dict[str, str] = field(default_factory=dict)  # uid -> queue closed by an abandon
    dialled: str = ""  # an originate's destination number
    origin_exten: str = ""  # an originate's target extension


@dataclass(slots=True)
class _Agent:
    agent: AgentId
    interface: str
    queues: dict[str, bool] = field(default_factory=dict)  # queue -> paused
    reason: str = ""
    wrapuptime: int = 0
    wrapup_until: float = 0.0
    rings: set[str] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)
    device_busy: bool = False
    device_ringing: bool = False
    device_gone: bool = False
    state: AgentState = AgentState.LOGGED_OUT
    shown_reason: str = ""
    since: float = 0.0


_Handler = Callable[["CallTracker", tr.AmiEvent, list[DomainEvent]], None]


class CallTracker:
    """Feed AMI messages in arrival order; get domain events back. One instance per AMI connection."""

    def __init__(
        self,
        server: str = "",
        *,
        inbound_contexts: Iterable[str] = DEFAULT_INBOUND_CONTEXTS,
        deliver_contexts: Iterable[str] = DEFAULT_DELIVER_CONTEXTS,
        wrapup_seconds: dict[str, float] | None = None,
    ) -> None:
        self.server = server
        self.inbound_contexts = frozenset(inbound_contexts)
        self.deliver_contexts = frozenset(deliver_contexts)
        self.wrapup_seconds = dict(wrapup_seconds or {})
        self._channels: dict[str, _Channel] = {}
        self._journeys: dict[int, _Journey] = {}
        self._linked: dict[str, int] = {}
        self._rings: dict[str, _Ring] = {}  # agent leg uid -> ring
        self._agents: dict[str, _Agent] = {}
        self._device_agent: dict[str, AgentId] = {}
        self._placeholders: dict[str, AgentId] = {}  # device -> agent named by its extension (rule 8)
        self._originates: OrderedDict[str, tr.OriginateResponseEvent] = OrderedDict()
        self._dead: OrderedDict[str, None] = OrderedDict()  # recently hung-up uniqueids
        self._ended: OrderedDict[str, None] = OrderedDict()  # recently finished linkedids
        self._prov: dict[str, int] = {}  # uid -> journey of a queue exit not settled yet (rule 6)
        self._next_jid = 1
        self._wrapups: dict[str, float] = {}
        self._next_wrapup = float("inf")
        self.now = 0.0
        self.messages = 0
        self.late_events = 0
        self.problems = 0

    # --- public API --------------------------------------------------------------------------------

    def feed(self, msg: Message, received_at: float | None = None) -> list[DomainEvent]:
        """Apply one AMI message. Never raises on bad input: problems come back as StreamProblem."""
        self.messages += 1
        name = msg.event
        if name is None:
            return []
        route = _ROUTES.get(name)
        if route is None:
            # Most of the stream (Newexten, DeviceStateChange, Newstate...) says nothing the tracker keeps:
            # it is skipped on its name, before its headers are even split (ami.Message is lazy).
            return []
        handler, light = route
        if handler is _on_varset and not (
            msg.mentions("QUEUESTATUS") and msg.peek("Variable") == "QUEUESTATUS"
        ):
            return []  # the other VarSets, a quarter of the stream: one scan of the text each
        out: list[DomainEvent] = []
        # a translated event needs the whole map anyway: read the time from it rather than the text
        ts = msg.peek("Timestamp") if light is not None else msg.map.get("Timestamp")
        at = received_at if received_at is not None else self.now
        if ts is not None:
            try:
                at = float(ts)
            except ValueError:
                pass
        if at > self.now:
            self.now = at
        if at >= self._next_wrapup:
            self._finish_wrapups(at, out)
        if light is not None:
            light(self, msg, at, out)
            return out
        if self._prov and name != "QueueCallerLeave" and name != "VarSet":
            puid = msg.peek("Uniqueid")
            if puid is not None and puid in self._prov:
                self._settle(puid, None, at, out)
        ev = tr.build(tr.BUILDERS[name], name, at, msg)
        if isinstance(ev, tr.MalformedEvent):
            self.problems += 1
            out.append(_StreamProblem(at, self.server, ev.problem))
            return out
        assert handler is not None
        handler(self, ev, out)
        return out

    def advance(self, now: float) -> list[DomainEvent]:
        """Let time pass without events (ends wrap-ups that are due)."""
        out: list[DomainEvent] = []
        if now > self.now:
            self.now = now
        if now >= self._next_wrapup:
            self._finish_wrapups(now, out)
        return out

    def close(self, at: float) -> list[DomainEvent]:
        """End of stream: settle provisional queue exits and finish wrap-ups due by ``at``.

        Journeys whose channels are still up stay live (``live_journeys``): they have not ended."""
        out = self.advance(at)
        for uid in list(self._prov):
            self._settle(uid, None, at, out)
        return out

    def resync(self, snapshot: ResyncSnapshot) -> list[DomainEvent]:
        """Rebuild state from the CoreShowChannels and QueueStatus lists read after a (re)login.

        * A tracked channel missing from CoreShowChannels hung up during the gap: it is hung up now (a
          journey whose last channel went this way ends, at the snapshot time).
        * A channel new to the tracker is tracked (its journey starts ``Duration`` ago).
        * QueueMember items rebuild every agent's queues, pause and device state; a member missing from
          every list left its queues.
        * A QueueEntry the tracker did not know opens a queue leg (entered ``Wait`` seconds ago). A tracked
          open leg with no QueueEntry left the queue in the gap: answered when its channel is bridged with
          a known agent's channel, else timed out (docs/metrics.md, "Gaps").
        """
        at = snapshot.at
        out: list[DomainEvent] = []
        if at > self.now:
            self.now = at
        self._finish_wrapups(at, out)
        shows: list[tr.CoreShowChannelEvent] = []
        members: list[tr.QueueMemberEvent] = []
        entries: list[tr.QueueEntryEvent] = []
        queues = 0
        for msg in [*snapshot.channels, *snapshot.queue_status]:
            ev = tr.translate(msg, at)
            if isinstance(ev, tr.CoreShowChannelEvent):
                shows.append(ev)
            elif isinstance(ev, tr.QueueMemberEvent):
                members.append(ev)
            elif isinstance(ev, tr.QueueEntryEvent):
                entries.append(ev)
            elif isinstance(ev, tr.QueueParamsEvent):
                queues += 1
            elif isinstance(ev, tr.MalformedEvent):
                self.problems += 1
                out.append(_StreamProblem(at, self.server, ev.problem))
        live = {ev.chan.uniqueid for ev in shows}
        for uid in [u for u in self._channels if u not in live]:
            self._hangup(uid, at, 0, out)
        bridges: dict[str, list[str]] = {}
        for ev in shows:
            known = ev.chan.uniqueid in self._channels
            ch = self._chan(ev.chan, at - ev.duration)
            if ch is None:
                continue
            if not known:
                j = self._journeys[ch.jid]
                j.record.started_at = min(j.record.started_at, at - ev.duration)
            if ev.bridge_id:
                bridges.setdefault(ev.bridge_id, []).append(ch.uid)
        self._pair_locals()
        if snapshot.queue_status:
            listed: dict[str, set[str]] = {}
            for m in members:
                listed.setdefault(m.member, set()).add(m.queue)
                _on_member(self, m, out)
            for a in list(self._agents.values()):
                gone = [q for q in a.queues if q not in listed.get(a.agent, set())]
                for q in gone:
                    del a.queues[q]
                if gone:
                    self._agent_changed(a, at, out)
            self._resync_entries(entries, bridges, at, out)
        out.append(Resynced(at, self.server, snapshot.reason, len(shows), queues))
        return out

    def _pair_locals(self) -> None:
        """Local halves known by name only (their LocalBridge was in the gap): pair ;1 with ;2."""
        by_name = {ch.name: ch for ch in self._channels.values() if ch.name.startswith("Local/")}
        for name, ch in by_name.items():
            if ch.partner is None and name.endswith(";1"):
                other = by_name.get(name[:-1] + "2")
                if other is not None:
                    ch.partner, other.partner = other.uid, ch.uid

    def _resync_entries(
        self,
        entries: list[tr.QueueEntryEvent],
        bridges: dict[str, list[str]],
        at: float,
        out: list[DomainEvent],
    ) -> None:
        waiting = {(e.uniqueid, e.queue): e for e in entries}
        for e in entries:
            ch = self._channels.get(e.uniqueid)
            if ch is None:
                continue
            j = self._journeys[ch.jid]
            leg = j.open_legs.get(ch.uid)
            if leg is None or leg.queue != e.queue:
                self._start(j, at, out)
                leg = QueueLeg(QueueName(e.queue), UniqueId(ch.uid), at - e.wait, e.position)
                j.record.queue_legs.append(leg)
                j.open_legs[ch.uid] = leg
                out.append(
                    _CallQueued(
                        at,
                        self.server,
                        j.record.linkedid,
                        leg.uniqueid,
                        leg.queue,
                        e.position,
                        self._caller_info(j),
                    )
                )
        peers = {uid: members for members in bridges.values() for uid in members}
        for j in list(self._journeys.values()):
            for uid, leg in list(j.open_legs.items()):
                if (uid, leg.queue) in waiting:
                    continue
                agent = next(
                    (
                        self._device_agent[device_of(self._channels[p].name)]
                        for p in peers.get(uid, [])
                        if p != uid and device_of(self._channels[p].name) in self._device_agent
                    ),
                    None,
                )
                if agent is None:
                    self._close_leg(j, uid, leg, LegOutcome.TIMEOUT, at, out)
                    continue
                leg.agent = agent
                self._close_leg(j, uid, leg, LegOutcome.ANSWERED, at, out)
                leg.answered_at = at
                j.record.agents.append(agent)
                if j.record.answered_at is None:
                    j.record.answered_at = at
                agent_uid = next(p for p in peers[uid] if p != uid)
                j.talking[agent_uid] = _Talk(agent, at, leg, uid)
                self._agent(agent).calls.add(agent_uid)
                out.append(
                    _CallAnswered(at, self.server, j.record.linkedid, UniqueId(uid), agent, leg.queue, 0.0)
                )

    # read-only views ---------------------------------------------------------------------------------

    def live_journeys(self) -> list[CallJourney]:
        return [j.record for j in self._journeys.values()]

    def journey(self, linkedid: str) -> CallJourney | None:
        jid = self._linked.get(linkedid)
        return None if jid is None else self._journeys[jid].record

    def waiting(self, queue: str | None = None) -> list[QueueLeg]:
        """Callers waiting in a queue now (every queue when ``queue`` is None), longest wait first."""
        legs = [
            leg
            for j in self._journeys.values()
            for leg in j.open_legs.values()
            if queue is None or leg.queue == queue
        ]
        legs.sort(key=lambda leg: leg.entered_at)
        return legs

    def agents(self) -> dict[AgentId, AgentView]:
        return {
            a.agent: AgentView(
                a.agent, a.interface, a.state, a.shown_reason, a.since, tuple(map(QueueName, a.queues))
            )
            for a in self._agents.values()
        }

    def channels_of(self, linkedid: str) -> list[ChannelView]:
        """The live channels of the call ``linkedid`` (empty when the call is unknown or over)."""
        jid = self._linked.get(linkedid)
        if jid is None:
            return []
        primary = self._journeys[jid].primary
        return [
            ChannelView(c.uid, c.name, c.agent, c.uid == primary, c.hangup_requested)
            for c in self._channels.values()
            if c.jid == jid
        ]

    @property
    def tracked_channels(self) -> int:
        return len(self._channels)

    @property
    def tracked_journeys(self) -> int:
        return len(self._journeys)

    # --- channels and journeys ---------------------------------------------------------------------

    def _chan(self, c: tr.Chan, at: float, create: bool = True) -> _Channel | None:
        """The tracked channel for a snapshot block, created if new; follows Linkedid changes."""
        ch = self._channels.get(c.uniqueid)
        if ch is not None:
            if c.linkedid != ch.linkedid and c.linkedid:
                self._relink(ch, c.linkedid)
            if c.caller_num:
                ch.caller_num = c.caller_num
                ch.caller_name = c.caller_name
            ch.context = c.context
            ch.exten = c.exten
            ch.name = c.name or ch.name
            return ch
        if not create or c.uniqueid in self._dead or c.linkedid in self._ended:
            if c.linkedid in self._ended:
                self.late_events += 1
            return None
        jid = self._linked.get(c.linkedid)
        if jid is None:
            jid = self._new_journey(c.linkedid, c.uniqueid, at)
        ch = _Channel(c.uniqueid, c.name, c.linkedid, jid, c.caller_num, c.caller_name, c.context, c.exten)
        self._channels[c.uniqueid] = ch
        j = self._journeys[jid]
        j.channels.add(c.uniqueid)
        pending = self._originates.pop(c.uniqueid, None)
        if pending is not None:
            self._apply_originate(j, pending)
        return ch

    def _new_journey(self, linkedid: str, uid: str, at: float) -> int:
        jid = self._next_jid
        self._next_jid += 1
        rec = CallJourney(LinkedId(linkedid), Direction.INBOUND, at, server=self.server)
        self._journeys[jid] = _Journey(jid, rec, uid, linkedids={linkedid})
        self._linked[linkedid] = jid
        return jid

    def _relink(self, ch: _Channel, linkedid: str) -> None:
        ch.linkedid = linkedid
        j = self._journeys[ch.jid]
        other = self._linked.get(linkedid)
        if other is None:
            self._linked[linkedid] = j.jid
            j.linkedids.add(linkedid)
            j.record.linkedid = LinkedId(linkedid)
            return
        if other == j.jid:
            return
        self._merge(self._journeys[other], j)

    def _merge(self, keep: _Journey, gone: _Journey) -> None:
        """Linkedids met in a bridge: fold journey ``gone`` into ``keep`` (the one with the oldest id)."""
        for uid in gone.channels:
            self._channels[uid].jid = keep.jid
        for ring in self._rings.values():
            if ring.jid == gone.jid:
                ring.jid = keep.jid
        keep.channels |= gone.channels
        for lid in gone.linkedids:
            self._linked[lid] = keep.jid
        keep.linkedids |= gone.linkedids
        kr, gr = keep.record, gone.record
        kr.queue_legs = sorted(kr.queue_legs + gr.queue_legs, key=lambda leg: leg.entered_at)
        kr.agents.extend(a for a in gr.agents if a not in kr.agents)
        kr.transfers += gr.transfers
        kr.hold_seconds += gr.hold_seconds
        kr.talk_seconds += gr.talk_seconds
        if gr.started_at < kr.started_at:
            kr.started_at = gr.started_at
        if kr.answered_at is None or (gr.answered_at is not None and gr.answered_at < kr.answered_at):
            kr.answered_at = gr.answered_at
        keep.open_legs.update(gone.open_legs)
        keep.provisional.update(gone.provisional)
        for uid in gone.provisional:
            self._prov[uid] = keep.jid
        keep.answering.update(gone.answering)
        keep.talking.update(gone.talking)
        keep.estimated |= gone.estimated
        keep.causes.extend(gone.causes)
        keep.waited |= gone.waited
        keep.dropped |= gone.dropped
        keep.started |= gone.started  # one CallStarted per call, even when two ids merge
        del self._journeys[gone.jid]

    def _start(self, j: _Journey, at: float, out: list[DomainEvent]) -> None:
        """Emit CallStarted once the journey's direction can be told (see rule 7)."""
        if j.started:
            return
        j.started = True
        rec = j.record
        primary = self._channels.get(j.primary)
        if j.originated:
            ctx = j.origin_context or (primary.context if primary else "")
            rec.direction = Direction.INBOUND if ctx in self.inbound_contexts else Direction.OUTBOUND
        elif primary is not None and device_of(primary.name) in self._device_agent:
            rec.direction = Direction.INTERNAL if j.dials_agent else Direction.OUTBOUND
        else:
            rec.direction = Direction.INBOUND
        if rec.direction is Direction.OUTBOUND:
            rec.did = rec.did or j.dialled or j.origin_exten
        elif not rec.did:
            rec.did = j.origin_exten or (primary.exten if primary else "")
        self._refresh_caller(j)
        out.append(
            _CallStarted(
                at,
                self.server,
                rec.linkedid,
                UniqueId(j.primary),
                rec.direction,
                _CallerInfo(rec.caller_number, rec.caller_name),
                rec.did,
            )
        )

    def _refresh_caller(self, j: _Journey) -> None:
        rec = j.record
        if rec.direction is Direction.OUTBOUND:
            rec.caller_number = rec.did or rec.caller_number
            return
        primary = self._channels.get(j.primary)
        if primary is not None and primary.caller_num:
            rec.caller_number = primary.caller_num
            rec.caller_name = primary.caller_name

    def _caller_info(self, j: _Journey) -> CallerInfo:
        return _CallerInfo(j.record.caller_number, j.record.caller_name)

    def _hung_up(self, ch: _Channel) -> bool:
        """The caller side of this leg is going away (rule 2)."""
        if ch.hangup_requested:
            return True
        if ch.partner is not None:
            p = self._channels.get(ch.partner)
            return p is None or p.hangup_requested
        return False

    def _forget(self, store: OrderedDict[str, None], key: str) -> None:
        store[key] = None
        if len(store) > RECENT_MEMORY:
            store.popitem(last=False)

    # --- queue legs --------------------------------------------------------------------------------

    def _leg(self, j: _Journey, uid: str, queue: str, at: float, position: int = 0) -> QueueLeg:
        """The open leg of ``uid`` in ``queue``; one is opened (entry estimated) if the join was missed."""
        leg = j.open_legs.get(uid)
        if leg is not None and leg.queue == queue:
            return leg
        if leg is None:
            prov = j.provisional.get(uid)
            if prov is not None and prov.queue == queue:
                return prov
        leg = QueueLeg(QueueName(queue), UniqueId(uid), at, position)
        j.record.queue_legs.append(leg)
        j.open_legs[uid] = leg
        j.estimated.add(id(leg))
        return leg

    def _close_leg(
        self, j: _Journey, uid: str, leg: QueueLeg, outcome: LegOutcome, at: float, out: list[DomainEvent]
    ) -> None:
        leg.outcome = outcome
        if leg.left_at is None:
            leg.left_at = at
        leg.wait_seconds = max(0.0, leg.left_at - leg.entered_at)
        if j.open_legs.get(uid) is leg:
            del j.open_legs[uid]
        if j.provisional.get(uid) is leg:
            del j.provisional[uid]
            self._prov.pop(uid, None)
        out.append(
            _CallLeftQueue(
                at, self.server, j.record.linkedid, UniqueId(uid), leg.queue, outcome, leg.wait_seconds
            )
        )

    def _provisional(self, j: _Journey, uid: str, leg: QueueLeg, outcome: LegOutcome) -> None:
        leg.outcome = outcome
        j.provisional[uid] = leg
        self._prov[uid] = j.jid

    def _settle(self, uid: str, outcome: LegOutcome | None, at: float, out: list[DomainEvent]) -> None:
        jid = self._prov.pop(uid, None)
        j = self._journeys.get(jid) if jid is not None else None
        if j is None:
            return
        leg = j.provisional.pop(uid, None)
        if leg is None:
            return
        final = outcome or leg.outcome or LegOutcome.TIMEOUT
        j.provisional[uid] = leg
        self._prov[uid] = j.jid
        self._close_leg(j, uid, leg, final, leg.left_at or at, out)

    def _fix_entry(self, j: _Journey, leg: QueueLeg, at: float, hold_time: int) -> None:
        if id(leg) in j.estimated and hold_time > 0:
            leg.entered_at = min(leg.entered_at, at - hold_time)
            j.estimated.discard(id(leg))
            j.record.started_at = min(j.record.started_at, leg.entered_at)

    # --- agents ------------------------------------------------------------------------------------

    def _agent(self, name: str, interface: str = "") -> _Agent:
        a = self._agents.get(name)
        if a is None:
            a = self._agents[name] = _Agent(AgentId(name), interface)
        if interface and not a.interface:
            a.interface = interface
        if interface:
            device = interface_device(interface)
            if self._device_agent.get(device) != a.agent:
                self._device_agent[device] = a.agent
                placeholder = self._placeholders.pop(device, None)
                if placeholder is not None and placeholder != a.agent:
                    self._rename_agent(placeholder, a)
        return a

    def _rename_agent(self, old: AgentId, a: _Agent) -> None:
        """A CTI-routed dial named the agent by extension before its member name was known: fix it."""
        ph = self._agents.pop(old, None)
        if ph is not None:
            a.rings |= ph.rings
            a.calls |= ph.calls
        for ring in self._rings.values():
            if ring.agent == old:
                ring.agent = a.agent
        for ch in self._channels.values():
            if ch.agent == old:
                ch.agent = a.agent
        for j in self._journeys.values():
            for talk in j.talking.values():
                if talk.agent == old:
                    talk.agent = a.agent
            j.record.agents = [a.agent if x == old else x for x in j.record.agents]

    def _derive(self, a: _Agent, at: float) -> tuple[AgentState, str]:
        if a.calls or a.device_busy:
            return AgentState.ON_CALL, ""
        if a.rings or a.device_ringing:
            return AgentState.RINGING, ""
        if a.wrapup_until > at:
            return AgentState.WRAP_UP, ""
        if not a.queues or a.device_gone:
            return AgentState.LOGGED_OUT, ""
        if all(a.queues.values()):
            return AgentState.PAUSED, a.reason
        return AgentState.AVAILABLE, ""

    def _agent_changed(self, a: _Agent, at: float, out: list[DomainEvent]) -> None:
        state, reason = self._derive(a, at)
        if state is a.state and reason == a.shown_reason:
            return
        a.state, a.shown_reason, a.since = state, reason, at
        out.append(
            _AgentStateChanged(
                at, self.server, a.agent, a.interface, state, reason, tuple(map(QueueName, sorted(a.queues)))
            )
        )

    def _finish_wrapups(self, at: float, out: list[DomainEvent]) -> None:
        due = sorted((until, name) for name, until in self._wrapups.items() if until <= at)
        for until, name in due:
            del self._wrapups[name]
            a = self._agents.get(name)
            if a is not None:
                self._agent_changed(a, until, out)
        self._next_wrapup = min(self._wrapups.values(), default=float("inf"))

    def _start_wrapup(self, a: _Agent, queue: str, at: float) -> None:
        wrap = float(a.wrapuptime) or self.wrapup_seconds.get(queue, 0.0)
        if wrap > 0:
            a.wrapup_until = at + wrap
            self._wrapups[a.agent] = a.wrapup_until
            self._next_wrapup = min(self._next_wrapup, a.wrapup_until)

    def _end_ring(self, dest_uid: str, at: float, out: list[DomainEvent]) -> _Ring | None:
        ring = self._rings.pop(dest_uid, None)
        if ring is not None:
            a = self._agents.get(ring.agent)
            if a is not None:
                a.rings.discard(dest_uid)
                self._agent_changed(a, at, out)
        return ring

    def _end_talk(self, j: _Journey, agent_uid: str, at: float, out: list[DomainEvent]) -> None:
        talk = j.talking.pop(agent_uid, None)
        if talk is None:
            return
        seconds = max(0.0, at - talk.since)
        j.record.talk_seconds += seconds
        if talk.leg is not None and talk.leg.ended_at is None:
            talk.leg.ended_at = at
            talk.leg.talk_seconds = max(0.0, at - (talk.leg.answered_at or talk.since))
        a = self._agents.get(talk.agent)
        if a is not None:
            a.calls.discard(agent_uid)
            if talk.leg is not None and not talk.agent_gone:
                self._start_wrapup(a, talk.leg.queue, at)
            self._agent_changed(a, at, out)

    # --- journey end -------------------------------------------------------------------------------

    def _finish(self, j: _Journey, at: float, out: list[DomainEvent]) -> None:
        self._start(j, at, out)
        for uid in list(j.provisional):
            self._settle(uid, None, at, out)
        for uid, leg in list(j.open_legs.items()):
            self._close_leg(j, uid, leg, LegOutcome.ABANDONED, at, out)
        for agent_uid in list(j.talking):
            self._end_talk(j, agent_uid, at, out)
        for uid, ring in list(self._rings.items()):
            if ring.jid == j.jid:
                self._end_ring(uid, at, out)
        rec = j.record
        rec.ended_at = at
        rec.outcome = self._outcome(j)
        if rec.direction is Direction.OUTBOUND:
            self._refresh_caller(j)
        for lid in j.linkedids:
            if self._linked.get(lid) == j.jid:
                del self._linked[lid]
            self._forget(self._ended, lid)
        del self._journeys[j.jid]
        out.append(_CallEnded(at, self.server, rec))

    def _outcome(self, j: _Journey) -> JourneyOutcome:
        rec = j.record
        if rec.direction is Direction.OUTBOUND and j.originated:
            cls = classify_originate(j.originate_reason, j.originate_dial_status, j.causes)
            if cls != "answered":
                return JourneyOutcome(cls)
            if rec.agents:
                return JourneyOutcome.ANSWERED
            if j.dropped or rec.queue_legs:
                return JourneyOutcome.DROPPED
            return JourneyOutcome.ANSWERED
        if rec.agents:
            return JourneyOutcome.ANSWERED
        if rec.queue_legs:
            last = rec.queue_legs[-1].outcome
            if last is LegOutcome.ABANDONED:
                return JourneyOutcome.ABANDONED
            if last is LegOutcome.TIMEOUT:
                return JourneyOutcome.TIMEOUT
            return JourneyOutcome.UNANSWERED
        if j.waited:
            return JourneyOutcome.ABANDONED
        return JourneyOutcome.UNANSWERED

    def _hangup(self, uid: str, at: float, cause: int, out: list[DomainEvent]) -> None:
        _hangup(self, uid, at, cause, out)

    def _apply_originate(self, j: _Journey, ev: tr.OriginateResponseEvent) -> None:
        primary = self._channels.get(j.primary)
        if primary is not None and not primary.caller_num and ev.caller_num:
            primary.caller_num, primary.caller_name = ev.caller_num, ev.caller_name
        j.originated = True
        j.originate_reason = ev.reason
        if ev.context:
            j.origin_context = ev.context
            j.origin_exten = ev.exten


# --- event handlers: one per AMI event, in the order a call meets them ---------------------------------


def _on_newchannel(t: CallTracker, ev: tr.AmiEvent, out: list[DomainEvent]) -> None:
    assert isinstance(ev, tr.ChannelEvent)
    ch = t._chan(ev.chan, ev.at)
    c = ev.chan
    if (
        ch is not None
        and c.state == 4  # Ring: a call coming in on a trunk (PJSIP creates inbound channels ringing)
        and c.uniqueid == c.linkedid
        and not c.name.startswith("Local/")
        and device_of(c.name) not in t._device_agent
    ):
        t._start(t._journeys[ch.jid], ev.at, out)  # inbound: the screen pop can start at once


def _on_hold(t: CallTracker, ev: tr.AmiEvent, out: list[DomainEvent]) -> None:
    assert isinstance(ev, tr.ChannelEvent)
    ch = t._chan(ev.chan, ev.at)
    if ch is None:
        return
    j = t._journeys[ch.jid]
    on = ev.name == "Hold"
    if on and ch.hold_since is None:
        ch.hold_since = ev.at
    elif not on and ch.hold_since is not None:
        j.record.hold_seconds += max(0.0, ev.at - ch.hold_since)
        ch.hold_since = None
    else:
        return
    out.append(_CallHoldChanged(ev.at, t.server, j.record.linkedid, UniqueId(ch.uid), on))


def _on_local_bridge(t: CallTracker, ev: tr.AmiEvent, out: list[DomainEvent]) -> None:
    assert isinstance(ev, tr.LocalBridgeEvent)
    one = t._chan(ev.one, ev.at)
    two = t._chan(ev.two, ev.at)
    if one is not None and two is not None:
        one.partner, two.partner = two.uid, one.uid


# --- light handlers: the commonest channel events need one or two headers, read without splitting ----


def _light_hangup(t: CallTracker, msg: Message, at: float, out: list[DomainEvent]) -> None:
    uid = msg.peek("Uniqueid")
    if not uid:
        t.problems += 1
        out.append(_StreamProblem(at, t.server, "Hangup: missing Uniqueid"))
        return
    cause = msg.peek("Cause") or "0"
    t._hangup(uid, at, int(cause) if cause.isdigit() else 0, out)


def _light_hangup_request(t: CallTracker, msg: Message, at: float, out: list[DomainEvent]) -> None:
    ch = t._channels.get(msg.peek("Uniqueid") or "")
    if ch is not None:
        ch.hangup_requested = True


def _light_bridge_enter(t: CallTracker, msg: Message, at: float, out: list[DomainEvent]) -> None:
    """A basic bridge hands every member the oldest Linkedid: follow it (rule 1)."""
    ch = t._channels.get(msg.peek("Uniqueid") or "")
    linkedid = msg.peek("Linkedid")
    if ch is not None and linkedid and linkedid != ch.linkedid:
        t._relink(ch, linkedid)


def _hangup(t: CallTracker, uid: str, at: float, cause: int, out: list[DomainEvent]) -> None:
    """A channel is gone: settle what depended on it; the journey ends with its last channel."""
    ch = t._channels.pop(uid, None)
    t._forget(t._dead, uid)
    t._originates.pop(uid, None)
    if ch is None:
        return
    ch.hangup_requested = True
    j = t._journeys.get(ch.jid)
    if j is None:
        return
    j.channels.discard(uid)
    j.causes.append(cause)
    if uid == j.primary:
        j.record.hangup_cause = cause
    if ch.hold_since is not None:
        j.record.hold_seconds += max(0.0, at - ch.hold_since)
    if uid in t._prov:
        t._settle(uid, None, at, out)
    t._end_ring(uid, at, out)
    for agent_uid in (uid, ch.partner):
        if agent_uid is None:
            continue
        talk = j.talking.get(agent_uid)
        if talk is None:
            continue
        if talk.leg is None:
            t._end_talk(j, agent_uid, at, out)  # CTI-routed call: no AgentComplete will come
        elif not talk.agent_gone:
            talk.agent_gone = True  # queue call: AgentComplete ends the talk; the agent's call is over
            a = t._agents.get(talk.agent)
            if a is not None:
                a.calls.discard(agent_uid)
                t._start_wrapup(a, talk.leg.queue, at)
                t._agent_changed(a, at, out)
    # talk segments whose caller side went away (CTI-routed calls)
    for agent_uid, talk in list(j.talking.items()):
        if talk.leg is None and talk.caller_uid == uid:
            t._end_talk(j, agent_uid, at, out)
    if not j.channels:
        t._finish(j, at, out)


def _on_dial(t: CallTracker, ev: tr.AmiEvent, out: list[DomainEvent]) -> None:
    assert isinstance(ev, tr.DialEvent)
    at = ev.at
    if ev.caller is None:
        # An AMI Originate: the dialled channel has no caller (ami-reference.md 3.2).
        dest = t._chan(ev.dest, at)
        if dest is None:
            return
        j = t._journeys[dest.jid]
        if ev.name == "DialBegin":
            j.originated = True
            j.dialled = ev.dial_string.split("@", 1)[0].split("/")[-1]
        elif ev.name == "DialEnd":
            j.originate_dial_status = ev.dial_status
        return
    caller = t._chan(ev.caller, at)
    if caller is None:
        return
    j = t._journeys[caller.jid]
    dest_uid = ev.dest.uniqueid
    if ev.name == "DialBegin":
        dest = t._chan(ev.dest, at)
        if dest_uid in t._rings:
            return  # app_queue already announced it with AgentCalled
        device = device_of(ev.dest.name)
        agent = t._device_agent.get(device)
        if agent is None and caller.context in t.deliver_contexts and caller.exten:
            agent = t._placeholders[device] = AgentId(caller.exten)
        j.dials_agent = j.dials_agent or agent is not None
        t._start(j, at, out)  # an agent's own call is told outbound or internal by what it dials
        if agent is None:
            return
        if j.transferring:
            j.transferring = False  # the dial a BlindTransfer/AttendedTransfer announced
        elif j.record.agents and not any(tk.caller_uid == caller.uid for tk in j.talking.values()):
            # Talked to an agent, left it without a transfer event, now dials another: a Redirect.
            j.record.transfers += 1
            out.append(
                _CallTransferred(
                    at,
                    t.server,
                    j.record.linkedid,
                    j.record.agents[-1],
                    f"{caller.exten}@{caller.context}",
                    "redirect",
                )
            )
        a = t._agent(agent)
        if dest is not None:
            dest.agent = agent
        ring = _Ring(agent, a.interface, None, caller.uid, j.jid, at)
        t._rings[dest_uid] = ring
        a.rings.add(dest_uid)
        out.append(
            _AgentRinging(
                at,
                t.server,
                j.record.linkedid,
                UniqueId(caller.uid),
                agent,
                a.interface,
                None,
                t._caller_info(j),
                j.record.did,
                j.record.direction,
                max(0.0, at - j.record.started_at),
            )
        )
        t._agent_changed(a, at, out)
        return
    if ev.name != "DialEnd":
        return
    rung = t._rings.get(dest_uid)
    if rung is None:
        return
    _dial_end(t, j, caller, rung, ev, out)


def _dial_end(
    t: CallTracker, j: _Journey, caller: _Channel, ring: _Ring, ev: tr.DialEvent, out: list[DomainEvent]
) -> None:
    at = ev.at
    dest_uid = ev.dest.uniqueid
    if ev.dial_status == "ANSWER":
        a = t._agent(ring.agent)
        a.calls.add(dest_uid)  # on the call from the answer: no "available" blink before AgentConnect
        t._end_ring(dest_uid, at, out)
        if ring.queue is not None:
            j.answering[caller.uid] = ring
            return
        # CTI-routed (Redirect to deliver,<agent>): answered now, no queue involved.
        rec = j.record
        rec.agents.append(ring.agent)
        if rec.answered_at is None:
            rec.answered_at = at
        j.talking[dest_uid] = _Talk(ring.agent, at, None, caller.uid)
        out.append(
            _CallAnswered(
                at,
                t.server,
                rec.linkedid,
                UniqueId(caller.uid),
                ring.agent,
                None,
                max(0.0, at - ring.rang_at),
            )
        )
        t._agent_changed(a, at, out)
        return
    t._end_ring(dest_uid, at, out)
    if ring.queue is None and ev.dial_status in ("NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION"):
        out.append(
            _AgentRingNoAnswer(
                at, t.server, j.record.linkedid, UniqueId(caller.uid), ring.agent, None, at - ring.rang_at
            )
        )


def _on_queue_join(t: CallTracker, ev: tr.AmiEvent, out: list[DomainEvent]) -> None:
    assert isinstance(ev, tr.QueueCallerEvent)
    ch = t._chan(ev.chan, ev.at)
    if ch is None:
        return
    j = t._journeys[ch.jid]
    if ch.uid in t._prov:
        t._settle(ch.uid, None, ev.at, out)
    old = j.open_legs.get(ch.uid)
    if old is not None:
        t._close_leg(j, ch.uid, old, LegOutcome.EXIT_WITH_KEY, ev.at, out)
    t._start(j, ev.at, out)
    leg = QueueLeg(QueueName(ev.queue), UniqueId(ch.uid), ev.at, ev.position)
    j.record.queue_legs.append(leg)
    j.open_legs[ch.uid] = leg
    out.append(
        _CallQueued(
            ev.at, t.server, j.record.linkedid, UniqueId(ch.uid), leg.queue, ev.position, t._caller_info(j)
        )
    )


def _on_queue_abandon(t: CallTracker, ev: tr.AmiEvent, out: list[DomainEvent]) -> None:
    assert isinstance(ev, tr.QueueCallerEvent)
    ch = t._chan(ev.chan, ev.at)
    if ch is None:
        return
    j = t._journeys[ch.jid]
    leg = t._leg(j, ch.uid, ev.queue, ev.at, ev.original_position)
    t._fix_entry(j, leg, ev.at, ev.hold_time)
    leg.left_at = ev.at
    if leg.position == 0:
        leg.position = ev.original_position
    if t._hung_up(ch):
        t._close_leg(j, ch.uid, leg, LegOutcome.ABANDONED, ev.at, out)
        j.abandoned[ch.uid] = leg.queue  # its QueueCallerLeave follows
    else:
        j.open_legs.pop(ch.uid, None)
        t._provisional(j, ch.uid, leg, LegOutcome.TIMEOUT)


def _on_queue_leave(t: CallTracker, ev: tr.AmiEvent, out: list[DomainEvent]) -> None:
    assert isinstance(ev, tr.QueueCallerEvent)
    ch = t._chan(ev.chan, ev.at)
    if ch is None:
        return
    j = t._journeys[ch.jid]
    prov = j.provisional.get(ch.uid)
    if prov is not None and prov.queue == ev.queue:
        return  # after QueueCallerAbandon: the exit is settled by QUEUESTATUS or what comes next
    if j.abandoned.pop(ch.uid, None) == ev.queue:
        return  # the leg was closed by QueueCallerAbandon
    leg = j.open_legs.get(ch.uid)
    if leg is None or leg.queue != ev.queue:
        leg = t._leg(j, ch.uid, ev.queue, ev.at, ev.position)
    leg.left_at = ev.at
    ring = j.answering.pop(ch.uid, None)
    if ring is not None:
        leg.agent = ring.agent
        t._close_leg(j, ch.uid, leg, LegOutcome.ANSWERED, ev.at, out)
        return
    if t._hung_up(ch):
        t._close_leg(j, ch.uid, leg, LegOutcome.ABANDONED, ev.at, out)
        return
    j.open_legs.pop(ch.uid, None)
    t._provisional(j, ch.uid, leg, LegOutcome.EXIT_WITH_KEY)


def _on_varset(t: CallTracker, ev: tr.AmiEvent, out: list[DomainEvent]) -> None:
    assert isinstance(ev, tr.VarSetEvent)
    if ev.chan is None or ev.chan.uniqueid not in t._prov:
        return
    outcome = _QUEUESTATUS.get(ev.value.upper())
    t._settle(ev.chan.uniqueid, outcome, ev.at, out)


def _on_agent_called(t: CallTracker, ev: tr.AmiEvent, out: list[DomainEvent]) -> None:
    assert isinstance(ev, tr.AgentEvent)
    caller = t._chan(ev.caller, ev.at) if ev.caller is not None else None
    if caller is None or ev.dest is None:
        return
    j = t._journeys[caller.jid]
    t._start(j, ev.at, out)
    leg = t._leg(j, caller.uid, ev.queue, ev.at)
    dest = t._chan(ev.dest, ev.at)
    agent = AgentId(ev.member)
    if dest is not None:
        dest.agent = agent
    a = t._agent(ev.member, ev.interface)
    a.queues.setdefault(ev.queue, False)  # app_queue rings members only
    ring = _Ring(agent, ev.interface, leg.queue, caller.uid, j.jid, ev.at)
    t._rings[ev.dest.uniqueid] = ring
    a.rings.add(ev.dest.uniqueid)
    out.append(
        _AgentRinging(
            ev.at,
            t.server,
            j.record.linkedid,
            UniqueId(caller.uid),
            agent,
            ev.interface,
            leg.queue,
            t._caller_info(j),
            j.record.did,
            j.record.direction,
            max(0.0, ev.at - leg.entered_at),
        )
    )
    t._agent_changed(a, ev.at, out)


def _on_agent_rna(t: CallTracker, ev: tr.AmiEvent, out: list[DomainEvent]) -> None:
    assert isinstance(ev, tr.AgentEvent)
    caller = t._chan(ev.caller, ev.at) if ev.caller is not None else None
    if caller is None:
        return
    j = t._journeys[caller.jid]
    leg = t._leg(j, caller.uid, ev.queue, ev.at)
    agent = AgentId(ev.member)
    leg.ring_no_answer.append(agent)
    out.append(
        _AgentRingNoAnswer(
            ev.at, t.server, j.record.linkedid, UniqueId(caller.uid), agent, leg.queue, ev.ring_time
        )
    )
    if ev.dest is not None:
        t._end_ring(ev.dest.uniqueid, ev.at, out)


def _on_agent_connect(t: CallTracker, ev: tr.AmiEvent, out: list[DomainEvent]) -> None:
    assert isinstance(ev, tr.AgentEvent)
    caller = t._chan(ev.caller, ev.at) if ev.caller is not None else None
    if caller is None:
        return
    j = t._journeys[caller.jid]
    agent = AgentId(ev.member)
    leg = j.open_legs.get(caller.uid)
    if leg is None or leg.queue != ev.queue:
        # Normally closed by QueueCallerLeave; find it among the legs of this call.
        leg = next(
            (
                lg
                for lg in reversed(j.record.queue_legs)
                if lg.uniqueid == caller.uid and lg.queue == ev.queue and lg.answered_at is None
            ),
            None,
        ) or t._leg(j, caller.uid, ev.queue, ev.at)
    t._fix_entry(j, leg, ev.at, ev.hold_time)
    if leg.outcome is None:
        j.answering.pop(caller.uid, None)
        leg.agent = agent
        t._close_leg(j, caller.uid, leg, LegOutcome.ANSWERED, ev.at, out)
    leg.agent = agent
    leg.answered_at = ev.at
    rec = j.record
    rec.agents.append(agent)
    if rec.answered_at is None:
        rec.answered_at = ev.at
    a = t._agent(ev.member, ev.interface)
    if ev.dest is not None:
        t._end_ring(ev.dest.uniqueid, ev.at, out)
        j.talking[ev.dest.uniqueid] = _Talk(agent, ev.at, leg, caller.uid)
        if ev.dest.uniqueid in t._channels:
            a.calls.add(ev.dest.uniqueid)
    out.append(
        _CallAnswered(ev.at, t.server, rec.linkedid, UniqueId(caller.uid), agent, leg.queue, leg.wait_seconds)
    )
    t._agent_changed(a, ev.at, out)


def _on_agent_complete(t: CallTracker, ev: tr.AmiEvent, out: list[DomainEvent]) -> None:
    assert isinstance(ev, tr.AgentEvent)
    caller = t._chan(ev.caller, ev.at, create=False) if ev.caller is not None else None
    j = t._journeys.get(caller.jid) if caller is not None else None
    if j is not None:
        agent_uid = ev.dest.uniqueid if ev.dest is not None else ""
        talk = j.talking.get(agent_uid)
        if talk is None:
            talk = next(
                (tk for tk in j.talking.values() if tk.agent == ev.member and tk.leg is not None), None
            )
            agent_uid = next((u for u, tk in j.talking.items() if tk is talk), "")
        if talk is not None and talk.leg is not None:
            if ev.reason == "transfer":
                talk.leg.outcome = LegOutcome.TRANSFERRED
            t._end_talk(j, agent_uid, ev.at, out)
    # else: both channels were gone (Asterisk then sends no channel blocks); the journey ended with them
    a = t._agent(ev.member, ev.interface)
    if a.wrapup_until <= ev.at:  # not already started when the agent's leg hung up
        t._start_wrapup(a, ev.queue, ev.at)
    t._agent_changed(a, ev.at, out)


def _on_member(t: CallTracker, ev: tr.AmiEvent, out: list[DomainEvent]) -> None:
    assert isinstance(ev, tr.QueueMemberEvent)
    a = t._agent(ev.member, ev.interface)
    if ev.name == "QueueMemberRemoved":
        a.queues.pop(ev.queue, None)
    else:
        a.queues[ev.queue] = ev.paused
        if ev.paused and ev.paused_reason:
            a.reason = ev.paused_reason
        elif ev.paused and ev.name == "QueueMemberPause":
            a.reason = ""
        a.wrapuptime = ev.wrapuptime
        a.device_busy = ev.status in _DEVICE_BUSY
        a.device_ringing = ev.status in _DEVICE_RINGING
        a.device_gone = ev.status in _DEVICE_GONE
    t._agent_changed(a, ev.at, out)


def _on_transfer(t: CallTracker, ev: tr.AmiEvent, out: list[DomainEvent]) -> None:
    assert isinstance(ev, tr.TransferEvent)
    if ev.result != "Success":
        return
    ref = ev.transferee or ev.transferer
    if ref is None:
        return
    ch = t._chan(ref, ev.at, create=False)
    if ch is None:
        return
    j = t._journeys[ch.jid]
    agent: AgentId | None = None
    if ev.transferer is not None:
        tch = t._channels.get(ev.transferer.uniqueid)
        agent = tch.agent if tch is not None else None
        talk = j.talking.get(ev.transferer.uniqueid)
        if talk is not None and talk.leg is None:
            t._end_talk(j, ev.transferer.uniqueid, ev.at, out)  # CTI-routed: talk ends at the transfer
    j.record.transfers += 1
    j.transferring = True
    kind = "blind" if ev.name == "BlindTransfer" else "attended"
    out.append(_CallTransferred(ev.at, t.server, j.record.linkedid, agent, ev.target, kind))


def _on_userevent(t: CallTracker, ev: tr.AmiEvent, out: list[DomainEvent]) -> None:
    assert isinstance(ev, tr.UserEventEvent)
    ch = t._chan(ev.chan, ev.at) if ev.chan is not None else None
    j = t._journeys.get(ch.jid) if ch is not None else None
    name = ev.user_event
    if j is not None and ch is not None:
        if name == "CtiWaiting":
            j.waited = True
            t._start(j, ev.at, out)
            if not j.record.did:
                j.record.did = ev.headers.get("DID", "")
            out.append(
                _CallWaiting(
                    ev.at,
                    t.server,
                    j.record.linkedid,
                    UniqueId(ch.uid),
                    ch.name,
                    t._caller_info(j),
                    j.record.did,
                    ev.headers.get("Choice", ""),
                )
            )
        elif name == "DialerDrop":
            j.dropped = True
        if "Campaign" in ev.headers and j.record.campaign is None:
            j.record.campaign = ev.headers["Campaign"]
    out.append(
        _UserEventRaised(
            ev.at,
            t.server,
            name,
            j.record.linkedid if j is not None else None,
            UniqueId(ch.uid) if ch is not None else None,
            dict(ev.headers),
        )
    )


def _on_originate(t: CallTracker, ev: tr.AmiEvent, out: list[DomainEvent]) -> None:
    assert isinstance(ev, tr.OriginateResponseEvent)
    uid = ev.uniqueid
    ch = t._channels.get(uid) if uid else None
    j = t._journeys.get(ch.jid) if ch is not None else None
    if j is not None:
        t._apply_originate(j, ev)
        t._start(j, ev.at, out)
        outcome = classify_originate(ev.reason, j.originate_dial_status, j.causes)
    else:
        if uid and uid not in t._dead:
            t._originates[uid] = ev  # the OriginateResponse can come before the channel's Newchannel
            if len(t._originates) > RECENT_MEMORY:
                t._originates.popitem(last=False)
        outcome = classify_originate(ev.reason, "", ())
    out.append(
        _OriginateFinished(
            ev.at,
            t.server,
            ev.action_id,
            uid,
            j.record.linkedid if j is not None else None,
            ev.reason,
            outcome,
        )
    )


_LightHandler = Callable[[CallTracker, Message, float, list[DomainEvent]], None]
_LIGHT_HANDLERS: dict[str, _LightHandler] = {
    "Hangup": _light_hangup,
    "HangupRequest": _light_hangup_request,
    "SoftHangupRequest": _light_hangup_request,
    "BridgeEnter": _light_bridge_enter,
}

_HANDLERS: dict[str, _Handler] = {
    "Newchannel": _on_newchannel,
    "Hold": _on_hold,
    "Unhold": _on_hold,
    "LocalBridge": _on_local_bridge,
    "DialBegin": _on_dial,
    "DialEnd": _on_dial,
    "QueueCallerJoin": _on_queue_join,
    "QueueCallerAbandon": _on_queue_abandon,
    "QueueCallerLeave": _on_queue_leave,
    "AgentCalled": _on_agent_called,
    "AgentRingNoAnswer": _on_agent_rna,
    "AgentConnect": _on_agent_connect,
    "AgentComplete": _on_agent_complete,
    "QueueMemberStatus": _on_member,
    "QueueMemberAdded": _on_member,
    "QueueMemberRemoved": _on_member,
    "QueueMemberPause": _on_member,
    "QueueMemberPenalty": _on_member,
    "QueueMember": _on_member,  # QueueStatus list item, when a reply is in the stream
    "BlindTransfer": _on_transfer,
    "AttendedTransfer": _on_transfer,
    "UserEvent": _on_userevent,
    "OriginateResponse": _on_originate,
}

# Every event the tracker reads, by name: (handler of the translated event, None) or (None, light handler
# of the raw message). One lookup per message; a name missing here is skipped unsplit. VarSet is read only
# for the QUEUESTATUS variable (rule 6).
_ROUTES: dict[str, tuple[_Handler | None, _LightHandler | None]] = {
    **{name: (handler, None) for name, handler in _HANDLERS.items()},
    **{name: (None, light) for name, light in _LIGHT_HANDLERS.items()},
    "VarSet": (_on_varset, None),
}
