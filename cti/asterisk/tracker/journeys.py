"""Journeys: one per Linkedid (rule 1 of the tracker), with the queue visits and talks of the call.

``Journey`` holds one call's record (``CallJourney``) and what is in progress: its open and provisional
queue visits, the talks of its agents, the originate facts. ``Journeys`` owns the table: Linkedid ->
journey, the merge of two journeys that met in a bridge, the index of provisional exits (rule 6) and the
bounded memory of finished Linkedids (rule 3).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum

from cti.asterisk.tracker.channels import Recent, remember
from cti.asterisk.tracker.legs import IllegalMove, LegState, Visit
from cti.asterisk.tracker.originates import Originate
from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import CallJourney, Direction, QueueLeg


class JourneyState(Enum):
    __hash__ = object.__hash__  # identity: as LegState

    NEW = "new"  # tracked; its direction is not told yet, no CallStarted
    STARTED = "started"  # CallStarted emitted (rule 7)
    ENDED = "ended"  # its last channel hung up: CallEnded emitted, forgotten
    MERGED = "merged"  # folded into an older journey it met in a bridge


J = JourneyState
_INBOUND = Direction.INBOUND
NEW, STARTED, ENDED, MERGED = J.NEW, J.STARTED, J.ENDED, J.MERGED  # cheap to read: see legs.py

JOURNEY_TRANSITIONS: dict[JourneyState, frozenset[JourneyState]] = {
    J.NEW: frozenset({J.STARTED, J.MERGED}),
    J.STARTED: frozenset({J.ENDED, J.MERGED}),
    J.ENDED: frozenset(),
    J.MERGED: frozenset(),
}


@dataclass(slots=True)
class Talk:
    """An agent talking with the caller, from the answer to AgentComplete or a hangup."""

    agent: AgentId
    since: float
    visit: Visit | None  # None for a call to an agent outside any queue
    caller_uid: str
    agent_gone: bool = False  # queue call: the agent's leg hung up; AgentComplete ends the talk

    @property
    def routed(self) -> bool:
        """No AgentComplete will end it (a dial outside app_queue, or a CTI-routed visit): the tracker
        ends it at the hangup or the transfer."""
        return self.visit is None or self.visit.cti


class Journey:
    """One call: the record, the channels in it, and what is in progress."""

    __slots__ = (
        "awaiting_leave",
        "causes",
        "channels",
        "dials_agent",
        "dropped",
        "jid",
        "left",
        "linkedids",
        "open",
        "originate",
        "primary",
        "record",
        "state",
        "talking",
        "transferring",
        "visits",
        "waited",
    )

    def __init__(self, jid: int, record: CallJourney, primary: str) -> None:
        self.jid = jid
        self.record = record
        self.primary = primary  # the first channel: the caller's side (outbound: the called party's)
        self.state = NEW
        self.channels: set[str] = set()
        self.linkedids = {str(record.linkedid)}
        self.originate = Originate()
        self.causes: list[int] = []  # hangup causes of its channels
        self.visits: list[Visit] = []  # every queue visit, as record.queue_legs
        self.open: dict[str, Visit] = {}  # waiting uid -> visit in a queue now
        self.left: dict[str, Visit] = {}  # uid -> visit whose exit is not settled (LEFT)
        self.awaiting_leave: dict[str, str] = {}  # uid -> queue closed by an abandon; its Leave follows
        self.talking: dict[str, Talk] = {}  # agent leg uid -> talk
        self.waited = False  # reached the CTI holding extension (CtiWaiting)
        self.dropped = False  # the dialer dropped it (DialerDrop)
        self.dials_agent = False  # it dialled a known agent's device
        self.transferring = False  # a transfer event was seen; the dial it causes is not a Redirect

    def __repr__(self) -> str:
        return f"Journey({self.record.linkedid!r}, {self.state.value})"

    def move(self, new: JourneyState) -> None:
        if new not in JOURNEY_TRANSITIONS[self.state]:
            raise IllegalMove(f"journey {self.record.linkedid}: {self.state} -> {new}")
        self.state = new

    @property
    def started(self) -> bool:
        return self.state is STARTED

    # --- queue visits ------------------------------------------------------------------------------

    def join(
        self, uid: str, queue: str, at: float, position: int, estimated: bool = False, cti: bool = False
    ) -> Visit:
        """A new visit of ``uid`` to ``queue``, open from ``at``."""
        visit = Visit(QueueLeg(QueueName(queue), UniqueId(uid), at, position), estimated, cti)
        self.record.queue_legs.append(visit.leg)
        self.visits.append(visit)
        self.open[uid] = visit
        return visit

    def visit(self, uid: str, queue: str, at: float, position: int = 0) -> Visit:
        """The open (or unsettled) visit of ``uid`` to ``queue``; one is opened, its entry estimated, if
        the join was missed."""
        visit = self.open.get(uid)
        if visit is not None and visit.leg.queue == queue:
            return visit
        if visit is None:
            left = self.left.get(uid)
            if left is not None and left.leg.queue == queue:
                return left
        return self.join(uid, queue, at, position, estimated=True)

    def answered_visit(self, uid: str, queue: str, at: float) -> Visit:
        """The visit an AgentConnect answers: the open one, else the last of ``uid`` in ``queue`` not
        answered yet (normally closed by QueueCallerLeave), else a new one."""
        visit = self.open.get(uid)
        if visit is not None and visit.leg.queue == queue:
            return visit
        for v in reversed(self.visits):
            leg = v.leg
            if leg.uniqueid == uid and leg.queue == queue and leg.answered_at is None:
                return v
        return self.visit(uid, queue, at)

    def fix_entry(self, visit: Visit, at: float, hold_time: int) -> None:
        if visit.fix_entry(at, hold_time):
            self.record.started_at = min(self.record.started_at, visit.leg.entered_at)

    def answered_by(self, agent: AgentId, at: float) -> None:
        rec = self.record
        rec.agents.append(agent)
        if rec.answered_at is None:
            rec.answered_at = at

    def end_talk(self, agent_uid: str, at: float) -> Talk | None:
        """The talk on ``agent_uid`` is over: count it. Returns it (None when there was none)."""
        talk = self.talking.pop(agent_uid, None)
        if talk is None:
            return None
        self.record.talk_seconds += max(0.0, at - talk.since)
        leg = talk.visit.leg if talk.visit is not None else None
        if leg is not None and leg.ended_at is None:
            leg.ended_at = at
            leg.talk_seconds = max(0.0, at - (leg.answered_at or talk.since))
        return talk

    def caller_uid_talking(self, caller_uid: str) -> bool:
        return any(tk.caller_uid == caller_uid for tk in self.talking.values())

    def rename_agent(self, old: AgentId, new: AgentId) -> None:
        for talk in self.talking.values():
            if talk.agent == old:
                talk.agent = new
        self.record.agents = [new if x == old else x for x in self.record.agents]

    def absorb(self, gone: Journey) -> None:
        """Fold ``gone`` (the younger journey, met in a bridge) into this one."""
        self.channels |= gone.channels
        self.linkedids |= gone.linkedids
        kr, gr = self.record, gone.record
        kr.queue_legs = sorted(kr.queue_legs + gr.queue_legs, key=lambda leg: leg.entered_at)
        self.visits = sorted(self.visits + gone.visits, key=lambda v: v.leg.entered_at)
        kr.agents.extend(a for a in gr.agents if a not in kr.agents)
        kr.transfers += gr.transfers
        kr.hold_seconds += gr.hold_seconds
        kr.talk_seconds += gr.talk_seconds
        if gr.started_at < kr.started_at:
            kr.started_at = gr.started_at
        if kr.answered_at is None or (gr.answered_at is not None and gr.answered_at < kr.answered_at):
            kr.answered_at = gr.answered_at
        self.open.update(gone.open)
        self.left.update(gone.left)
        self.talking.update(gone.talking)
        self.causes.extend(gone.causes)
        self.waited |= gone.waited
        self.dropped |= gone.dropped
        if gone.started and not self.started:
            self.move(STARTED)  # one CallStarted per call, even when two ids merge
        gone.move(MERGED)


class Journeys:
    """The tracked journeys, by Linkedid; the provisional queue exits; the recently finished Linkedids."""

    __slots__ = ("by_id", "ended", "linked", "next_jid", "server", "unsettled")

    def __init__(self, server: str) -> None:
        self.server = server
        self.by_id: dict[int, Journey] = {}
        self.linked: dict[str, Journey] = {}
        self.unsettled: dict[str, Journey] = {}  # uid -> journey of a queue exit not settled (rule 6)
        self.ended: Recent = OrderedDict()
        self.next_jid = 1

    def __len__(self) -> int:
        return len(self.by_id)

    def of(self, linkedid: str) -> Journey | None:
        return self.linked.get(linkedid)

    def new(self, linkedid: str, primary: str, at: float) -> Journey:
        record = CallJourney(LinkedId(linkedid), _INBOUND, at, server=self.server)
        j = Journey(self.next_jid, record, primary)
        self.next_jid += 1
        self.by_id[j.jid] = j
        self.linked[linkedid] = j
        return j

    def relinked(self, j: Journey, linkedid: str) -> Journey | None:
        """A channel of ``j`` now has ``linkedid``: the journey that already has it (to merge with), if
        another one does; else ``j`` takes the id."""
        other = self.linked.get(linkedid)
        if other is None:
            self.linked[linkedid] = j
            j.linkedids.add(linkedid)
            j.record.linkedid = LinkedId(linkedid)
            return None
        return None if other is j else other

    def merge(self, keep: Journey, gone: Journey) -> None:
        keep.absorb(gone)
        for lid in gone.linkedids:
            self.linked[lid] = keep
        for uid in gone.left:
            self.unsettled[uid] = keep
        del self.by_id[gone.jid]

    def leave(self, j: Journey, uid: str, visit: Visit, provisional: LegState, at: float) -> None:
        """``visit`` left its queue; its exit is provisional (rule 6)."""
        if j.open.get(uid) is visit:
            del j.open[uid]
        visit.leave(provisional, at)
        j.left[uid] = visit
        self.unsettled[uid] = j

    def close(self, j: Journey, uid: str, visit: Visit, state: LegState, at: float) -> None:
        visit.close(state, at)
        if j.open.get(uid) is visit:
            del j.open[uid]
        if j.left.get(uid) is visit:
            del j.left[uid]
            self.unsettled.pop(uid, None)

    def unsettled_visit(self, uid: str) -> tuple[Journey, Visit] | None:
        j = self.unsettled.get(uid)
        if j is None or j.state is ENDED:
            self.unsettled.pop(uid, None)
            return None
        visit = j.left.get(uid)
        if visit is None:
            self.unsettled.pop(uid, None)
            return None
        return j, visit

    def ended_now(self, j: Journey) -> None:
        """``j`` ended: forget it, and remember its Linkedids to drop late events."""
        j.move(ENDED)
        for lid in j.linkedids:
            if self.linked.get(lid) is j:
                del self.linked[lid]
            remember(self.ended, lid)
        del self.by_id[j.jid]
