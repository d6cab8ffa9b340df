"""The pump: one task, queue items applied in order, every gap marked, one bad message never fatal."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from cti.asterisk.ami import Message
from cti.asterisk.calls import CallTracker
from cti.asterisk.connection import AmiConnection, QueueItem, Received
from cti.asterisk.pump import EventPump, serve
from cti.asterisk.snapshot import ResyncSnapshot
from cti.config import AsteriskConfig
from cti.core.events import CallEnded, DomainEvent, Resynced, StreamProblem
from tests.asterisk.fakeami import FakeAmi
from tests.asterisk.test_connection import config
from tests.conftest import timeout


class Echo:
    """A tracker that echoes each message's Value back as an event; "boom" makes it raise."""

    def __init__(self, *, resynced: bool = False) -> None:
        self.resynced = resynced
        self.snapshots: list[ResyncSnapshot] = []

    def feed(self, msg: Message, received_at: float) -> list[DomainEvent]:
        value = msg.get("Value") or ""
        if value == "boom":
            raise ValueError("tracker bug")
        return [StreamProblem(at=received_at, server="pbx1", problem=value)]

    def resync(self, snapshot: ResyncSnapshot) -> list[DomainEvent]:
        self.snapshots.append(snapshot)
        if self.resynced:
            return [Resynced(snapshot.at, "pbx1", snapshot.reason, 99, 99)]
        return []


class Published:
    """A publish callback that keeps every event and can wait for one of a kind."""

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []
        self._seen: dict[type, asyncio.Event] = {}

    def __call__(self, batch: Sequence[DomainEvent]) -> None:
        self.events.extend(batch)
        for e in batch:
            self._seen.setdefault(type(e), asyncio.Event()).set()

    async def wait_for(self, kind: type, within: float) -> None:
        await asyncio.wait_for(self._seen.setdefault(kind, asyncio.Event()).wait(), within)


def received(value: str, at: float = 1.0) -> Received:
    return Received(at, Message([("Event", "VarSet"), ("Value", value)]))


async def drain(items: Sequence[QueueItem], tracker: Echo, batch: int = 256) -> list[list[DomainEvent]]:
    queue: asyncio.Queue[QueueItem] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    batches: list[list[DomainEvent]] = []
    done = asyncio.Event()

    async def publish(events: Sequence[DomainEvent]) -> None:
        batches.append(list(events))
        await asyncio.sleep(0)
        if queue.empty():
            done.set()

    pump = EventPump(queue, tracker, publish, server="pbx1", batch=batch)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(pump.run())
        await asyncio.wait_for(done.wait(), timeout(2))
        task.cancel()
    return batches


def problems(batches: list[list[DomainEvent]]) -> list[str]:
    return [e.problem for b in batches for e in b if isinstance(e, StreamProblem)]


async def test_items_are_applied_and_published_in_queue_order_in_bounded_batches() -> None:
    batches = await drain([received(str(n)) for n in range(10)], Echo(), batch=4)
    assert problems(batches) == [str(n) for n in range(10)]
    assert [len(b) for b in batches] == [4, 4, 2]


async def test_a_snapshot_always_yields_one_resynced_event_at_its_place() -> None:
    snap = ResyncSnapshot(
        at=5.0,
        reason="reconnect",
        channels=[Message([("Event", "CoreShowChannel")])] * 3,
        queue_status=[Message([("Event", "QueueParams")]), Message([("Event", "QueueMember")])],
    )
    batches = await drain([received("a"), snap, received("b")], Echo())
    flat = [e for b in batches for e in b]
    assert [type(e).__name__ for e in flat] == ["StreamProblem", "Resynced", "StreamProblem"]
    assert flat[1] == Resynced(5.0, "pbx1", "reconnect", 3, 1)


async def test_a_tracker_that_reports_its_own_resynced_event_is_not_doubled() -> None:
    tracker = Echo(resynced=True)
    batches = await drain([ResyncSnapshot(at=1.0, reason="login")], tracker)
    assert [e for b in batches for e in b] == [Resynced(1.0, "pbx1", "login", 99, 99)]
    assert len(tracker.snapshots) == 1


async def test_a_tracker_error_becomes_a_stream_problem_and_the_pump_goes_on() -> None:
    batches = await drain([received("a"), received("boom"), received("c")], Echo())
    found = problems(batches)
    assert found[0] == "a" and found[2] == "c"
    assert "tracker failed on VarSet" in found[1] and "tracker bug" in found[1]


async def test_stream_problems_from_the_connection_are_published_as_they_are() -> None:
    problem = StreamProblem(2.0, "pbx1", "AMI event queue overflowed")
    batches = await drain([problem], Echo())
    assert batches == [[problem]]


async def test_serve_runs_the_link_and_the_pump_with_the_real_tracker() -> None:
    published = Published()
    async with FakeAmi() as ami:
        conn = AmiConnection(config(ami))
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(serve(conn, CallTracker("pbx1"), published))
            await published.wait_for(Resynced, timeout(2))
            task.cancel()
    assert [e.reason for e in published.events if isinstance(e, Resynced)] == ["login"]


async def test_against_the_simulated_pbx_an_originated_call_ends_with_one_record() -> None:
    from cti.sim.scenario import transcript_pbx
    from cti.sim.server import SimServer

    sim = SimServer(transcript_pbx(), speed=1e-9, seed=1, start=1795400000.0, auth_fail_delay=0.2)
    await sim.start("127.0.0.1", 0)
    published = Published()
    try:
        cfg = AsteriskConfig(port=sim.port, secret="ctisecret", ping_interval=0.05, dead_after=timeout(1))
        conn = AmiConnection(cfg)
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(serve(conn, CallTracker("pbx1"), published))
            await published.wait_for(Resynced, timeout(3))
            reply = await conn.send_action(
                [
                    ("Action", "Originate"),
                    ("Channel", "Local/13800138000@callers/n"),
                    ("Context", "inbound"),
                    ("Exten", "sales"),
                    ("Priority", "1"),
                    ("CallerID", '"张伟 <b>x</b>" <13800138000>'),
                    ("Variable", "PATIENCE=30"),
                    ("Variable", "__TALK=3"),
                ]
            )
            assert reply.get("Message") == "Originate successfully queued"
            sim.advance(6)  # the agent answers after 1 s, talks 3 s and hangs up
            await published.wait_for(CallEnded, timeout(5))
            task.cancel()
        # Let the simulator handle our Logoff first: SimServer.stop() can hang when its clock task is
        # woken by an action in the very iteration it is cancelled (asyncio.wait_for on Python 3.11).
        await asyncio.sleep(0.05)
    finally:
        await sim.stop()
    [resynced] = [e for e in published.events if isinstance(e, Resynced)]
    assert resynced.reason == "login" and resynced.queues == 2
    [ended] = [e for e in published.events if isinstance(e, CallEnded)]
    journey = ended.journey
    assert journey.caller_name == "张伟 <b>x</b>" and journey.caller_number == "13800138000"
    assert [(leg.queue, leg.outcome and leg.outcome.value, leg.agent) for leg in journey.queue_legs] == [
        ("sales", "answered", "Bob")
    ]
    assert not [e for e in published.events if isinstance(e, StreamProblem)]


class WrapUps(Echo):
    """A tracker with a wrap-up due at ``due`` (wall clock): ``advance`` ends it once it is due."""

    def __init__(self, due: float) -> None:
        super().__init__()
        self.due = due
        self.advanced: list[float] = []

    def next_due(self) -> float:
        return self.due

    def advance(self, now: float) -> list[DomainEvent]:
        self.advanced.append(now)
        if now < self.due:
            return []
        self.due = float("inf")
        return [StreamProblem(at=now, server="pbx1", problem="wrap-up over")]


async def test_a_wrap_up_ends_on_time_without_waiting_for_the_next_event() -> None:
    """Issue #12: the label said wrap-up until Asterisk's next event, about 8 times too long."""
    import time

    queue: asyncio.Queue[QueueItem] = asyncio.Queue()
    tracker = WrapUps(time.time() + 0.3)
    published = Published()
    pump = EventPump(queue, tracker, published, server="pbx1", clock=time.time)
    task = asyncio.create_task(pump.run())
    try:
        await published.wait_for(StreamProblem, timeout(2))
        (ended,) = published.events
        assert isinstance(ended, StreamProblem) and ended.problem == "wrap-up over"
        assert ended.at >= tracker.advanced[0] and tracker.due == float("inf")
        queue.put_nowait(received("later"))  # events still flow after it
        await asyncio.sleep(0.05)
        assert [e.problem for e in published.events if isinstance(e, StreamProblem)][-1] == "later"
    finally:
        task.cancel()
