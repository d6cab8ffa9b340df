"""The AMI connection against a fake Asterisk over real loopback TCP."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.asterisk.ami import Message, encode
from cti.asterisk.client import ActionLost, ListReply, NotConnected
from cti.asterisk.connection import AmiConnection, QueueItem, Received, backoff_delay
from cti.asterisk.snapshot import ResyncSnapshot
from cti.config import AsteriskConfig
from cti.core.errors import UsageError
from cti.core.events import StreamProblem
from tests.asterisk.fakeami import Client, FakeAmi, Headers
from tests.conftest import timeout


def config(ami: FakeAmi, **overrides: Any) -> AsteriskConfig:
    values: dict[str, Any] = {
        "name": "pbx1",
        "host": "127.0.0.1",
        "port": ami.port,
        "username": "cti",
        "secret": "s3cret",
        "auth": "md5",
        "ping_interval": 0.05,
        "dead_after": timeout(0.4),
        "reconnect_min": 0.02,
        "reconnect_max": 0.2,
        "event_queue_size": 1000,
    }
    values.update(overrides)
    return AsteriskConfig(**values)


@contextlib.asynccontextmanager
async def running(conn: AmiConnection) -> AsyncIterator[AmiConnection]:
    task = asyncio.create_task(conn.run())
    try:
        yield conn
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmi]:
    async with FakeAmi(auth_fail_delay=0.05) as server:
        yield server


async def take(conn: AmiConnection, seconds: float = 2.0) -> QueueItem:
    return await asyncio.wait_for(conn.queue.get(), timeout(seconds))


async def take_until(
    conn: AmiConnection, predicate: Callable[[QueueItem], bool], seconds: float = 3.0
) -> list[QueueItem]:
    got: list[QueueItem] = []
    async with asyncio.timeout(timeout(seconds)):
        while True:
            item = await conn.queue.get()
            got.append(item)
            if predicate(item):
                return got


def is_snapshot(reason: str) -> Callable[[QueueItem], bool]:
    return lambda item: isinstance(item, ResyncSnapshot) and item.reason == reason


def event_named(name: str, **headers: str) -> Callable[[QueueItem], bool]:
    def match(item: QueueItem) -> bool:
        return (
            isinstance(item, Received)
            and item.message.event == name
            and all(item.message.get(k) == v for k, v in headers.items())
        )

    return match


def events(items: list[QueueItem]) -> list[Message]:
    return [i.message for i in items if isinstance(i, Received)]


CHANNEL = {
    "Event": "CoreShowChannel",
    "Channel": "Local/4155550100@callers-00000001;2",
    "ChannelState": "6",
    "Uniqueid": "1795363000.1",
    "Linkedid": "1795363000.1",
    "CallerIDName": "李小龙",
}


# --- login -------------------------------------------------------------------------------------------
async def test_logs_in_with_md5_challenge_and_events_on_then_resyncs_with_reason_login(ami: FakeAmi) -> None:
    ami.lists["CoreShowChannels"] = [CHANNEL]
    ami.lists["QueueStatus"] = [
        {"Event": "QueueParams", "Queue": "sales"},
        {"Event": "QueueMember", "Name": "Bob"},
    ]
    conn = AmiConnection(config(ami))
    async with running(conn):
        items = await take_until(conn, is_snapshot("login"))
        assert conn.stats.connected and conn.stats.state == "connected"
    assert conn.stats.state == "stopped"
    snap = items[-1]
    assert isinstance(snap, ResyncSnapshot)
    assert [m.get("CallerIDName") for m in snap.channels] == ["李小龙"]
    assert [m.event for m in snap.queue_status] == ["QueueParams", "QueueMember"]
    names = [a.get("Action") for _, a in ami.actions]
    assert names[:4] == ["Challenge", "Login", "CoreShowChannels", "QueueStatus"]
    login = ami.actions_named("Login")[0][1]
    assert login.get("AuthType") == "MD5" and login.get("Secret") is None and login.get("Events") == "on"
    assert events(items)[0].event == "FullyBooted"  # the event before the resync comes before the snapshot
    assert conn.stats.logins == 1 and conn.stats.reconnects == 0


async def test_shutdown_logs_off_politely(ami: FakeAmi) -> None:
    conn = AmiConnection(config(ami))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
    await ami.wait_for(lambda: len(ami.actions_named("Logoff")) == 1, timeout(2))
    assert conn.stats.state == "stopped" and not conn.stats.connected


async def test_plain_auth_sends_the_secret_without_a_challenge(ami: FakeAmi) -> None:
    conn = AmiConnection(config(ami, auth="plain"))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
    assert ami.actions_named("Challenge") == []
    assert ami.actions_named("Login")[0][1].get("Secret") == "s3cret"


async def test_md5_refused_by_the_server_falls_back_to_plain_login(ami: FakeAmi) -> None:
    ami.md5 = False
    conn = AmiConnection(config(ami))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
    assert [a.get("Action") for _, a in ami.actions][:2] == ["Challenge", "Login"]
    assert ami.actions_named("Login")[0][1].get("Secret") == "s3cret"


async def test_bad_credentials_are_reported_and_retried_with_a_growing_delay(ami: FakeAmi) -> None:
    cfg = config(ami, secret="wrong", reconnect_min=0.05, reconnect_max=0.4)
    conn = AmiConnection(cfg, rng=random.Random(1))
    loop = asyncio.get_running_loop()
    async with running(conn):
        problems: list[StreamProblem] = []
        stamps: list[float] = []
        while len(problems) < 4:
            item = await take(conn, 3.0)
            assert isinstance(item, StreamProblem)
            problems.append(item)
            stamps.append(loop.time())
        assert conn.stats.state == "auth_failed" and not conn.stats.connected
    assert "Authentication failed" in problems[0].problem and "'cti'" in problems[0].problem
    assert conn.stats.auth_failures >= 4 and ami.logins == 0
    # Each attempt costs the server's 0.05 s delay plus the backoff: the gaps grow, never full speed.
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert gaps[-1] > gaps[0]
    assert ami.failed_logins <= 5


async def test_unreachable_server_is_retried_with_backoff_and_counted() -> None:
    async with FakeAmi() as ami:
        port = ami.port
    conn = AmiConnection(config(ami, port=port, reconnect_min=0.01, reconnect_max=0.05), action_timeout=0.01)
    async with running(conn):
        await asyncio.sleep(timeout(0.3))
        with pytest.raises(NotConnected, match="pbx1"):
            await conn.send_action({"Action": "Ping"})
    assert 2 <= conn.stats.connect_failures <= 40
    assert "Error" in conn.stats.last_error or "refused" in conn.stats.last_error.lower()


@given(st.integers(0, 10_000), st.floats(0.01, 5), st.floats(1, 120), st.integers(0, 2**32))
def test_backoff_grows_exponentially_within_bounds_with_jitter(
    attempt: int, low: float, high: float, seed: int
) -> None:
    rng = random.Random(seed)
    delay = backoff_delay(attempt, low, high, rng)
    base = min(high, low * 2.0 ** min(attempt, 64))
    assert base / 2 <= delay <= base
    assert delay <= high


# --- reconnect and resync ----------------------------------------------------------------------------
async def test_after_a_drop_it_reconnects_and_resyncs_with_reason_reconnect(ami: FakeAmi) -> None:
    conn = AmiConnection(config(ami))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
        ami.emit({"Event": "Newchannel", "Uniqueid": "1.1"})
        await take_until(conn, event_named("Newchannel"))
        ami.lists["CoreShowChannels"] = [CHANNEL]
        ami.drop()
        items = await take_until(conn, is_snapshot("reconnect"))
        snap = items[-1]
        assert isinstance(snap, ResyncSnapshot) and len(snap.channels) == 1
        ami.emit({"Event": "Hangup", "Uniqueid": "1795363000.1"})
        await take_until(conn, event_named("Hangup"))
    assert conn.stats.reconnects == 1 and conn.stats.logins == 2 and ami.connections == 2


async def test_a_shutdown_event_then_close_is_followed_by_a_reconnect(ami: FakeAmi) -> None:
    conn = AmiConnection(config(ami))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
        ami.emit({"Event": "Shutdown", "Privilege": "system,all", "Shutdown": "Cleanly", "Restart": "True"})
        await take_until(conn, event_named("Shutdown"))
        ami.drop()
        await take_until(conn, is_snapshot("reconnect"))
    assert conn.stats.reconnects == 1 and conn.stats.dead_links == 0


async def test_events_before_the_first_list_reply_precede_the_snapshot_and_later_ones_follow_it(
    ami: FakeAmi,
) -> None:
    def before_reply(event: dict[str, str], list_name: str) -> Callable[[Client, Message], list[Headers]]:
        def handler(c: Client, a: Message) -> list[Headers]:
            c.send(event)  # written before this list's response
            return ami.list_reply(list_name)

        return handler

    ami.lists["QueueStatus"] = [{"Event": "QueueParams", "Queue": "sales"}]
    ami.handlers["coreshowchannels"] = before_reply(
        {"Event": "Hangup", "Uniqueid": "1.1"}, "CoreShowChannels"
    )
    ami.handlers["queuestatus"] = before_reply({"Event": "Newchannel", "Uniqueid": "9.9"}, "QueueStatus")
    conn = AmiConnection(config(ami))
    async with running(conn):
        items = await take_until(conn, event_named("Newchannel"))
    order = [i.message.event if isinstance(i, Received) else type(i).__name__ for i in items]
    assert order == ["FullyBooted", "Hangup", "ResyncSnapshot", "Newchannel"]
    snap = items[2]
    assert isinstance(snap, ResyncSnapshot) and [m.get("Queue") for m in snap.queue_status] == ["sales"]


async def test_list_ends_only_on_eventlist_complete_never_on_an_event_name(ami: FakeAmi) -> None:
    ami.lists["Status"] = [
        {"Event": "Status", "Channel": "A"},
        {"Event": "StatusComplete", "Channel": "B"},  # named like an end, but no EventList header
        {"Event": "Status", "Channel": "C"},
    ]
    conn = AmiConnection(config(ami))
    async with running(conn):
        reply = await conn.send_list_action({"Action": "Status"})
    assert isinstance(reply, ListReply) and reply.ok
    assert [m.get("Channel") for m in reply.items] == ["A", "B", "C"]
    assert reply.complete is not None and reply.complete.get("ListItems") == "3"


# --- keepalive ---------------------------------------------------------------------------------------
async def test_pings_every_interval_while_idle(ami: FakeAmi) -> None:
    conn = AmiConnection(config(ami, ping_interval=0.05))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
        await ami.wait_for(lambda: len(ami.actions_named("Ping")) >= 3, timeout(2))
    assert conn.stats.dead_links == 0 and ami.connections == 1


async def test_half_open_link_is_detected_within_dead_after_and_reconnected(ami: FakeAmi) -> None:
    dead_after = timeout(0.3)
    conn = AmiConnection(config(ami, dead_after=dead_after))
    loop = asyncio.get_running_loop()
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
        ami.stall()
        stalled_at = loop.time()
        await take_until(conn, is_snapshot("reconnect"), seconds=3)
        detected = loop.time() - stalled_at
    assert conn.stats.dead_links == 1
    assert detected < dead_after + timeout(0.5)
    assert "dead link" in conn.stats.last_error


async def test_missing_pong_is_a_dead_link_even_while_events_flow(ami: FakeAmi) -> None:
    conn = AmiConnection(config(ami, dead_after=timeout(0.3)))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
        ami.answer_pings = False
        async with asyncio.timeout(timeout(3)):
            for n in itertools.count():
                if conn.stats.dead_links:
                    break
                ami.emit({"Event": "VarSet", "Variable": "N", "Value": str(n)})
                await asyncio.sleep(0.02)
    assert conn.stats.dead_links == 1
    assert "no Pong" in conn.stats.last_error


# --- the byte stream ---------------------------------------------------------------------------------
async def test_utf8_character_split_across_reads_and_empty_last_header_survive(ami: FakeAmi) -> None:
    conn = AmiConnection(config(ami))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
        data = encode({"Event": "Newchannel", "CallerIDName": "José Müller 李", "AccountCode": ""})
        split = data.index("é".encode()) + 1  # inside the two-byte é
        await ami.emit_chunks(data, [split, 3, 1])
        items = await take_until(conn, event_named("Newchannel"))
    msg = events(items)[-1]
    assert msg.get("CallerIDName") == "José Müller 李"
    assert msg.headers[-1] == ("AccountCode", "")


async def test_malformed_input_is_reported_and_the_next_event_still_arrives(ami: FakeAmi) -> None:
    conn = AmiConnection(config(ami))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
        ami.emit_raw(b"this line has no colon\r\n\r\n")
        ami.emit({"Event": "Hangup", "Uniqueid": "1.2"})
        items = await take_until(conn, event_named("Hangup"))
    problems = [i for i in items if isinstance(i, StreamProblem)]
    assert len(problems) == 1 and "no colon" in problems[0].problem
    assert conn.stats.problems == 1


async def test_events_are_queued_in_exact_arrival_order(ami: FakeAmi) -> None:
    conn = AmiConnection(config(ami))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
        stream = b"".join(encode({"Event": "VarSet", "Value": str(n)}) for n in range(500))
        await ami.emit_chunks(stream, [7, 1000, 13, 4096])
        items = await take_until(conn, event_named("VarSet", Value="499"))
    values = [m.get("Value") for m in events(items) if m.event == "VarSet"]
    assert values == [str(n) for n in range(500)]


async def test_overflow_is_reported_loudly_and_triggers_a_resync_never_a_silent_drop(ami: FakeAmi) -> None:
    conn = AmiConnection(config(ami, event_queue_size=5))
    async with running(conn):
        await ami.wait_for(lambda: len(ami.actions_named("QueueStatus")) == 1, timeout(2))
        await asyncio.sleep(0.05)
        # Nobody drains the queue: FullyBooted + the login snapshot are already in it.
        ami.emit_raw(b"".join(encode({"Event": "VarSet", "Value": str(n)}) for n in range(20)))
        await ami.wait_for(lambda: len(ami.actions_named("QueueStatus")) == 2, timeout(2))
        items = await take_until(conn, is_snapshot("overflow"))
    kinds = [type(i).__name__ for i in items]
    problem_at = kinds.index("StreamProblem")
    assert "overflowed" in getattr(items[problem_at], "problem", "")
    assert kinds[problem_at + 1 :] == ["ResyncSnapshot"]  # nothing between the problem and the resync
    kept = [m.get("Value") for m in events(items) if m.event == "VarSet"]
    assert kept == [str(n) for n in range(len(kept))]  # a prefix, in order
    assert conn.stats.overflows == 1
    assert conn.stats.dropped == 20 - len(kept)
    assert conn.stats.queue_peak <= 5 + 2


# --- actions -----------------------------------------------------------------------------------------
async def test_send_action_returns_the_response_with_unique_action_ids(ami: FakeAmi) -> None:
    conn = AmiConnection(config(ami))
    async with running(conn):
        replies = await asyncio.gather(*(conn.send_action({"Action": "Ping"}) for _ in range(20)))
        missing = await conn.send_action({"Action": "NoSuchAction"})
    assert all(r.get("Ping") == "Pong" for r in replies)
    assert len({r.action_id for r in replies}) == 20
    assert missing.response == "Error" and "Invalid/unknown command" in (missing.get("Message") or "")
    ids = [a.action_id for _, a in ami.actions]
    assert len(ids) == len(set(ids))


async def test_originate_is_always_sent_async(ami: FakeAmi) -> None:
    queued = {"Response": "Success", "Message": "Originate successfully queued"}
    ami.handlers["originate"] = lambda c, a: [queued]
    conn = AmiConnection(config(ami))
    async with running(conn):
        reply = await conn.send_action({"Action": "Originate", "Channel": "Local/1@x", "Exten": "1"})
        with pytest.raises(UsageError, match="Async"):
            await conn.send_action({"Action": "Originate", "Channel": "Local/1@x", "Async": "false"})
    assert reply.response == "Success"
    assert [a.get("Async") for _, a in ami.actions_named("Originate")] == ["true"]


async def test_originate_response_echoing_the_action_id_goes_to_the_event_stream(ami: FakeAmi) -> None:
    def originate(c: Client, a: Message) -> list[dict[str, str]]:
        c.reply(a, {"Response": "Success", "Message": "Originate successfully queued"})
        return [{"Event": "OriginateResponse", "Response": "Success", "Reason": "4"}]

    ami.handlers["originate"] = originate
    conn = AmiConnection(config(ami))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
        reply = await conn.send_action({"Action": "Originate", "Channel": "Local/1@x"})
        items = await take_until(conn, event_named("OriginateResponse"))
    assert events(items)[-1].action_id == reply.action_id


async def test_non_idempotent_action_pending_at_a_drop_fails_and_is_never_resent(ami: FakeAmi) -> None:
    ami.handlers["redirect"] = lambda c, a: None  # never answered: the link drops first
    conn = AmiConnection(config(ami))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
        pending = asyncio.create_task(conn.send_action({"Action": "Redirect", "Channel": "X", "Exten": "1"}))
        await ami.wait_for(lambda: len(ami.actions_named("Redirect")) == 1, timeout(2))
        ami.drop()
        with pytest.raises(ActionLost, match=r"Redirect.*not re-sent"):
            await asyncio.wait_for(pending, timeout(2))
        await take_until(conn, is_snapshot("reconnect"))
        await conn.send_action({"Action": "Ping"})
    assert len(ami.actions_named("Redirect")) == 1
    assert conn.stats.actions_lost == 1


async def test_idempotent_read_pending_at_a_drop_is_sent_again_on_the_next_link(ami: FakeAmi) -> None:
    answered: list[int] = []

    def getvar(c: Client, a: Message) -> list[dict[str, str]] | None:
        if c.number == 1:
            return None  # lost with the first link
        answered.append(c.number)
        return [{"Response": "Success", "Variable": "X", "Value": ""}]

    ami.handlers["getvar"] = getvar
    conn = AmiConnection(config(ami))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
        pending = asyncio.create_task(conn.send_action({"Action": "Getvar", "Variable": "X"}))
        await ami.wait_for(lambda: len(ami.actions_named("Getvar")) == 1, timeout(2))
        ami.drop()
        reply = await asyncio.wait_for(pending, timeout(3))
    assert reply.headers[-1] == ("Value", "")
    assert [n for n, _ in ami.actions_named("Getvar")] == [1, 2] and answered == [2]
    assert conn.stats.actions_retried == 1


async def test_header_injection_in_an_action_is_refused(ami: FakeAmi) -> None:
    conn = AmiConnection(config(ami))
    async with running(conn):
        await conn.wait_connected(timeout(2))
        with pytest.raises(ValueError, match="line break"):
            await conn.send_action({"Action": "Getvar", "Variable": "X\r\nAction: Hangup"})
    assert ami.actions_named("Hangup") == []


async def test_metrics_report_link_and_queue_figures(ami: FakeAmi) -> None:
    conn = AmiConnection(config(ami))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
        ami.emit({"Event": "Newchannel"})
        await ami.wait_for(lambda: True, 0.1)
        await asyncio.sleep(0.05)
        m = conn.metrics()
    assert m["connected"] is True and m["server"] == "pbx1"
    assert m["logins"] == 1 and m["reconnects"] == 0 and m["overflows"] == 0
    assert m["messages"] == 2  # FullyBooted, Newchannel
    assert m["queue_depth"] == 1


# --- the admission invariants, under any interleaving ----------------------------------------------
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("events"), st.integers(1, 12)),
        st.tuples(st.just("drain"), st.integers(1, 12)),
        st.tuples(st.just("resync"), st.just(0)),  # the resync task reacts to an overflow request
        st.tuples(st.just("lists_read"), st.just(0)),  # the snapshot is complete
    ),
    max_size=60,
)


@given(OPS, st.integers(1, 6))
def test_queue_admission_keeps_order_marks_every_gap_and_never_drops_silently(
    ops: list[tuple[str, int]], capacity: int
) -> None:
    async def scenario() -> None:
        conn = AmiConnection(AsteriskConfig(event_queue_size=capacity))
        sent = 0
        out: list[QueueItem] = []
        peak = 0
        for op, n in ops:
            if op == "events":
                for _ in range(n):
                    conn._on_event(Message([("Event", "VarSet"), ("Value", str(sent))]), 1.0)
                    sent += 1
            elif op == "drain":
                for _ in range(min(n, conn.queue.qsize())):
                    out.append(conn.queue.get_nowait())
            elif op == "resync" and conn._overflow_wanted.is_set() and conn._hold is None:
                conn._overflow_wanted.clear()
                conn._start_hold(Message([("Response", "Success")]))
            elif op == "lists_read" and conn._hold is not None:
                conn._finish_resync(ResyncSnapshot(at=1.0, reason="overflow"))
            peak = max(peak, conn.queue.qsize())
            # while events are being dropped, a resync is always on its way
            assert not conn._overflowed or conn._overflow_wanted.is_set() or conn._hold is not None
        while not conn.queue.empty():
            out.append(conn.queue.get_nowait())

        kept = [int(i.message.get("Value") or -1) for i in out if isinstance(i, Received)]
        assert kept == sorted(set(kept))  # in order, none twice
        assert len(kept) + conn.stats.dropped + len(conn._hold or []) == sent  # nothing lost silently
        problems = [i for i in out if isinstance(i, StreamProblem)]
        assert len(problems) == conn.stats.overflows and all("overflowed" in p.problem for p in problems)
        assert conn.stats.dropped == 0 or conn.stats.overflows >= 1
        # After a gap, the next kept event comes after a snapshot that covers the gap.
        position = {
            int(i.message.get("Value") or -1): k for k, i in enumerate(out) if isinstance(i, Received)
        }
        for a, b in itertools.pairwise(kept):
            if b != a + 1:
                between = out[position[a] + 1 : position[b]]
                assert any(isinstance(i, ResyncSnapshot) for i in between), (a, b)
        assert peak <= 2 * capacity + 2 * len(ops)  # events bounded; control items are few

    asyncio.run(scenario())
