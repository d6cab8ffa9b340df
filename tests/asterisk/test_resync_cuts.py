"""Resyncs after a gap, on the real transcripts cut at every point (issue 14): the AMI link drops after
event ``cut`` and ``lost`` events are never seen; the resync reads the lists Asterisk would show then
(``live_lists``), and the rest of the stream follows. Every queue leg must come out with the outcome and
agent of the uncut replay; a leg under way at the cut is flagged ``repaired``; no wait is stretched past
the real one (the resync time is never taken for the moment the caller left the queue)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from cti.asterisk.ami import Message
from cti.asterisk.calls import CallTracker
from cti.asterisk.snapshot import ResyncSnapshot
from cti.core.events import CallEnded, DomainEvent
from cti.core.journey import CallJourney, LegOutcome
from tests.asterisk.test_reconnect_journey import live_lists, reference, transcript_events


def cut_replay(
    events: Sequence[Message], cut: int, lost: int, members: Sequence[dict[str, str]] = ()
) -> list[DomainEvent]:
    """``members``: QueueMember items the resync lists besides those ``live_lists`` found (Asterisk lists
    every member; the transcripts name a member only once its status changed)."""
    tracker = CallTracker("pbx1")
    out: list[DomainEvent] = []
    before, gap, after = events[:cut], events[cut : cut + lost], events[cut + lost :]
    for m in before:
        out += tracker.feed(m, float(m.get("Timestamp") or 0))
    shown, status = live_lists([*before, *gap])
    at = float([*before, *gap][-1].get("Timestamp") or 0)
    out += tracker.resync(
        ResyncSnapshot(
            at=at,
            reason="reconnect",
            channels=[Message(list(c.items())) for c in shown],
            queue_status=[Message(list(s.items())) for s in [*status, *members]],
        )
    )
    for m in after:
        out += tracker.feed(m, float(m.get("Timestamp") or 0))
    return out + tracker.close(float(events[-1].get("Timestamp") or 0) + 60)


def ended(events: Sequence[DomainEvent]) -> dict[str, CallJourney]:
    return {e.journey.linkedid: e.journey for e in events if isinstance(e, CallEnded)}


def under_way(events: Sequence[Message], cut: int, *, talk: bool = True) -> set[tuple[str, str]]:
    """(uniqueid, queue) of the callers waiting in a queue at ``cut`` (``talk``: or answered from one and
    still talking)."""
    state: set[tuple[str, str]] = set()
    ends = ("QueueCallerAbandon", "AgentComplete") if talk else ("QueueCallerAbandon", "QueueCallerLeave")
    for m in events[:cut]:
        key = (m.get("Uniqueid") or "", m.get("Queue") or "")
        if m.event == "QueueCallerJoin":
            state.add(key)
        elif m.event in ends:
            state.discard(key)
        elif m.event == "Hangup":
            state = {k for k in state if k[0] != key[0]}
    return state


@pytest.mark.parametrize(
    ("name", "gaps"),
    [
        ("01-inbound-answered", (1, 3)),  # the answer, its ring or its AgentConnect in the gap
        ("06-blind-transfer", (1,)),  # 3: BlindTransfer and AgentComplete both lost, only the logs tell
    ],
)
def test_every_leg_keeps_its_outcome_and_agent_whatever_single_gap_the_link_had(
    transcripts: Path, name: str, gaps: tuple[int, ...]
) -> None:
    events = transcript_events(transcripts / f"{name}.ami")
    want = ended(reference(events))
    checked = 0
    for lost in gaps:
        for cut in range(1, len(events) - lost):
            got = ended(cut_replay(events, cut, lost))
            waiting = under_way(events, cut, talk=False) | under_way(events, cut + lost, talk=False)
            spanning = under_way(events, cut) | under_way(events, cut + lost)
            where = f"{name}: {lost} lost after event {cut} ({events[cut].event})"
            assert got.keys() == want.keys(), where
            for lid, journey in want.items():
                legs, expected = got[lid].queue_legs, journey.queue_legs
                assert [(x.queue, x.outcome, x.agent) for x in legs] == [
                    (x.queue, x.outcome, x.agent) for x in expected
                ], where
                assert got[lid].outcome is journey.outcome, where
                for leg, real in zip(legs, expected, strict=True):
                    assert leg.wait_seconds <= real.wait_seconds + 0.01, where  # never stretched
                    key = (leg.uniqueid, leg.queue)
                    # waiting across the gap: repaired; before its join or after its end: not; answered
                    # and talking: repaired when its talk was under way at the resync
                    assert leg.repaired if key in waiting else (key in spanning or not leg.repaired), where
                    checked += 1
    assert checked > 100


def test_a_call_first_seen_ringing_at_a_resync_pops_before_its_answer_with_its_number(
    transcripts: Path,
) -> None:
    """The link dropped before the call began and came back while the agent's phone rang (its
    QueueCallerJoin and AgentCalled lost): the pop still goes out before the answer, inbound, with the
    caller's number, and the leg is answered by the agent and flagged repaired."""
    from cti.core.events import AgentRinging, CallAnswered, CallStarted

    events = transcript_events(transcripts / "01-inbound-answered.ami")
    rang = next(i for i, m in enumerate(events) if m.event == "AgentCalled") + 2  # and its DialBegin
    bob = {"Event": "QueueMember", "Queue": "sales", "Name": "Bob", "Location": "Local/1002@agents/n"}
    out = cut_replay(events, 1, rang - 1, [bob | {"Status": "6", "InCall": "0", "Paused": "0"}])
    kinds = [type(e) for e in out if isinstance(e, CallStarted | AgentRinging | CallAnswered)]
    assert kinds == [CallStarted, AgentRinging, CallAnswered]
    (ring,) = [e for e in out if isinstance(e, AgentRinging)]
    assert (ring.agent, ring.direction.value, ring.caller.number) == ("Bob", "inbound", "13800138000")
    (journey,) = ended(out).values()
    (leg,) = journey.queue_legs
    assert (leg.outcome, leg.agent, leg.repaired) == (LegOutcome.ANSWERED, "Bob", True)
    assert (journey.caller_number, journey.did, journey.agents) == ("13800138000", "sales", ["Bob"])


def test_a_call_first_seen_talking_at_a_resync_gets_its_leg_number_and_direction() -> None:
    """Its whole start fell in the gap: the lists show the caller in Queue() bridged with Bob's phone."""
    tracker = CallTracker("pbx1")

    def item(**headers: str) -> Message:
        return Message(list(headers.items()))

    def channel(uid: str, name: str, app: str, data: str, bridge: str = "", **extra: str) -> Message:
        return item(
            Event="CoreShowChannel",
            Channel=name,
            Uniqueid=uid,
            Linkedid="100.0",
            ChannelState="6",
            CallerIDNum="13800138000",
            CallerIDName="张伟",
            Application=app,
            ApplicationData=data,
            Duration="00:00:09",
            BridgeId=bridge,
            **extra,
        )

    snapshot = ResyncSnapshot(
        at=110.0,
        reason="reconnect",
        channels=[
            channel("100.1", "Local/13800138000@callers-0001;2", "Wait", "", Context="callers"),
            channel(
                "100.0",
                "Local/13800138000@callers-0001;1",
                "Queue",
                "sales,t",
                "b1",
                Context="inbound",
                Exten="sales",
            ),
            channel(
                "100.2", "Local/1002@agents-0002;1", "AppQueue", "(Outgoing Line)", "b1", Context="agents"
            ),
            channel("100.3", "Local/1002@agents-0002;2", "Dial", "PJSIP/1002", Context="agents"),
        ],
        queue_status=[
            item(Event="QueueParams", Queue="sales", Calls="0"),
            item(
                Event="QueueMember",
                Queue="sales",
                Name="Bob",
                Location="Local/1002@agents/n",
                InCall="1",
                Status="2",
            ),
        ],
    )
    out = tracker.resync(snapshot)
    out += tracker.feed(
        item(
            Event="Hangup",
            Timestamp="120.0",
            Channel="Local/13800138000@callers-0001;1",
            Uniqueid="100.0",
            Linkedid="100.0",
            Cause="16",
        )
    )
    for uid in ("100.1", "100.2", "100.3"):
        out += tracker.feed(
            item(Event="Hangup", Timestamp="120.0", Uniqueid=uid, Linkedid="100.0", Cause="16")
        )
    (journey,) = ended(out).values()
    assert (journey.direction.value, journey.caller_number, journey.did) == (
        "inbound",
        "13800138000",
        "sales",
    )
    (leg,) = journey.queue_legs
    assert (leg.queue, leg.outcome, leg.agent, leg.repaired) == ("sales", LegOutcome.ANSWERED, "Bob", True)
    assert journey.agents == ["Bob"] and journey.outcome is not None and journey.outcome.value == "answered"
