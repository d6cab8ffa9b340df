"""The tracker's state machines: queue visits, journeys and originates move only as their tables say."""

from __future__ import annotations

import pytest

from cti.asterisk import translate as tr
from cti.asterisk.ami import Message
from cti.asterisk.calls import CallTracker
from cti.asterisk.tracker import dispatch
from cti.asterisk.tracker.journeys import JOURNEY_TRANSITIONS, Journeys, JourneyState
from cti.asterisk.tracker.legs import LEG_TRANSITIONS, OPEN, OUTCOME, IllegalMove, LegState, Visit
from cti.asterisk.tracker.originates import ORIGINATE_TRANSITIONS, Originate, OriginateState
from cti.core.events import AgentState, DomainEvent, StreamProblem
from cti.core.ids import AgentId, QueueName, UniqueId
from cti.core.journey import LegOutcome, QueueLeg
from cti.routing.agents import Agent


def visit() -> Visit:
    return Visit(QueueLeg(QueueName("sales"), UniqueId("1.1"), 10.0, 1))


def state(v: Visit) -> LegState:
    """Read through a call, so that mypy does not narrow the state from one assert to the next."""
    return v.state


def msg(**headers: str) -> Message:
    return Message(list(headers.items()))


def chan(uid: str, name: str, prefix: str = "", **extra: str) -> dict[str, str]:
    block = {
        "Channel": name,
        "ChannelState": "6",
        "CallerIDNum": "555",
        "CallerIDName": "X",
        "Context": extra.pop("ctx", "from-trunk"),
        "Exten": "100",
        "Uniqueid": uid,
        "Linkedid": extra.pop("linked", uid),
    }
    return {prefix + k: v for k, v in block.items()}


def test_every_table_names_every_state_and_closed_visits_have_their_outcome() -> None:
    assert set(LEG_TRANSITIONS) == set(LegState)
    assert set(JOURNEY_TRANSITIONS) == set(JourneyState)
    assert set(ORIGINATE_TRANSITIONS) == set(OriginateState)
    closed = set(LegState) - OPEN - {LegState.LEFT}
    assert set(OUTCOME) == closed and set(OUTCOME.values()) == set(LegOutcome)
    assert all(not LEG_TRANSITIONS[s] - {LegState.TRANSFERRED} for s in closed)  # closed stays closed


def test_a_visit_rings_back_to_waiting_when_every_ring_ended_then_is_answered() -> None:
    v = visit()
    v.ring_started()
    v.ring_started()
    v.ring_ended()
    assert state(v) is LegState.RINGING
    v.ring_ended()
    assert state(v) is LegState.WAITING
    v.ring_started()
    v.answering(AgentId("Bob"))
    v.ring_ended()
    assert state(v) is LegState.ANSWERING and v.answerer == "Bob"
    v.close(LegState.ANSWERED, 25.0)
    assert v.leg.outcome is LegOutcome.ANSWERED and v.leg.wait_seconds == 15.0
    with pytest.raises(IllegalMove):
        v.move(LegState.WAITING)


def test_a_provisional_exit_settles_into_a_closed_state_and_keeps_its_leave_time() -> None:
    v = visit()
    v.leave(LegState.TIMED_OUT, 40.0)
    assert state(v) is LegState.LEFT and v.leg.outcome is LegOutcome.TIMEOUT and not v.is_open
    v.close(LegState.EXITED_EMPTY, 41.0)
    assert v.leg.outcome is not None and v.leg.outcome.value == "exit-empty" and v.leg.left_at == 40.0


def test_a_journey_starts_before_it_ends_and_a_merged_one_is_gone() -> None:
    table = Journeys("pbx")
    j = table.new("1.1", "1.1", 1.0)
    with pytest.raises(IllegalMove):
        j.move(JourneyState.ENDED)
    j.move(JourneyState.STARTED)
    young = table.new("2.1", "2.1", 2.0)
    table.merge(j, young)
    assert young.state is JourneyState.MERGED and table.of("2.1") is j and len(table) == 1
    table.ended_now(j)
    assert j.state is JourneyState.ENDED and "1.1" in table.ended and "2.1" in table.ended


def test_an_originate_moves_forward_only_and_still_records_late_facts() -> None:
    o = Originate()
    assert not o.originated
    o.dial_began("PJSIP/5551234@trunk")
    assert o.state is OriginateState.DIALLING and o.dialled == "5551234"
    ev = tr.translate(msg(Event="OriginateResponse", Reason="4", Response="Success", Uniqueid="1.1"), 1.0)
    assert isinstance(ev, tr.OriginateResponseEvent)
    o.responded(ev)
    o.dial_ended("ANSWER")  # after the response: recorded, no move back
    assert o.state.value == "responded" and o.dial_status == "ANSWER"
    assert o.outcome([]) == "answered"


def test_a_queue_call_walks_its_visit_through_ringing_answering_and_answered() -> None:
    t = CallTracker("pbx")
    c = chan("1.1", "PJSIP/trunk-1")
    agent = chan("1.2", "PJSIP/1001-2", linked="1.1", ctx="agents")
    t.feed(msg(Event="Newchannel", Timestamp="1.0", **c))
    t.feed(msg(Event="QueueCallerJoin", Timestamp="1.0", Queue="q", Position="1", Count="1", **c))
    journey = t.journeys.of("1.1")
    assert journey is not None
    (v,) = journey.visits
    assert state(v) is LegState.WAITING
    called = {"Queue": "q", "MemberName": "Bob", "Interface": "PJSIP/1001"}
    t.feed(msg(Event="Newchannel", Timestamp="2.0", **agent))
    t.feed(msg(Event="AgentCalled", Timestamp="2.0", **called, **c, **chan("1.2", "PJSIP/1001-2", "Dest")))
    assert state(v) is LegState.RINGING
    dial = {**chan("1.1", "PJSIP/trunk-1"), **chan("1.2", "PJSIP/1001-2", "Dest", linked="1.1")}
    t.feed(msg(Event="DialEnd", Timestamp="5.0", DialStatus="ANSWER", **dial))
    assert state(v) is LegState.ANSWERING
    bob = t.roster.by_name["Bob"]
    assert isinstance(bob, Agent) and bob.state is AgentState.ON_CALL
    t.feed(msg(Event="QueueCallerLeave", Timestamp="5.0", Queue="q", Position="1", Count="0", **c))
    assert state(v) is LegState.ANSWERED and v.leg.agent == "Bob"


def test_a_move_a_table_forbids_is_reported_and_the_stream_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(t: CallTracker, ev: tr.ChannelEvent, out: list[DomainEvent]) -> None:
        raise IllegalMove("journey 1.1: ended -> started")

    route = dispatch.ROUTES["Hold"]
    monkeypatch.setitem(dispatch.ROUTES, "Hold", (route[0], broken, None, None))
    t = CallTracker("pbx")
    t.feed(msg(Event="Newchannel", Timestamp="1.0", **chan("1.1", "PJSIP/trunk-1")))
    out = t.feed(msg(Event="Hold", Timestamp="2.0", **chan("1.1", "PJSIP/trunk-1")))
    (problem,) = out
    assert isinstance(problem, StreamProblem) and "ended -> started" in problem.problem
    assert t.problems == 1 and t.tracked_channels == 1


def test_each_event_name_has_one_handler_and_a_translator_builder() -> None:
    with pytest.raises(ValueError, match="already handled"):
        dispatch.on(tr.ChannelEvent, "Hold")(lambda t, ev, out: None)
    with pytest.raises(ValueError, match="no builder"):
        dispatch.on(tr.ChannelEvent, "NoSuchEvent")(lambda t, ev, out: None)
    typed = {name: route[0] for name, route in dispatch.ROUTES.items() if route[0] is not None}
    assert typed["QueueCallerJoin"] is tr.QueueCallerEvent and typed["AgentConnect"] is tr.AgentEvent
    assert all(tr.BUILDERS.get(name) is not None for name in typed)
