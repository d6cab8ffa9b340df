"""CTI-routed calls get queue legs (tracker rule 10), on the real recording of a CTI-routed call
(../shared/ami-transcripts/05-cti-redirect: held, Redirected to deliver,1002, answered by Bob)."""

from __future__ import annotations

from cti.asterisk.ami import AmiDecoder, encode
from cti.asterisk.calls import CallTracker
from cti.core.events import CallEnded, CallLeftQueue, CallQueued, CallWaiting, DomainEvent
from cti.core.journey import LegOutcome
from tests.conftest import TRANSCRIPTS

MEMBER = encode(
    [("Event", "QueueMember"), ("Queue", "sales"), ("Name", "Bob"), ("Location", "Local/1002@agents/n")]
)


def replay_with_leg(
    queue: str | None,
) -> tuple[list[DomainEvent], list[CallWaiting], list[CallWaiting]]:
    """Feed the recording; at its CtiWaiting, open a CTI leg in ``queue`` as the routing service does.
    Also returns what ``held_calls`` said just before and just after that."""
    data = (TRANSCRIPTS / "05-cti-redirect.ami").read_bytes()
    cut = data.index(b"\r\n\r\n") + 4
    tracker = CallTracker("pbx1")
    events: list[DomainEvent] = []
    before: list[CallWaiting] = []
    after: list[CallWaiting] = []
    for msg in AmiDecoder().receive_data(data[:cut] + MEMBER + data[cut:]):
        out = tracker.feed(msg)
        events += out
        for w in (e for e in out if isinstance(e, CallWaiting)):
            before = tracker.held_calls("inbound", "hold")
            if queue is not None:
                events += tracker.route_leg(w.uniqueid, queue, w.at, 1)
            after = tracker.held_calls("inbound", "hold")
    return events, before, after


def test_a_cti_routed_call_of_the_real_recording_gets_an_answered_queue_leg() -> None:
    events, _, _ = replay_with_leg("sales")
    (journey,) = [e.journey for e in events if isinstance(e, CallEnded)]
    (leg,) = journey.queue_legs
    waiting = next(e for e in events if isinstance(e, CallWaiting))
    assert (leg.queue, leg.agent, leg.outcome, leg.uniqueid) == (
        "sales",
        "Bob",
        LegOutcome.ANSWERED,
        waiting.uniqueid,
    )
    assert leg.entered_at == waiting.at and leg.answered_at is not None
    assert abs(leg.wait_seconds - (leg.answered_at - leg.entered_at)) < 1e-6
    assert abs(leg.talk_seconds - journey.talk_seconds) < 1e-6 and abs(leg.talk_seconds - 3.5) < 0.1
    assert any(isinstance(e, CallQueued) and e.queue == "sales" for e in events)
    (left,) = [e for e in events if isinstance(e, CallLeftQueue)]
    assert left.outcome is LegOutcome.ANSWERED


def test_without_a_routed_leg_the_recording_keeps_no_queue_leg() -> None:
    events, _, _ = replay_with_leg(None)
    (journey,) = [e.journey for e in events if isinstance(e, CallEnded)]
    assert journey.queue_legs == [] and journey.agents == ["Bob"]


def test_a_caller_in_the_holding_extension_is_found_for_a_resync_until_it_is_queued() -> None:
    _, before, after = replay_with_leg("sales")
    (w,) = before
    assert (w.caller.number, w.channel.endswith(";1")) == ("13912345678", True)
    assert after == []  # queued now: a resync does not enqueue it twice
