"""The call tracker: AMI messages in, domain events and finished call journeys out. Pure: no I/O, no clock.

Theory of operation (every rule that changes tracked state is in this package; the numbers are cited
next to the code that enforces them):

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
8. Agents: one ``cti.routing.agents.Agent`` per agent (queue member name, as queue_log logs it) across
   all queues. The tracker feeds it what Asterisk shows (membership and pause, rings, calls, device state,
   app_queue's wrap-up) and emits one ``AgentStateChanged`` per ``Transition`` it returns; the state is
   the first rule of ``cti.routing.agents.RULES`` that holds and every move is checked against its
   ``TRANSITIONS`` (a resync's QueueStatus is Asterisk's word after a gap: those facts update the agent
   with ``force=True``, any move allowed and marked ``forced``). Wrap-up ends by event time: the first
   event at or after its end emits the change (``advance`` does too).
9. Outbound outcome: OriginateResponse Reason (4 answered, 5 busy, 3 no answer, 8 congestion), then the
   DialEnd DialStatus, then Hangup causes (17 busy, 18/19 no answer, 34/38/... congestion); an answered
   dialer call that never reached an agent is ``dropped``.
10. CTI-routed calls: cti's router opens a queue visit for a call in the holding extension
   (``route_leg``, at the time of its CtiWaiting). A dial from the deliver context rings an agent for
   that visit; the dial's ANSWER closes it answered (wait = answer - entry) and starts the talk, a failed
   dial adds to ``ring_no_answer`` (the call goes back to the holding extension, its visit still open),
   the caller's hangup abandons it, a transfer marks it transferred. The store and the reports see these
   legs as they see app_queue's.

Who owns what (docs/design/call-tracker.md has the picture):

* ``CallTracker`` (this module): the public API, ``feed``'s dispatch, and the operations that cross the
  tables: finding or opening a channel (``chan``), telling a journey's direction (``start``), closing and
  settling queue visits, ending talks, a channel's hangup and a journey's end.
* ``channels.Channels``: live channels by Uniqueid, Local pairs, recently hung-up ids.
* ``journeys.Journeys`` / ``Journey``: Linkedid -> journey, merges, the provisional-exit index, finished
  Linkedids; a journey's record, open and provisional visits, talks. State: ``JOURNEY_TRANSITIONS``.
* ``legs.Visit``: one queue visit and its state (``LEG_TRANSITIONS``).
* ``originates.Originate``: an originate's facts (``ORIGINATE_TRANSITIONS``); ``PendingResponses``.
* ``agents.Roster``: the agents, devices, rings and wrap-up timers.
* ``dispatch``: the table event name -> handler typed on the translator's event class; the handlers are
  in ``channel_events``, ``queue_events`` and ``dial_events``. A state machine asked for a move its table
  forbids raises; ``feed`` turns that into a ``StreamProblem`` and goes on.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from cti.asterisk import translate as tr
from cti.asterisk.ami import Message
from cti.asterisk.snapshot import ResyncSnapshot
from cti.asterisk.tracker.agents import AgentView, Ring, Roster
from cti.asterisk.tracker.channels import Channel, Channels, ChannelView, device_of
from cti.asterisk.tracker.dispatch import ROUTES
from cti.asterisk.tracker.journeys import ENDED, MERGED, NEW, STARTED, Journey, Journeys, Talk
from cti.asterisk.tracker.legs import (
    ABANDONED,
    ANSWERED,
    EXITED_WITH_KEY,
    OUTCOME,
    STATE,
    TIMED_OUT,
    IllegalMove,
    LegState,
    Visit,
)
from cti.asterisk.tracker.originates import PendingResponses
from cti.core.events import (
    SPY_CHANNEL_PREFIX,
    AgentRinging,
    CallAnswered,
    CallEnded,
    CallerInfo,
    CallerLeft,
    CallLeftQueue,
    CallQueued,
    CallStarted,
    CallWaiting,
    DomainEvent,
    Resynced,
    SpyStopped,
    StreamProblem,
)
from cti.core.frozen import quick_constructor
from cti.core.ids import AgentId, UniqueId
from cti.core.journey import CallJourney, Direction, JourneyOutcome, LegOutcome, QueueLeg
from cti.routing.agents import CallKind, IllegalTransition

_CallStarted = quick_constructor(CallStarted)
_CallEnded = quick_constructor(CallEnded)
_CallLeftQueue = quick_constructor(CallLeftQueue)
_CallQueued = quick_constructor(CallQueued)
_CallWaiting = quick_constructor(CallWaiting)
_CallAnswered = quick_constructor(CallAnswered)
_AgentRinging = quick_constructor(AgentRinging)
_CallerInfo = quick_constructor(CallerInfo)
_StreamProblem = quick_constructor(StreamProblem)

# Enum members read on the hot path, as globals (see legs.py)
_INBOUND, _OUTBOUND, _INTERNAL = Direction.INBOUND, Direction.OUTBOUND, Direction.INTERNAL
_ACD_INBOUND, _ACD_OUTBOUND = CallKind.ACD_INBOUND, CallKind.ACD_OUTBOUND

DEFAULT_INBOUND_CONTEXTS = ("inbound", "from-trunk", "from-pstn", "from-external", "from-did")
DEFAULT_DELIVER_CONTEXTS = ("deliver",)


# events that do not settle a provisional queue exit as the channel's next event (rule 6)
# a warm transfer's consultation channel (Local/<exten>@cti-consult…): the call goes on without its caller
_CONSULTATION = "@cti-consult"
_NOT_SETTLING = frozenset({"QueueCallerLeave", "VarSet", "AgentConnect"})


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
        self.channels = Channels()
        self.journeys = Journeys(server)
        self.roster = Roster(server, self.wrapup_seconds, self._renamed)
        self.responses: PendingResponses = OrderedDict()  # OriginateResponses before their channel
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
        route = ROUTES.get(name)
        if route is None:
            # Most of the stream (Newexten, DeviceStateChange, Newstate...) says nothing the tracker keeps:
            # it is skipped on its name, before its headers are even split (ami.Message is lazy).
            return []
        cls, handler, light, only = route
        if only is not None and not (msg.mentions(only[1]) and msg.peek(only[0]) == only[1]):
            return []  # e.g. the VarSets of other variables, a quarter of the stream: one scan of the text
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
        try:
            if at >= self.roster.next_wrapup:
                self.roster.finish_wrapups(at, out)
            if light is not None:
                light(self, msg, at, out)
                return out
            # (an AgentConnect is the answer of a leave whose ring fell in a gap: it settles it answered)
            if self.journeys.unsettled and name not in _NOT_SETTLING:
                puid = msg.peek("Uniqueid")
                if puid is not None and puid in self.journeys.unsettled:
                    self.settle(puid, None, at, out)  # the channel's next event settles its exit (rule 6)
            ev = tr.build(tr.BUILDERS[name], name, at, msg)
            if type(ev) is cls and handler is not None:
                handler(self, ev, out)
            elif isinstance(ev, tr.MalformedEvent):
                self.problems += 1
                out.append(_StreamProblem(at, self.server, ev.problem))
        except (IllegalMove, IllegalTransition) as e:
            self._impossible(at, name, e, out)
        return out

    def _impossible(self, at: float, what: str, e: Exception, out: list[DomainEvent]) -> None:
        """Events that cannot happen in this order (a gap, a bug): reported, the stream goes on."""
        self.problems += 1
        out.append(_StreamProblem(at, self.server, f"{what}: {e}"))

    def next_due(self) -> float:
        """When ``advance`` next has something to do (the earliest wrap-up end; inf: nothing)."""
        return float(self.roster.next_wrapup)

    def advance(self, now: float) -> list[DomainEvent]:
        """Let time pass without events (ends wrap-ups that are due)."""
        out: list[DomainEvent] = []
        if now > self.now:
            self.now = now
        if now >= self.roster.next_wrapup:
            self.roster.finish_wrapups(now, out)
        return out

    def close(self, at: float) -> list[DomainEvent]:
        """End of stream: settle provisional queue exits and finish wrap-ups due by ``at``.

        Journeys whose channels are still up stay live (``live_journeys``): they have not ended."""
        out = self.advance(at)
        for uid in list(self.journeys.unsettled):
            self.settle(uid, None, at, out)
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
        out: list[DomainEvent] = []
        try:
            self._rebuild(snapshot, out)
        except (IllegalMove, IllegalTransition) as e:
            self._impossible(snapshot.at, "resync", e, out)
        return out

    def _rebuild(self, snapshot: ResyncSnapshot, out: list[DomainEvent]) -> None:
        at = snapshot.at
        last_seen = min(self.now, at)  # the last instant the live feed showed: the gap starts here
        if at > self.now:
            self.now = at
        for j in self.journeys.by_id.values():  # every visit under way spans the gap: rebuilt, not seen
            for visit in (*j.open.values(), *j.left.values()):
                visit.leg.repaired = True
            for talk in j.talking.values():
                if talk.visit is not None:
                    talk.visit.leg.repaired = True
        self.roster.finish_wrapups(at, out)
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
        for uid in [ch.uid for ch in self.channels if ch.uid not in live]:
            self.hangup(uid, at, 0, out)
        bridges: dict[str, list[str]] = {}
        first_seen: dict[str, tr.CoreShowChannelEvent] = {}  # channels new to the tracker, by uid
        # a call's own first channel (Uniqueid = Linkedid) first: it is the journey's primary
        for ev in sorted(shows, key=lambda e: e.chan.uniqueid != e.chan.linkedid):
            known = self.channels.by_uid.get(ev.chan.uniqueid) is not None
            ch = self.chan(ev.chan, at - ev.duration)
            if ch is None:
                continue
            if not known:
                first_seen[ch.uid] = ev
                rec = ch.journey.record
                rec.started_at = min(rec.started_at, at - ev.duration)
            if ev.bridge_id:
                bridges.setdefault(ev.bridge_id, []).append(ch.uid)
        self.channels.pair_locals()
        if snapshot.queue_status:
            listed: dict[str, set[str]] = {}
            for m in members:
                listed.setdefault(m.member, set()).add(m.queue)
                self.roster.member_event(m, out, force=True)
            for a in list(self.roster.by_name.values()):
                gone = [q for q in a.facts.queues if q not in listed.get(a.id, set())]
                if gone:
                    self.roster.left_queues(a.id, gone, at, out)
            self._unseen_visits(shows, first_seen, entries, at)
            for j in {
                self.channels.by_uid[uid].journey.jid: self.channels.by_uid[uid].journey for uid in first_seen
            }.values():
                # a queue call first seen now (its start fell in the gap): started at once, while its
                # channels are up, so it gets its direction, number and DID, and its CallStarted comes
                # before its pop or its answer
                if j.open or j.visits:
                    self.start(j, at, out)
            self._resync_entries(entries, bridges, at, last_seen, out)
            self._first_seen_rings(first_seen, bridges, at, out)
        out.append(Resynced(at, self.server, snapshot.reason, len(shows), queues))

    def _resync_entries(
        self,
        entries: list[tr.QueueEntryEvent],
        bridges: dict[str, list[str]],
        at: float,
        last_seen: float,
        out: list[DomainEvent],
    ) -> None:
        from cti.asterisk.tracker.queue_events import queued  # the same CallQueued as a join

        waiting = {(e.uniqueid, e.queue): e for e in entries}
        for e in entries:
            ch = self.channels.by_uid.get(e.uniqueid)
            if ch is None:
                continue
            j = ch.journey
            visit = j.open.get(ch.uid)
            if visit is None or visit.leg.queue != e.queue:
                self.start(j, at, out)
                visit = j.join(ch.uid, e.queue, at - e.wait, e.position)
                visit.leg.repaired = True  # its join fell in the gap
                queued(self, j, visit, at, out)
        peers = {uid: members for members in bridges.values() for uid in members}
        for j in list(self.journeys.by_id.values()):
            for uid, visit in list(j.open.items()):
                if (uid, visit.leg.queue) in waiting:
                    continue
                found = next(
                    ((p, agent) for p in peers.get(uid, []) if p != uid and (agent := self._agent_leg(p))),
                    None,
                )
                # it left the queue in the gap: figures stop where the feed was last seen, never at the
                # resync (the repair from Asterisk's logs has the exact times)
                left = max(visit.leg.entered_at, last_seen)
                if found is None:
                    # left, how is not known yet: provisionally a timeout, settled by what comes next
                    # (an AgentConnect seen live after the gap makes it answered)
                    self.journeys.leave(j, uid, visit, TIMED_OUT, left)
                    continue
                agent_uid, agent = found
                leg = visit.leg
                leg.agent = agent
                leg.left_at = left
                self.close_leg(j, uid, visit, ANSWERED, left, out)
                leg.answered_at = left
                j.answered_by(agent, left)
                j.talking[agent_uid] = Talk(agent, left, visit, uid)
                a = self.roster.agent(agent)
                self.roster.call_started(a, agent_uid, self.call_kind(j), at, out)
                out.append(
                    _CallAnswered(
                        at, self.server, j.record.linkedid, UniqueId(uid), agent, leg.queue, leg.wait_seconds
                    )
                )

    def _unseen_visits(
        self,
        shows: list[tr.CoreShowChannelEvent],
        first_seen: dict[str, tr.CoreShowChannelEvent],
        entries: list[tr.QueueEntryEvent],
        at: float,
    ) -> None:
        """A caller first seen now, in ``Queue()`` but no longer waiting (answered, or leaving): its
        join fell in the gap. The visit is opened here, entered when its channel was created, and the
        entries pass closes it (answered when it is bridged with an agent's channel)."""
        waiting = {e.uniqueid for e in entries}
        for ev in shows:
            uid = ev.chan.uniqueid
            queue = ev.application_data.split(",", 1)[0]
            if ev.application != "Queue" or uid in waiting or not queue or uid not in first_seen:
                continue
            ch = self.channels.by_uid.get(uid)
            if ch is None or any(v.leg.uniqueid == uid and v.leg.queue == queue for v in ch.journey.visits):
                continue
            visit = ch.journey.join(uid, queue, at - ev.duration, 0, estimated=True)
            visit.leg.repaired = True

    def _first_seen_rings(
        self,
        first_seen: dict[str, tr.CoreShowChannelEvent],
        bridges: dict[str, list[str]],
        at: float,
        out: list[DomainEvent],
    ) -> None:
        """app_queue's outgoing line to an agent's phone, not bridged yet: the agent's phone is ringing
        for a waiting caller of the same call (its AgentCalled fell in the gap). The ring is announced,
        so the screen pop goes out before the answer, and the answer's DialEnd finds it."""
        bridged = {uid for members in bridges.values() for uid in members}
        for uid, ev in first_seen.items():
            if ev.application != "AppQueue" or uid in bridged or uid in self.roster.rings:
                continue
            agent = self._agent_leg(uid)
            ch = self.channels.by_uid.get(uid)
            if agent is None or ch is None:
                continue
            j = ch.journey
            visit = next((v for v in j.open.values()), None)
            if visit is None:
                continue
            a = self.roster.agent(agent)
            ch.agent = agent
            rec, leg = j.record, visit.leg
            out.append(
                _AgentRinging(
                    at,
                    self.server,
                    rec.linkedid,
                    UniqueId(leg.uniqueid),
                    agent,
                    a.interface,
                    leg.queue,
                    self.caller_info(j),
                    rec.did,
                    rec.direction,
                    max(0.0, at - leg.entered_at),
                )
            )
            visit.ring_started()
            self.roster.ring(a, uid, Ring(agent, a.interface, visit, leg.uniqueid, j, at), leg.queue, out)

    def _agent_leg(self, uid: str) -> AgentId | None:
        """The agent whose device the channel ``uid`` is on, if it is a known member's."""
        ch = self.channels.by_uid.get(uid)
        return None if ch is None else self.roster.agent_of_device(device_of(ch.name))

    # read-only views ---------------------------------------------------------------------------------

    def live_journeys(self) -> list[CallJourney]:
        return [j.record for j in self.journeys.by_id.values()]

    def journey(self, linkedid: str) -> CallJourney | None:
        j = self.journeys.of(linkedid)
        return None if j is None else j.record

    def waiting(self, queue: str | None = None) -> list[QueueLeg]:
        """Callers waiting in a queue now (every queue when ``queue`` is None), longest wait first."""
        legs = [
            v.leg
            for j in self.journeys.by_id.values()
            for v in j.open.values()
            if queue is None or v.leg.queue == queue
        ]
        legs.sort(key=lambda leg: leg.entered_at)
        return legs

    def agents(self) -> dict[AgentId, AgentView]:
        return self.roster.views()

    def held_calls(self, context: str, exten: str) -> list[CallWaiting]:
        """The callers sitting in the holding extension ``context,exten`` that cti has not queued, as the
        ``CallWaiting`` each raised (after a resync their CtiWaiting may have been in the gap), timed at
        the start of their call; the IVR choice is not known then."""
        out: list[CallWaiting] = []
        for ch in self.channels:
            j = ch.journey
            if ch.context != context or ch.exten != exten or ch.agent is not None or ch.uid in j.open:
                continue
            if j.talking or j.state is ENDED or j.state is MERGED:
                continue
            rec = j.record
            out.append(
                _CallWaiting(
                    rec.started_at,
                    self.server,
                    rec.linkedid,
                    UniqueId(ch.uid),
                    ch.name,
                    self.caller_info(j),
                    rec.did,
                    "",
                )
            )
        return out

    def channels_of(self, linkedid: str) -> list[ChannelView]:
        """The live channels of the call ``linkedid`` (empty when the call is unknown or over)."""
        j = self.journeys.of(linkedid)
        if j is None:
            return []
        return [c.view() for c in self.channels if c.journey is j]

    @property
    def tracked_channels(self) -> int:
        return len(self.channels)

    @property
    def tracked_journeys(self) -> int:
        return len(self.journeys)

    # --- channels and journeys: what the handlers share ----------------------------------------------

    def chan(self, c: tr.Chan, at: float, create: bool = True) -> Channel | None:
        """The tracked channel for a snapshot block, created if new; follows Linkedid changes."""
        ch = self.channels.by_uid.get(c.uniqueid)
        if ch is not None:
            if c.linkedid != ch.linkedid and c.linkedid:
                self.relink(ch, c.linkedid)
            if c.caller_num:
                ch.caller_num = c.caller_num
                ch.caller_name = c.caller_name
            ch.context = c.context
            ch.exten = c.exten
            ch.name = c.name or ch.name
            return ch
        ended = self.journeys.ended
        if not create or c.uniqueid in self.channels.dead or c.linkedid in ended:
            if c.linkedid in ended:
                self.late_events += 1
            return None
        j = self.journeys.linked.get(c.linkedid)
        if j is None:
            j = self.journeys.new(c.linkedid, c.uniqueid, at)
        ch = Channel(c.uniqueid, c.name, c.linkedid, j, c.caller_num, c.caller_name, c.context, c.exten)
        self.channels.by_uid[c.uniqueid] = ch
        j.channels.add(c.uniqueid)
        if self.responses:
            pending = self.responses.pop(c.uniqueid, None)
            if pending is not None:
                self.apply_originate(j, pending)
        return ch

    def relink(self, ch: Channel, linkedid: str) -> None:
        """A bridge gave the channel another Linkedid (rule 1): follow it; merge journeys that meet."""
        ch.linkedid = linkedid
        other = self.journeys.relinked(ch.journey, linkedid)
        if other is not None:
            keep, gone = other, ch.journey
            for uid in gone.channels:
                moved = self.channels.by_uid.get(uid)
                if moved is not None:
                    moved.journey = keep
            self.roster.merged(keep, gone)
            self.journeys.merge(keep, gone)

    def _renamed(self, old: AgentId, new: AgentId) -> None:
        self.channels.rename_agent(old, new)
        for j in self.journeys.by_id.values():
            j.rename_agent(old, new)

    def start(self, j: Journey, at: float, out: list[DomainEvent]) -> None:
        """Emit CallStarted once the journey's direction can be told (see rule 7)."""
        if j.state is not NEW:
            return
        j.move(STARTED)
        rec = j.record
        if rec.linkedid.startswith(SPY_CHANNEL_PREFIX):
            return  # a supervisor's phone listening in (ChanSpy): not a call, never started nor recorded
        primary = self.channels.by_uid.get(j.primary)
        orig = j.originate
        if orig.originated:
            ctx = orig.context or (primary.context if primary else "")
            rec.direction = _INBOUND if ctx in self.inbound_contexts else _OUTBOUND
        elif primary is not None and self.roster.is_agent_device(device_of(primary.name)):
            rec.direction = _INTERNAL if j.dials_agent else _OUTBOUND
        else:
            rec.direction = _INBOUND
        if rec.direction is _OUTBOUND:
            # a click-to-call dials the agent's phone, then the customer's number (the target Exten)
            dialled_agent = primary is not None and self.roster.is_agent_device(device_of(primary.name))
            first = (orig.exten or orig.dialled) if dialled_agent else (orig.dialled or orig.exten)
            rec.did = rec.did or first
        elif not rec.did:
            rec.did = orig.exten or (primary.exten if primary else "")
        self.refresh_caller(j)
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

    def refresh_caller(self, j: Journey) -> None:
        rec = j.record
        if rec.direction is _OUTBOUND:
            rec.caller_number = rec.did or rec.caller_number
            return
        primary = self.channels.by_uid.get(j.primary)
        if primary is not None and primary.caller_num:
            rec.caller_number = primary.caller_num
            rec.caller_name = primary.caller_name

    def caller_info(self, j: Journey) -> CallerInfo:
        return _CallerInfo(j.record.caller_number, j.record.caller_name)

    def call_kind(self, j: Journey) -> CallKind:
        """Every call the tracker gives an agent is an ACD call (a queue's or cti's delivery)."""
        return _ACD_OUTBOUND if j.record.direction is _OUTBOUND else _ACD_INBOUND

    def apply_originate(self, j: Journey, ev: tr.OriginateResponseEvent) -> None:
        primary = self.channels.by_uid.get(j.primary)
        if primary is not None and not primary.caller_num and ev.caller_num:
            primary.caller_num, primary.caller_name = ev.caller_num, ev.caller_name
        j.originate.responded(ev)

    # --- queue visits --------------------------------------------------------------------------------

    def route_leg(self, uniqueid: str, queue: str, at: float, position: int = 1) -> list[DomainEvent]:
        """cti's router put the held channel ``uniqueid`` in ``queue`` at ``at`` (rule 10): a queue visit
        like app_queue's, closed by the deliver dial's answer or abandoned by the caller's hangup. Once
        per held call: a call back in the holding extension keeps its visit."""
        ch = self.channels.by_uid.get(uniqueid)
        if ch is None or ch.journey.state is ENDED or ch.journey.state is MERGED:
            return []
        j = ch.journey
        if uniqueid in j.open:
            return []
        out: list[DomainEvent] = []
        self.start(j, at, out)
        visit = j.join(uniqueid, queue, at, position, cti=True)
        leg = visit.leg
        out.append(
            _CallQueued(
                at, self.server, j.record.linkedid, leg.uniqueid, leg.queue, position, self.caller_info(j)
            )
        )
        return out

    def exit_leg(self, uniqueid: str, at: float) -> list[DomainEvent]:
        """The held caller ``uniqueid`` left cti's queue with a key (a callback that keeps its place):
        its visit ends exit-with-key, as app_queue's EXITWITHKEY, not abandoned at the hangup."""
        ch = self.channels.by_uid.get(uniqueid)
        if ch is None:
            return []
        j = ch.journey
        visit = j.open.get(uniqueid)
        if visit is None or not visit.cti:
            return []
        out: list[DomainEvent] = []
        self.close_leg(j, uniqueid, visit, EXITED_WITH_KEY, at, out)
        return out

    def close_leg(
        self, j: Journey, uid: str, visit: Visit, state: LegState, at: float, out: list[DomainEvent]
    ) -> None:
        self.journeys.close(j, uid, visit, state, at)
        leg = visit.leg
        out.append(
            _CallLeftQueue(
                at, self.server, j.record.linkedid, UniqueId(uid), leg.queue, OUTCOME[state], leg.wait_seconds
            )
        )

    def settle(self, uid: str, state: LegState | None, at: float, out: list[DomainEvent]) -> None:
        """Settle the provisional exit of ``uid`` (rule 6): as ``state``, else as provisionally read."""
        found = self.journeys.unsettled_visit(uid)
        if found is None:
            return
        j, visit = found
        provisional = visit.leg.outcome or LegOutcome.TIMEOUT
        final = state or STATE[provisional]
        self.close_leg(j, uid, visit, final, visit.leg.left_at or at, out)

    # --- talks, hangups, the end of a journey --------------------------------------------------------

    def end_talk(self, j: Journey, agent_uid: str, at: float, out: list[DomainEvent]) -> None:
        talk = j.end_talk(agent_uid, at)
        if talk is None:
            return
        queue = talk.visit.leg.queue if talk.visit is not None and not talk.agent_gone else None
        self.roster.call_ended(talk.agent, agent_uid, queue, at, out)

    def hangup(self, uid: str, at: float, cause: int, out: list[DomainEvent]) -> None:
        """A channel is gone: settle what depended on it; the journey ends with its last channel."""
        ch = self.channels.hung_up(uid)
        if self.responses:
            self.responses.pop(uid, None)
        if ch is None:
            return
        ch.hangup_requested = True
        j = ch.journey
        if j.state is ENDED or j.state is MERGED:
            return
        j.channels.discard(uid)
        j.causes.append(cause)
        if uid == j.primary:
            j.record.hangup_cause = cause
            if any(_CONSULTATION in o.name for o in map(self.channels.by_uid.get, j.channels) if o):
                out.append(CallerLeft(at, self.server, j.record.linkedid, UniqueId(uid)))
        if ch.hold_since is not None:
            j.record.hold_seconds += max(0.0, at - ch.hold_since)
        if uid in self.journeys.unsettled:
            self.settle(uid, None, at, out)
        self.roster.end_ring(uid, at, out)
        if uid in self.roster.conferences:  # its ConfbridgeLeave was missed
            self.roster.conference_left(uid, at, out)
        for agent_uid in (uid, ch.partner):
            if agent_uid is None:
                continue
            talk = j.talking.get(agent_uid)
            if talk is None:
                continue
            if talk.routed:
                self.end_talk(j, agent_uid, at, out)  # CTI-routed call: no AgentComplete will come
            elif not talk.agent_gone and talk.visit is not None:
                talk.agent_gone = True  # queue call: AgentComplete ends the talk; the agent's call is over
                self.roster.call_ended(talk.agent, agent_uid, talk.visit.leg.queue, at, out)
        # talk segments whose caller side went away (CTI-routed calls)
        for agent_uid, talk in list(j.talking.items()):
            if talk.routed and talk.caller_uid == uid:
                self.end_talk(j, agent_uid, at, out)
        if not j.channels:
            self.finish(j, at, out)

    def finish(self, j: Journey, at: float, out: list[DomainEvent]) -> None:
        self.start(j, at, out)
        for uid in list(j.left):
            self.settle(uid, None, at, out)
        for uid, visit in list(j.open.items()):
            self.close_leg(j, uid, visit, ABANDONED, at, out)
        for agent_uid in list(j.talking):
            self.end_talk(j, agent_uid, at, out)
        for uid in self.roster.rings_of(j):
            self.roster.end_ring(uid, at, out)
        rec = j.record
        if rec.linkedid.startswith(SPY_CHANNEL_PREFIX):
            self.journeys.ended_now(j)
            # the supervisor's phone hung up: the session is over, whether ChanSpy ever started (ChanSpyStop)
            out.append(SpyStopped(at, self.server, "", rec.linkedid))
            return
        rec.ended_at = at
        rec.outcome = self.outcome(j)
        if rec.direction is _OUTBOUND:
            self.refresh_caller(j)
        self.journeys.ended_now(j)
        out.append(_CallEnded(at, self.server, rec))

    def outcome(self, j: Journey) -> JourneyOutcome:
        rec = j.record
        if rec.direction is _OUTBOUND and j.originate.originated:
            cls = j.originate.outcome(j.causes)
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


# The handlers register themselves in ROUTES when imported.
from cti.asterisk.tracker import (  # noqa: E402, F401
    channel_events,
    conference_events,
    dial_events,
    park_events,
    queue_events,
    spy_events,
)
