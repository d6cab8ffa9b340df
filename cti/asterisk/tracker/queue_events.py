"""Handlers of app_queue's events (rules 5, 6 and 8): callers join, are rung for, answered, leave or
abandon a queue; members are added, paused, removed, change device state; talks complete."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cti.asterisk import translate as tr
from cti.asterisk.tracker.agents import Ring
from cti.asterisk.tracker.dispatch import on
from cti.asterisk.tracker.journeys import Journey, Talk
from cti.asterisk.tracker.legs import (
    ABANDONED,
    ANSWERED,
    ANSWERING,
    EXITED_WITH_KEY,
    LEFT,
    QUEUESTATUS,
    TIMED_OUT,
    Visit,
)
from cti.core.events import AgentRinging, AgentRingNoAnswer, CallAnswered, CallQueued, DomainEvent
from cti.core.frozen import quick_constructor
from cti.core.ids import AgentId, UniqueId
from cti.core.journey import LegOutcome

if TYPE_CHECKING:
    from cti.asterisk.tracker.tracker import CallTracker

_CallQueued = quick_constructor(CallQueued)
_AgentRinging = quick_constructor(AgentRinging)
_AgentRingNoAnswer = quick_constructor(AgentRingNoAnswer)
_CallAnswered = quick_constructor(CallAnswered)


def queued(t: CallTracker, j: Journey, visit: Visit, at: float, out: list[DomainEvent]) -> None:
    leg = visit.leg
    out.append(
        _CallQueued(at, t.server, j.record.linkedid, leg.uniqueid, leg.queue, leg.position, t.caller_info(j))
    )


@on(tr.QueueCallerEvent, "QueueCallerJoin")
def on_queue_join(t: CallTracker, ev: tr.QueueCallerEvent, out: list[DomainEvent]) -> None:
    ch = t.chan(ev.chan, ev.at)
    if ch is None:
        return
    j = ch.journey
    if ch.uid in t.journeys.unsettled:
        t.settle(ch.uid, None, ev.at, out)
    old = j.open.get(ch.uid)
    if old is not None:
        t.close_leg(j, ch.uid, old, EXITED_WITH_KEY, ev.at, out)
    t.start(j, ev.at, out)
    queued(t, j, j.join(ch.uid, ev.queue, ev.at, ev.position), ev.at, out)


@on(tr.QueueCallerEvent, "QueueCallerAbandon")
def on_queue_abandon(t: CallTracker, ev: tr.QueueCallerEvent, out: list[DomainEvent]) -> None:
    ch = t.chan(ev.chan, ev.at)
    if ch is None:
        return
    j = ch.journey
    visit = j.visit(ch.uid, ev.queue, ev.at, ev.original_position)
    j.fix_entry(visit, ev.at, ev.hold_time)
    leg = visit.leg
    leg.left_at = ev.at
    if leg.position == 0:
        leg.position = ev.original_position
    if t.channels.caller_gone(ch):
        t.close_leg(j, ch.uid, visit, ABANDONED, ev.at, out)
        j.awaiting_leave[ch.uid] = leg.queue  # its QueueCallerLeave follows
    else:
        t.journeys.leave(j, ch.uid, visit, TIMED_OUT, ev.at)


@on(tr.QueueCallerEvent, "QueueCallerLeave")
def on_queue_leave(t: CallTracker, ev: tr.QueueCallerEvent, out: list[DomainEvent]) -> None:
    ch = t.chan(ev.chan, ev.at)
    if ch is None:
        return
    j = ch.journey
    left = j.left.get(ch.uid)
    if left is not None and left.leg.queue == ev.queue:
        return  # after QueueCallerAbandon: the exit is settled by QUEUESTATUS or what comes next
    if j.awaiting_leave.pop(ch.uid, None) == ev.queue:
        return  # the leg was closed by QueueCallerAbandon
    visit = j.open.get(ch.uid)
    if visit is None or visit.leg.queue != ev.queue:
        visit = j.visit(ch.uid, ev.queue, ev.at, ev.position)
    visit.leg.left_at = ev.at
    if visit.state is ANSWERING:
        visit.leg.agent = visit.answerer
        t.close_leg(j, ch.uid, visit, ANSWERED, ev.at, out)
        return
    if t.channels.caller_gone(ch):
        t.close_leg(j, ch.uid, visit, ABANDONED, ev.at, out)
        return
    t.journeys.leave(j, ch.uid, visit, EXITED_WITH_KEY, ev.at)


@on(tr.VarSetEvent, "VarSet", only=("Variable", "QUEUESTATUS"))
def on_varset(t: CallTracker, ev: tr.VarSetEvent, out: list[DomainEvent]) -> None:
    if ev.chan is None or ev.chan.uniqueid not in t.journeys.unsettled:
        return
    t.settle(ev.chan.uniqueid, QUEUESTATUS.get(ev.value.upper()), ev.at, out)


@on(tr.AgentEvent, "AgentCalled")
def on_agent_called(t: CallTracker, ev: tr.AgentEvent, out: list[DomainEvent]) -> None:
    caller = t.chan(ev.caller, ev.at) if ev.caller is not None else None
    if caller is None or ev.dest is None:
        return
    j = caller.journey
    t.start(j, ev.at, out)
    visit = j.visit(caller.uid, ev.queue, ev.at)
    dest = t.chan(ev.dest, ev.at)
    agent = AgentId(ev.member)
    if dest is not None:
        dest.agent = agent
    a = t.roster.agent(ev.member, ev.interface)
    rec = j.record
    leg = visit.leg
    out.append(
        _AgentRinging(
            ev.at,
            t.server,
            rec.linkedid,
            UniqueId(caller.uid),
            agent,
            ev.interface,
            leg.queue,
            t.caller_info(j),
            rec.did,
            rec.direction,
            max(0.0, ev.at - leg.entered_at),
        )
    )
    visit.ring_started()
    ring = Ring(agent, ev.interface, visit, caller.uid, j, ev.at)
    t.roster.ring(a, ev.dest.uniqueid, ring, ev.queue, out)


@on(tr.AgentEvent, "AgentRingNoAnswer")
def on_agent_rna(t: CallTracker, ev: tr.AgentEvent, out: list[DomainEvent]) -> None:
    caller = t.chan(ev.caller, ev.at) if ev.caller is not None else None
    if caller is None:
        return
    j = caller.journey
    leg = j.visit(caller.uid, ev.queue, ev.at).leg
    agent = AgentId(ev.member)
    leg.ring_no_answer.append(agent)
    out.append(
        _AgentRingNoAnswer(
            ev.at, t.server, j.record.linkedid, UniqueId(caller.uid), agent, leg.queue, ev.ring_time
        )
    )
    if ev.dest is not None:
        t.roster.end_ring(ev.dest.uniqueid, ev.at, out)


@on(tr.AgentEvent, "AgentConnect")
def on_agent_connect(t: CallTracker, ev: tr.AgentEvent, out: list[DomainEvent]) -> None:
    caller = t.chan(ev.caller, ev.at) if ev.caller is not None else None
    if caller is None:
        return
    j = caller.journey
    agent = AgentId(ev.member)
    visit = j.answered_visit(caller.uid, ev.queue, ev.at)
    j.fix_entry(visit, ev.at, ev.hold_time)
    leg = visit.leg
    if visit.is_open:
        leg.agent = agent
        t.close_leg(j, caller.uid, visit, ANSWERED, ev.at, out)
    elif visit.state is LEFT:
        # its exit was provisional: the ring (or the whole answer) fell in a gap, and this answer is the
        # first word of it. The wait is app_queue's HoldTime when it has one.
        leg.agent = agent
        if ev.hold_time > 0:
            leg.left_at = leg.entered_at + ev.hold_time
        t.close_leg(j, caller.uid, visit, ANSWERED, leg.left_at or ev.at, out)
    leg.agent = agent
    leg.answered_at = ev.at
    j.answered_by(agent, ev.at)
    a = t.roster.agent(ev.member, ev.interface)
    agent_uid = ev.dest.uniqueid if ev.dest is not None else None
    if agent_uid is not None:
        t.roster.end_ring(agent_uid, ev.at, out)
        j.talking[agent_uid] = Talk(agent, ev.at, visit, caller.uid)
    out.append(
        _CallAnswered(
            ev.at, t.server, j.record.linkedid, UniqueId(caller.uid), agent, leg.queue, leg.wait_seconds
        )
    )
    if agent_uid is not None and agent_uid in t.channels.by_uid:
        t.roster.call_started(a, agent_uid, t.call_kind(j), ev.at, out)
    t.roster.refresh(a, ev.at, out)


@on(tr.AgentEvent, "AgentComplete")
def on_agent_complete(t: CallTracker, ev: tr.AgentEvent, out: list[DomainEvent]) -> None:
    caller = t.chan(ev.caller, ev.at, create=False) if ev.caller is not None else None
    if caller is not None:
        j = caller.journey
        agent_uid = ev.dest.uniqueid if ev.dest is not None else ""
        talk = j.talking.get(agent_uid)
        if talk is None:
            for uid, tk in j.talking.items():
                if tk.agent == ev.member and tk.visit is not None:
                    talk, agent_uid = tk, uid
                    break
        if talk is not None and talk.visit is not None:
            if ev.reason == "transfer":
                talk.visit.transferred()
            t.end_talk(j, agent_uid, ev.at, out)
        elif talk is None:
            _complete_unseen_talk(j, caller.uid, ev)
    # else: both channels were gone (Asterisk then sends no channel blocks); the journey ended with them
    t.roster.completed(ev.member, ev.interface, ev.queue, ev.at, out)


def _complete_unseen_talk(j: Journey, caller_uid: str, ev: tr.AgentEvent) -> None:
    """AgentComplete of a talk whose AgentConnect fell in a gap: app_queue's TalkTime gives the talk, its
    Reason the transfer (a transferred leg must not stay "answered")."""
    for visit in reversed(j.visits):
        leg = visit.leg
        if leg.uniqueid != caller_uid or leg.queue != ev.queue or leg.agent != ev.member:
            continue
        if leg.ended_at is not None or leg.outcome is not LegOutcome.ANSWERED:
            return
        leg.repaired = True
        leg.ended_at = ev.at
        if leg.answered_at is None:
            leg.answered_at = ev.at - ev.talk_time
        if leg.agent not in j.record.agents:
            j.answered_by(leg.agent, leg.answered_at)
        leg.talk_seconds = max(0.0, ev.at - leg.answered_at)
        j.record.talk_seconds += leg.talk_seconds
        if ev.reason == "transfer":
            visit.transferred()
        return


@on(
    tr.QueueMemberEvent,
    "QueueMemberStatus",
    "QueueMemberAdded",
    "QueueMemberRemoved",
    "QueueMemberPause",
    "QueueMemberPenalty",
    "QueueMember",  # QueueStatus list item, when a reply is in the stream
)
def on_member(t: CallTracker, ev: tr.QueueMemberEvent, out: list[DomainEvent]) -> None:
    t.roster.member_event(ev, out)
