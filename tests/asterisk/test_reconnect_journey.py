"""The reconnect test of issue 3: the fake server drops the link mid-call, the daemon reconnects and
resyncs, and the call still ends with a correct record, with nothing duplicated.

The call is the real transcript 01-inbound-answered.ami. Its events are cut at a point mid-call; a few
events right after the cut are lost with the link (the gap; in one case it holds the agent's Hangup,
which only the resync can reveal: without it the call would never end); the fake server then answers
the resync's CoreShowChannels and QueueStatus with what a real Asterisk would list at that moment
(derived from the transcript itself, as Asterisk derives them from its channels and queues), and the
rest of the stream follows. The reference is the same transcript replayed without interruption through
a fresh tracker.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from cti.asterisk.ami import AmiDecoder, Message, encode
from cti.asterisk.calls import CallTracker
from cti.asterisk.connection import AmiConnection
from cti.asterisk.pump import EventPump
from cti.core.events import AgentStateChanged, CallEnded, DomainEvent, Resynced, StreamProblem
from tests.asterisk.fakeami import FakeAmi
from tests.asterisk.test_connection import config, running
from tests.asterisk.test_pump import Published
from tests.conftest import timeout

CHANNEL_KEYS = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)
MEMBER_KEYS = ("Queue", "StateInterface", "Membership", "Penalty", "CallsTaken", "LastCall", "LastPause")
MEMBER_KEYS_2 = ("InCall", "Status", "Paused", "PausedReason", "Wrapuptime")


def transcript_events(path: Path) -> list[Message]:
    decoder = AmiDecoder(expect_banner=True)
    msgs = decoder.receive_data(path.read_bytes())
    assert not decoder.take_errors()
    return [m for m in msgs if m.event is not None and m.event not in ("FullyBooted", "SuccessfulAuth")]


def hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def live_lists(prefix: Sequence[Message]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """What Asterisk's CoreShowChannels and QueueStatus would list after ``prefix``."""
    channels: dict[str, dict[str, str]] = {}
    born: dict[str, float] = {}
    members: dict[tuple[str, str], dict[str, str]] = {}
    queues: set[str] = set()
    waiting: dict[tuple[str, str], tuple[Message, float]] = {}
    now = 0.0
    for m in prefix:
        now = float(m.get("Timestamp") or now)
        name, uid = m.event, m.get("Uniqueid")
        if name == "Hangup" and uid:
            channels.pop(uid, None)
            continue
        if uid and m.get("Channel"):
            chan = channels.setdefault(uid, {"Event": "CoreShowChannel"})
            born.setdefault(uid, now)
            chan.update({k: v for k in CHANNEL_KEYS if (v := m.get(k)) is not None})
            if name == "Newexten":
                chan["Application"] = m.get("Application") or ""
                chan["ApplicationData"] = m.get("AppData") or ""
            elif name == "BridgeEnter":
                chan["BridgeId"] = m.get("BridgeUniqueid") or ""
            elif name == "BridgeLeave":
                chan["BridgeId"] = ""
        if name in ("QueueMemberStatus", "QueueMemberAdded"):
            queue, member = m.get("Queue") or "", m.get("MemberName") or ""
            item = {"Event": "QueueMember", "Name": member, "Location": m.get("Interface") or ""}
            item.update({k: v for k in (*MEMBER_KEYS, *MEMBER_KEYS_2) if (v := m.get(k)) is not None})
            members[(queue, member)] = item
            queues.add(queue)
        elif name == "QueueCallerJoin":
            waiting[(m.get("Queue") or "", uid or "")] = (m, now)
            queues.add(m.get("Queue") or "")
        elif name in ("QueueCallerLeave", "QueueCallerAbandon"):
            waiting.pop((m.get("Queue") or "", uid or ""), None)
    shown = [dict(c, Duration=hms(now - born[uid])) for uid, c in channels.items()]
    status: list[dict[str, str]] = []
    for queue in sorted(queues):
        status.append({"Event": "QueueParams", "Queue": queue, "Calls": str(len(waiting))})
        status += [item for (q, _), item in members.items() if q == queue]
        for position, ((q, uid), (join, since)) in enumerate(waiting.items(), 1):
            if q == queue:
                status.append(
                    {
                        "Event": "QueueEntry",
                        "Queue": queue,
                        "Position": str(position),
                        "Channel": join.get("Channel") or "",
                        "Uniqueid": uid,
                        "CallerIDNum": join.get("CallerIDNum") or "",
                        "CallerIDName": join.get("CallerIDName") or "",
                        "Wait": str(int(now - since)),
                    }
                )
    return shown, status


def reference(events: Sequence[Message]) -> list[DomainEvent]:
    tracker = CallTracker("pbx1")
    out: list[DomainEvent] = []
    for m in events:
        out += tracker.feed(m, float(m.get("Timestamp") or 0))
    return out


def index_after(events: Sequence[Message], name: str, nth: int = 1) -> int:
    seen = 0
    for i, m in enumerate(events):
        if m.event == name:
            seen += 1
            if seen == nth:
                return i + 1
    raise AssertionError(f"no {name} #{nth}")


def per_call(events: Sequence[DomainEvent]) -> Counter[tuple[str, str]]:
    return Counter(
        (
            type(e).__name__,
            str(getattr(e, "linkedid", "") or getattr(getattr(e, "journey", None), "linkedid", "")),
        )
        for e in state_moves(events)
        if not isinstance(e, Resynced | StreamProblem)
    )


def state_moves(events: Sequence[DomainEvent]) -> list[DomainEvent]:
    """Without the announcements of a queue joined or left with no change of state: ``live_lists`` lists
    only members the transcript named, so a member who was rung before any QueueMemberStatus is out of
    the resync's QueueStatus, and the next QueueMemberStatus puts him back in the queue (announced)."""
    last: dict[str, AgentStateChanged] = {}
    kept: list[DomainEvent] = []
    for e in events:
        if isinstance(e, AgentStateChanged):
            before, last[e.agent] = last.get(e.agent), e
            if before is not None and (before.state, before.reason) == (e.state, e.reason):
                if before.queues != e.queues:
                    continue  # only the queues changed: an announcement, not a second move
        kept.append(e)
    return kept


@pytest.mark.parametrize(
    ("cut_after", "lost"),
    [
        (("DialBegin", 2), 3),  # while the agent's phone rings: the caller is still in the queue
        (("DeviceStateChange", 7), 2),  # while they talk
        (("Newexten", 15), 3),  # the agent's hangup is lost with the link: only the resync tells
    ],
    ids=["ringing", "talking", "hangup-in-gap"],
)
async def test_a_call_survives_a_dropped_link_with_one_correct_record_and_nothing_duplicated(
    transcripts: Path, cut_after: tuple[str, int], lost: int
) -> None:
    events = transcript_events(transcripts / "01-inbound-answered.ami")
    cut = index_after(events, *cut_after)
    before, gap, after = events[:cut], events[cut : cut + lost], events[cut + lost :]
    assert len(gap) == lost
    expected = reference(events)
    [expected_end] = [e for e in expected if isinstance(e, CallEnded)]

    publish = Published()
    async with FakeAmi() as ami:
        # The daemon's clock agrees with Asterisk's: "now" is the time of the last event sent.
        clock = [float(events[0]["Timestamp"])]
        conn = AmiConnection(config(ami), wall_clock=lambda: clock[0])
        pump = EventPump(conn.queue, CallTracker("pbx1"), publish, server="pbx1")
        async with running(conn), asyncio.TaskGroup() as tg:
            pumping = tg.create_task(pump.run())
            await ami.wait_for(lambda: len(ami.actions_named("QueueStatus")) == 1, timeout(2))
            ami.emit_raw(b"".join(encode(m) for m in before))
            clock[0] = float((before + gap)[-1]["Timestamp"])
            await ami.wait_for(lambda: conn.stats.messages >= len(before) + 1, timeout(2))
            shown, status = live_lists(before + gap)
            ami.lists["CoreShowChannels"], ami.lists["QueueStatus"] = list(shown), list(status)
            ami.drop()
            await ami.wait_for(lambda: len(ami.actions_named("QueueStatus")) == 2, timeout(3))
            ami.emit_raw(b"".join(encode(m) for m in after))
            clock[0] = float(after[-1]["Timestamp"])
            await publish.wait_for(CallEnded, timeout(3))
            await asyncio.sleep(0.05)  # anything that would come after the end (a duplicate) arrives now
            pumping.cancel()
    published = publish.events

    assert conn.stats.reconnects == 1
    assert [e.reason for e in published if isinstance(e, Resynced)] == ["login", "reconnect"]
    assert not [e for e in published if isinstance(e, StreamProblem)]
    [end] = [e for e in published if isinstance(e, CallEnded)]
    got, want = end.journey.to_json(), expected_end.journey.to_json()
    # the leg was under way at the cut: flagged repaired (the uncut replay's is not); nothing else differs
    assert [leg.pop("repaired") for leg in got["queue_legs"]] == [True] * len(got["queue_legs"])
    assert [leg.pop("repaired") for leg in want["queue_legs"]] == [False] * len(want["queue_legs"])
    assert got == want
    assert per_call(published) == per_call(expected)  # the same events, none twice
