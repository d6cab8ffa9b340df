"""The call tracker on the simulator's warm transfers and conferences (cti.sim.consult): one journey,
its queue leg transferred, the agents' states right; compare test_calls' 06-blind-transfer replay."""

from __future__ import annotations

from collections.abc import Callable

from cti.asterisk.ami import encode
from cti.asterisk.calls import CallTracker
from cti.asterisk.durable.formats import parse_queue_log_lines
from cti.asterisk.durable.reconcile import LoggedLeg, apply_queue_log, leg_agrees
from cti.asterisk.replay import replay
from cti.core.events import (
    AgentState,
    AgentStateChanged,
    CallEnded,
    CallerLeft,
    CallTransferred,
    DomainEvent,
    StreamProblem,
)
from cti.core.journey import LegOutcome
from cti.sim.channels import Channel
from cti.sim.consult import CONFERENCE_CONTEXT, CONSULT_CONTEXT
from cti.sim.scenario import transcript_pbx
from tests.sim.model_harness import Harness

BANNER = b"Asterisk Call Manager/9.0.0\r\n"


def _run(steps: Callable[[Harness, Channel, Channel], None]) -> tuple[list[DomainEvent], CallTracker, str]:
    h = Harness(transcript_pbx())
    h.caller("4155550100", "support", patience=900, talk=300)
    h.run(1.1)
    connect = h.named("AgentConnect")[0]
    agent, customer = h.pbx.channels.find(connect["DestChannel"]), h.pbx.channels.find(connect["Channel"])
    assert agent is not None and customer is not None
    steps(h, agent, customer)
    tracker = CallTracker("pbx1", wrapup_seconds={"support": 60.0})
    data = BANNER + b"".join(encode(list(e.items())) for e in h.events)
    events = list(replay([data], tracker))
    assert not [e for e in events if isinstance(e, StreamProblem)]
    return events, tracker, connect["MemberName"]


def _states(events: list[DomainEvent], agent: str) -> list[AgentState]:
    return [e.state for e in events if isinstance(e, AgentStateChanged) and e.agent == agent]


def _consult_one(h: Harness) -> Channel:
    return h.pbx.consultations[0].one  # the consultation's Local/1001@cti-consult-…;1


def test_a_completed_warm_transfer_keeps_one_journey_and_hands_the_customer_to_the_colleague() -> None:
    def steps(h: Harness, agent: Channel, customer: Channel) -> None:
        h.pbx.atxfer(agent, CONSULT_CONTEXT, "1001")
        h.run(3)  # Alice answers after 1 s; they talk
        h.pbx.hangup_channel(agent, 16)  # complete
        h.run(5)
        h.pbx.hangup_channel(customer, 16)
        h.run(2)

    events, tracker, first = _run(steps)
    (j,) = [e.journey for e in events if isinstance(e, CallEnded)]
    (leg,) = j.queue_legs
    assert (leg.outcome, leg.agent) == (LegOutcome.TRANSFERRED, first)
    assert j.agents == [first, "Alice"] and j.transfers == 1
    (t,) = [e for e in events if isinstance(e, CallTransferred)]
    assert (t.kind, t.agent, t.target) == ("attended", first, "1001@cti-consult")
    assert _states(events, first)[-2:] == [AgentState.ON_CALL, AgentState.WRAP_UP]
    assert AgentState.ON_CALL in _states(events, "Alice")
    assert not tracker.live_journeys()


def test_a_cancelled_warm_transfer_is_no_transfer_and_the_agent_keeps_the_call() -> None:
    def steps(h: Harness, agent: Channel, customer: Channel) -> None:
        h.pbx.atxfer(agent, CONSULT_CONTEXT, "1001")
        h.run(3)
        h.pbx.hangup_channel(_consult_one(h), 16)  # cancel
        h.run(2)
        h.pbx.hangup_channel(agent, 16)
        h.run(2)

    events, _, first = _run(steps)
    (j,) = [e.journey for e in events if isinstance(e, CallEnded)]
    (leg,) = j.queue_legs
    assert leg.outcome is LegOutcome.ANSWERED and leg.agent == first
    assert j.transfers == 0 and not [e for e in events if isinstance(e, CallTransferred)]
    assert _states(events, first)[-1] is AgentState.WRAP_UP


def _conference_of_three(h: Harness, agent: Channel, customer: Channel) -> None:
    """The agent consults Alice, then the three go into room 700 (the dual Redirect, then the target)."""
    h.pbx.atxfer(agent, CONSULT_CONTEXT, "1001")
    h.run(3)
    one = _consult_one(h)
    h.pbx.redirect(agent, CONFERENCE_CONTEXT, "700", 1)
    h.pbx.redirect(customer, CONFERENCE_CONTEXT, "700", 1)
    h.pbx.redirect(one, CONFERENCE_CONTEXT, "700", 1)


def test_a_conference_from_a_consultation_stays_one_journey_until_the_last_party_leaves() -> None:
    def steps(h: Harness, agent: Channel, customer: Channel) -> None:
        _conference_of_three(h, agent, customer)
        h.run(2)
        h.pbx.conference_kick("700", agent.name)  # the agent leaves
        h.run(2)
        h.pbx.conference_kick("700", "all")
        h.run(2)

    events, tracker, first = _run(steps)
    (j,) = [e.journey for e in events if isinstance(e, CallEnded)]
    assert "Alice" in j.agents and j.agents[0] == first
    assert not tracker.live_journeys()
    assert _states(events, first)[-1] is AgentState.WRAP_UP


def test_the_queue_log_of_a_warm_transfer_agrees_with_the_trackers_leg() -> None:
    """app_queue's ATTENDEDTRANSFER line (the simulator's) and cti's leg say the same: the records repair
    finds nothing to correct."""
    h = Harness(transcript_pbx())
    h.caller("4155550100", "support", patience=900, talk=300)
    h.run(1.1)
    agent = h.pbx.channels.find(h.named("AgentConnect")[0]["DestChannel"])
    assert agent is not None
    h.pbx.atxfer(agent, CONSULT_CONTEXT, "1001")
    h.run(4)
    h.pbx.hangup_channel(agent, 16)
    h.run(400)
    tracker = CallTracker("pbx1")
    data = BANNER + b"".join(encode(list(e.items())) for e in h.events)
    (j,) = [e.journey for e in replay([data], tracker) if isinstance(e, CallEnded)]
    (stored,) = j.queue_legs
    legs: dict[tuple[str, str], LoggedLeg] = {}
    for entry in parse_queue_log_lines(h.log.lines).queue_log:
        leg = legs.setdefault((entry.callid, entry.queue), LoggedLeg(entry.callid, entry.queue))
        apply_queue_log(entry, leg)
    (logged,) = legs.values()
    assert logged.outcome is LegOutcome.TRANSFERRED and logged.agent == stored.agent
    assert leg_agrees(stored, logged)


def test_the_first_agent_is_on_a_call_while_in_the_conference_and_wraps_up_after_leaving() -> None:
    kicked: list[float] = []

    def steps(h: Harness, agent: Channel, customer: Channel) -> None:
        _conference_of_three(h, agent, customer)
        h.run(90)  # longer than the queue's 60 s wrap-up: app_queue's AgentComplete came at the Redirect
        kicked.append(h.pbx.now)
        h.pbx.conference_kick("700", agent.name)  # the agent leaves
        h.run(2)
        h.pbx.conference_kick("700", "all")
        h.run(2)

    events, _, first = _run(steps)
    moves = [(e.state, e.at) for e in events if isinstance(e, AgentStateChanged) and e.agent == first]
    (at,) = kicked
    during = [s for s, t in moves if t < at]
    after = [s for s, t in moves if t >= at]
    assert during[-1] is AgentState.ON_CALL  # in the room: on a call, not in wrap-up
    assert after[0] is AgentState.WRAP_UP  # the queue's wrap-up starts when the agent leaves
    assert not any(s is AgentState.AVAILABLE for s, t in moves if t < at)  # never free while in the room


def test_the_customer_leaving_mid_consultation_is_an_answered_call_the_agent_and_colleague_finish() -> None:
    """Asterisk keeps the agent and the colleague talking (bridge_basic.c consulting_exit): one journey,
    the queue leg answered (the caller hung up), no transfer; it ends when the two hang up."""
    hung: list[float] = []

    def steps(h: Harness, agent: Channel, customer: Channel) -> None:
        h.pbx.atxfer(agent, CONSULT_CONTEXT, "1001")
        h.run(3)
        h.pbx.hangup_channel(customer, 16)
        h.run(30)
        hung.append(h.pbx.now)
        h.pbx.hangup_channel(agent, 16)
        h.run(2)

    events, tracker, first = _run(steps)
    (j,) = [e.journey for e in events if isinstance(e, CallEnded)]
    (leg,) = j.queue_legs
    assert (leg.outcome, leg.agent) == (LegOutcome.ANSWERED, first)
    assert j.transfers == 0 and not [e for e in events if isinstance(e, CallTransferred)]
    assert j.agents == [first, "Alice"]
    (ended,) = [e for e in events if isinstance(e, CallEnded)]
    assert ended.at >= hung[0]  # the call goes on until the agent and the colleague are done
    (left,) = [e for e in events if isinstance(e, CallerLeft)]  # the consoles are told
    assert left.linkedid == j.linkedid and left.at < hung[0]
    assert not tracker.live_journeys()


def test_a_warm_transfer_to_a_queue_waits_there_for_a_colleague_and_completes_to_them() -> None:
    """Atxfer to the queue's extension in the queue context: the consultation's ;2 is a caller of the
    queue; the member who answers is the target; one journey, a second queue leg (the consultation's)."""

    def steps(h: Harness, agent: Channel, customer: Channel) -> None:
        h.pbx.atxfer(agent, "inbound", "support")
        h.run(3)  # the queue rings Dave, who answers after 1 s
        assert h.named("QueueCallerJoin")[-1]["Channel"].startswith("Local/support@inbound-")
        h.pbx.hangup_channel(agent, 16)  # complete
        h.run(5)
        h.pbx.hangup_channel(customer, 16)
        h.run(2)

    events, tracker, first = _run(steps)
    (j,) = [e.journey for e in events if isinstance(e, CallEnded)]
    assert j.agents == [first, "Dave"] and j.transfers == 1
    first_leg, consult_leg = j.queue_legs
    assert (first_leg.outcome, first_leg.agent) == (LegOutcome.TRANSFERRED, first)
    assert (consult_leg.outcome, consult_leg.agent) == (LegOutcome.ANSWERED, "Dave")
    (t,) = [e for e in events if isinstance(e, CallTransferred)]
    assert (t.kind, t.agent, t.target) == ("attended", first, "support@inbound")
    assert _states(events, first)[-1] is AgentState.WRAP_UP
    assert not tracker.live_journeys()


def test_a_warm_transfer_to_a_missing_queue_is_no_consultation_and_no_transfer() -> None:
    def steps(h: Harness, agent: Channel, customer: Channel) -> None:
        h.pbx.atxfer(agent, "inbound", "nosuchqueue")  # Asterisk's pbx-invalid: held, then unheld
        h.run(1)
        h.pbx.hangup_channel(agent, 16)
        h.run(2)

    events, _, first = _run(steps)
    (j,) = [e.journey for e in events if isinstance(e, CallEnded)]
    assert j.transfers == 0 and len(j.queue_legs) == 1 and j.agents == [first]
