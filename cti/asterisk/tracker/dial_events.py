"""Handlers of dials, transfers, user events and originate responses: CTI-routed deliveries (a dial from
the deliver context to an agent's device), Redirects, the dialer's originates (rules 7 and 9)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cti.asterisk import translate as tr
from cti.asterisk.tracker.agents import Ring
from cti.asterisk.tracker.channels import Channel, device_of
from cti.asterisk.tracker.dispatch import on
from cti.asterisk.tracker.journeys import Journey, Talk
from cti.asterisk.tracker.legs import ANSWERED
from cti.asterisk.tracker.originates import classify_originate, hold
from cti.core.events import (
    AgentRinging,
    AgentRingNoAnswer,
    CallAnswered,
    CallTransferred,
    CallWaiting,
    DomainEvent,
    OriginateFinished,
    UserEventRaised,
)
from cti.core.frozen import quick_constructor
from cti.core.ids import AgentId, UniqueId

if TYPE_CHECKING:
    from cti.asterisk.tracker.tracker import CallTracker

_AgentRinging = quick_constructor(AgentRinging)
_AgentRingNoAnswer = quick_constructor(AgentRingNoAnswer)
_CallAnswered = quick_constructor(CallAnswered)
_CallTransferred = quick_constructor(CallTransferred)
_CallWaiting = quick_constructor(CallWaiting)
_OriginateFinished = quick_constructor(OriginateFinished)
_UserEventRaised = quick_constructor(UserEventRaised)

_FAILED_DIALS = ("NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION")
# the sample dialplan's warm-transfer contexts (config/asterisk/extensions.conf, cti.screenpop.consult)
CONSULT_CONTEXTS = frozenset({"cti-consult", "cti-consult-dial"})


@on(tr.DialEvent, "DialBegin")
def on_dial_begin(t: CallTracker, ev: tr.DialEvent, out: list[DomainEvent]) -> None:
    at = ev.at
    if ev.caller is None:
        # An AMI Originate: the dialled channel has no caller (ami-reference.md 3.2).
        dest = t.chan(ev.dest, at)
        if dest is not None:
            dest.journey.originate.dial_began(ev.dial_string)
        return
    caller = t.chan(ev.caller, at)
    if caller is None:
        return
    j = caller.journey
    dest_uid = ev.dest.uniqueid
    dest = t.chan(ev.dest, at)
    roster = t.roster
    if dest_uid in roster.rings:
        return  # app_queue already announced it with AgentCalled
    device = device_of(ev.dest.name)
    agent = roster.agent_of_device(device)
    consult = caller.context in CONSULT_CONTEXTS
    if agent is None and (consult or caller.context in t.deliver_contexts) and caller.exten:
        agent = roster.stand_in(device, caller.exten)
    j.dials_agent = j.dials_agent or agent is not None
    t.start(j, at, out)  # an agent's own call is told outbound or internal by what it dials
    if agent is None:
        return
    if j.transferring:
        j.transferring = False  # the dial a BlindTransfer announced
    elif consult:
        pass  # a warm transfer's consultation: the AttendedTransfer event counts the transfer, if any
    elif j.record.agents and not j.caller_uid_talking(caller.uid):
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
    a = roster.agent(agent)
    if dest is not None:
        dest.agent = agent
    rec = j.record
    visit = j.open.get(caller.uid)
    if visit is not None and not visit.cti:
        visit = None  # an app_queue visit is rung by AgentCalled, not by a dial of the caller's
    out.append(
        _AgentRinging(
            at,
            t.server,
            rec.linkedid,
            UniqueId(caller.uid),
            agent,
            a.interface,
            visit.leg.queue if visit is not None else None,
            t.caller_info(j),
            rec.did,
            rec.direction,
            max(0.0, at - (visit.leg.entered_at if visit is not None else rec.started_at)),
        )
    )
    if visit is not None:
        visit.ring_started()
    roster.ring(a, dest_uid, Ring(agent, a.interface, visit, caller.uid, j, at), None, out)


@on(tr.DialEvent, "DialEnd")
def on_dial_end(t: CallTracker, ev: tr.DialEvent, out: list[DomainEvent]) -> None:
    if ev.caller is None:
        dest = t.chan(ev.dest, ev.at)
        if dest is not None:
            dest.journey.originate.dial_ended(ev.dial_status)
            agent = t.roster.agent_of_device(device_of(dest.name))
            if agent is not None and ev.dial_status == "ANSWER":
                # click-to-call: the Originate rang the agent's own phone first; the agent talks from
                # the answer until the hangup (no queue, no AgentComplete)
                j = dest.journey
                j.answered_by(agent, ev.at)
                j.talking[dest.uid] = Talk(agent, ev.at, None, dest.uid)
        return
    caller = t.chan(ev.caller, ev.at)
    if caller is None:
        return
    ring = t.roster.rings.get(ev.dest.uniqueid)
    if ring is not None:
        _ring_ended(t, caller.journey, caller, ring, ev, out)


def _ring_ended(
    t: CallTracker, j: Journey, caller: Channel, ring: Ring, ev: tr.DialEvent, out: list[DomainEvent]
) -> None:
    at = ev.at
    dest_uid = ev.dest.uniqueid
    roster = t.roster
    visit = ring.visit
    if ev.dial_status == "ANSWER":
        roster.end_ring(dest_uid, at, out, answered=t.call_kind(j))
        if visit is not None and not visit.cti:
            if visit.is_open:
                visit.answering(ring.agent)  # app_queue's: AgentConnect and QueueCallerLeave close it
            return
        # A dial outside app_queue (Redirect to deliver,<agent>): answered now. A CTI-routed visit
        # (rule 10) closes answered here; without one, no queue is involved.
        queue = None
        waited = max(0.0, at - ring.rang_at)
        if visit is not None:
            leg = visit.leg
            if visit.is_open:
                leg.agent = ring.agent
                t.close_leg(j, caller.uid, visit, ANSWERED, at, out)
            leg.answered_at = at
            queue, waited = leg.queue, leg.wait_seconds
        j.answered_by(ring.agent, at)
        j.talking[dest_uid] = Talk(ring.agent, at, visit, caller.uid)
        out.append(
            _CallAnswered(at, t.server, j.record.linkedid, UniqueId(caller.uid), ring.agent, queue, waited)
        )
        return
    roster.end_ring(dest_uid, at, out)
    if (visit is None or visit.cti) and ev.dial_status in _FAILED_DIALS:
        if visit is not None:
            visit.leg.ring_no_answer.append(ring.agent)
        out.append(
            _AgentRingNoAnswer(
                at,
                t.server,
                j.record.linkedid,
                UniqueId(caller.uid),
                ring.agent,
                visit.leg.queue if visit is not None else None,
                at - ring.rang_at,
            )
        )


@on(tr.TransferEvent, "BlindTransfer", "AttendedTransfer")
def on_transfer(t: CallTracker, ev: tr.TransferEvent, out: list[DomainEvent]) -> None:
    if ev.result != "Success":
        return
    ref = ev.transferee or ev.transferer
    if ref is None:
        return
    ch = t.chan(ref, ev.at, create=False)
    if ch is None:
        return
    j = ch.journey
    agent: AgentId | None = None
    if ev.transferer is not None:
        tch = t.channels.by_uid.get(ev.transferer.uniqueid)
        agent = tch.agent if tch is not None else None
        talk = j.talking.get(ev.transferer.uniqueid)
        if talk is not None and talk.routed:
            if talk.visit is not None:
                talk.visit.transferred()  # a CTI-routed visit (rule 10)
            t.end_talk(j, ev.transferer.uniqueid, ev.at, out)  # CTI-routed: talk ends at the transfer
        elif talk is not None and talk.visit is not None:
            # app_queue's AgentComplete (Reason: transfer) says so too, unless it falls in a gap
            talk.visit.transferred()
    j.record.transfers += 1
    # a blind transfer's dial comes next; an attended one's target was dialled during the consultation
    j.transferring = ev.name == "BlindTransfer"
    kind = "blind" if ev.name == "BlindTransfer" else "attended"
    out.append(_CallTransferred(ev.at, t.server, j.record.linkedid, agent, ev.target, kind))


@on(tr.UserEventEvent, "UserEvent")
def on_userevent(t: CallTracker, ev: tr.UserEventEvent, out: list[DomainEvent]) -> None:
    ch = t.chan(ev.chan, ev.at) if ev.chan is not None else None
    j = ch.journey if ch is not None else None
    name = ev.user_event
    if j is not None and ch is not None:
        if name == "CtiWaiting":
            j.waited = True
            t.start(j, ev.at, out)
            if not j.record.did:  # the sample dialplan sends "Did"; accept any case
                j.record.did = ev.headers.get("Did") or ev.headers.get("DID") or ""
            out.append(
                _CallWaiting(
                    ev.at,
                    t.server,
                    j.record.linkedid,
                    UniqueId(ch.uid),
                    ch.name,
                    t.caller_info(j),
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


@on(tr.OriginateResponseEvent, "OriginateResponse")
def on_originate(t: CallTracker, ev: tr.OriginateResponseEvent, out: list[DomainEvent]) -> None:
    uid = ev.uniqueid
    ch = t.channels.by_uid.get(uid) if uid else None
    j = ch.journey if ch is not None else None
    if j is not None:
        t.apply_originate(j, ev)
        t.start(j, ev.at, out)
        outcome = j.originate.outcome(j.causes)
    else:
        if uid and uid not in t.channels.dead:
            hold(t.responses, uid, ev)  # the OriginateResponse can come before the channel's Newchannel
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
