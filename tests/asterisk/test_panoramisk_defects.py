"""The ten panoramisk 1.4 defects of ../shared/docs/AMI.md, each reproduced against panoramisk over real
loopback TCP (the fake AMI server), and each shown absent from our connection. This is the evidence for
docs/design/ami-client.md. If a panoramisk release fixes one, its "panoramisk_*" test fails: revisit the
decision then.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from panoramisk import Manager
from panoramisk.fast_agi import Application

from cti.asterisk.ami import Message, encode
from cti.asterisk.client import ActionLost
from cti.asterisk.connection import AmiConnection, Received
from cti.asterisk.pump import EventPump
from cti.asterisk.snapshot import ResyncSnapshot
from cti.core.events import DomainEvent, StreamProblem
from tests.asterisk.fakeami import Client, FakeAmi
from tests.asterisk.test_connection import config, event_named, is_snapshot, running, take_until
from tests.conftest import timeout

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
async def ami() -> AsyncIterator[FakeAmi]:
    async with FakeAmi(auth_fail_delay=0.05) as server:
        yield server


@contextlib.asynccontextmanager
async def panoramisk(ami: FakeAmi, **overrides: Any) -> AsyncIterator[Manager]:
    """panoramisk's Manager, logged in to the fake server with the same credentials as ours."""
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": ami.port,
        "username": "cti",
        "secret": "s3cret",
        "ping_delay": 1000,
        "ping_interval": 1000,
        "reconnect_timeout": 0,  # an int: panoramisk cannot wait less than a second otherwise
    }
    settings.update(overrides)
    manager = Manager(**settings)
    manager.connect()
    try:
        yield manager
    finally:
        manager.connect = lambda *a, **k: None  # neutralise reconnects it has already scheduled
        manager.close()
        await asyncio.sleep(0)


def reply_once(*headers: dict[str, str]) -> Any:
    return lambda c, a: list(headers)


async def settle(seconds: float = 0.3) -> None:
    await asyncio.sleep(timeout(seconds))


# 1 --------------------------------------------------------------------------------------------------
async def test_panoramisk_drops_the_link_on_originate_and_atxfer_queued_replies(ami: FakeAmi) -> None:
    ami.handlers["atxfer"] = reply_once({"Response": "Success", "Message": "Atxfer successfully queued"})
    ami.handlers["originate"] = reply_once(
        {"Response": "Success", "Message": "Originate successfully queued"}
    )
    async with panoramisk(ami) as manager:
        await ami.wait_for(lambda: ami.logins == 1, timeout(2))
        originate = manager.send_action({"Action": "Originate", "Channel": "Local/1@x", "Exten": "1"})
        await ami.wait_for(lambda: ami.logins == 2, timeout(2))  # KeyError in data_received: reconnected
        atxfer = manager.send_action({"Action": "Atxfer", "Channel": "Local/1@x", "Exten": "2"})
        await ami.wait_for(lambda: ami.logins == 3, timeout(2))
        assert not originate.done() and not atxfer.done()  # and the callers wait forever
    assert [a.get("Action") for _, a in ami.actions][:4] == ["Login", "Originate", "Login", "Atxfer"]


async def test_ours_resolves_originate_and_atxfer_queued_replies_on_the_same_link(ami: FakeAmi) -> None:
    ami.handlers["atxfer"] = reply_once({"Response": "Success", "Message": "Atxfer successfully queued"})
    ami.handlers["originate"] = reply_once(
        {"Response": "Success", "Message": "Originate successfully queued"}
    )
    conn = AmiConnection(config(ami))
    async with running(conn):
        first = await conn.send_action({"Action": "Originate", "Channel": "Local/1@x", "Exten": "1"})
        second = await conn.send_action({"Action": "Atxfer", "Channel": "Local/1@x", "Exten": "2"})
    assert first.get("Message") == "Originate successfully queued"
    assert second.get("Message") == "Atxfer successfully queued"
    assert ami.connections == 1 and conn.stats.reconnects == 0


# 2 --------------------------------------------------------------------------------------------------
async def test_panoramisk_never_resolves_queueadd(ami: FakeAmi) -> None:
    ami.handlers["queueadd"] = reply_once({"Response": "Success", "Message": "Added interface to queue"})
    async with panoramisk(ami) as manager:
        await ami.wait_for(lambda: ami.logins == 1, timeout(2))
        future = manager.send_action(
            {"Action": "QueueAdd", "Queue": "support", "Interface": "Local/1005@agents"}
        )
        await ami.wait_for(lambda: len(ami.actions_named("QueueAdd")) == 1, timeout(2))
        await settle()
        assert not future.done()
        assert any(r["action"] == "QueueAdd" for r in manager.protocol.responses.values())  # leaked


async def test_ours_resolves_queueadd(ami: FakeAmi) -> None:
    ami.handlers["queueadd"] = reply_once({"Response": "Success", "Message": "Added interface to queue"})
    conn = AmiConnection(config(ami))
    async with running(conn):
        reply = await conn.send_action(
            {"Action": "QueueAdd", "Queue": "support", "Interface": "Local/1005@agents"}
        )
    assert reply.get("Message") == "Added interface to queue"


# 3 --------------------------------------------------------------------------------------------------
NAME = "José Müller 李"


def split_event() -> tuple[bytes, list[int]]:
    data = encode({"Event": "Newchannel", "Channel": "Local/1@x-1;1", "CallerIDName": NAME})
    return data, [data.index("é".encode()) + 1]  # cut inside the two bytes of é


async def test_panoramisk_loses_a_utf8_character_split_across_reads(ami: FakeAmi) -> None:
    names: list[str] = []
    async with panoramisk(ami) as manager:
        manager.register_event("Newchannel", lambda m, e: names.append(e["CallerIDName"]))
        await ami.wait_for(lambda: ami.logins == 1, timeout(2))
        await settle(0.05)
        data, cuts = split_event()
        await ami.emit_chunks(data, cuts)
        await settle()
    assert names == ["Jos Müller 李"]


async def test_ours_keeps_a_utf8_character_split_across_reads(ami: FakeAmi) -> None:
    conn = AmiConnection(config(ami))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
        data, cuts = split_event()
        await ami.emit_chunks(data, cuts)
        items = await take_until(conn, event_named("Newchannel"))
    last = items[-1]
    assert isinstance(last, Received) and last.message.get("CallerIDName") == NAME


# 4 --------------------------------------------------------------------------------------------------
GETVAR_EMPTY = {"Response": "Success", "Variable": "NOPE", "Value": ""}  # 07-list-actions rec-11


async def test_panoramisk_strips_an_empty_last_header(ami: FakeAmi) -> None:
    ami.handlers["getvar"] = reply_once(GETVAR_EMPTY)
    async with panoramisk(ami) as manager:
        await ami.wait_for(lambda: ami.logins == 1, timeout(2))
        reply = await asyncio.wait_for(
            manager.send_action({"Action": "Getvar", "Variable": "NOPE"}), timeout(2)
        )
    assert "Variable" in reply and "Value" not in reply


async def test_ours_keeps_an_empty_last_header(ami: FakeAmi) -> None:
    ami.handlers["getvar"] = reply_once(GETVAR_EMPTY)
    conn = AmiConnection(config(ami))
    async with running(conn):
        reply = await conn.send_action({"Action": "Getvar", "Variable": "NOPE"})
    assert reply.headers[-1] == ("Value", "")


# 5 --------------------------------------------------------------------------------------------------
async def test_panoramisk_relogs_in_with_bad_credentials_at_a_fixed_rate_and_reports_nothing(
    ami: FakeAmi,
) -> None:
    loop = asyncio.get_running_loop()
    async with panoramisk(ami, secret="wrong") as manager:
        await ami.wait_for(lambda: ami.failed_logins >= 6, timeout(3))
        stamps = [loop.time()]
        await ami.wait_for(lambda: ami.failed_logins >= 9, timeout(3))
        stamps.append(loop.time())
        assert manager.authenticated is False  # the only trace: a flag, no callback, no error
    # the delay never grows: three more attempts cost three server delays (0.05 s) plus overhead
    assert stamps[1] - stamps[0] < timeout(0.6)


async def test_ours_reports_bad_credentials_and_backs_off(ami: FakeAmi) -> None:
    conn = AmiConnection(config(ami, secret="wrong", reconnect_min=0.1, reconnect_max=5.0))
    async with running(conn):
        item = await asyncio.wait_for(conn.queue.get(), timeout(2))
        await ami.wait_for(lambda: ami.failed_logins >= 4, timeout(3))
        assert conn.stats.state == "auth_failed"
    assert isinstance(item, StreamProblem) and "Authentication failed" in item.problem
    # waits of 0.05-0.1, then 0.1-0.2, then 0.2-0.4 s between attempts: each gap longer than the last
    gaps = [b - a for a, b in itertools.pairwise(ami.failed_login_times)]
    assert gaps[0] < gaps[1] < gaps[2]


# 6 --------------------------------------------------------------------------------------------------
async def test_panoramisk_never_notices_unanswered_pings(ami: FakeAmi) -> None:
    async with panoramisk(ami) as manager:
        await ami.wait_for(lambda: ami.logins == 1, timeout(2))
        ami.stall()  # half-open: the socket stays open, nothing comes back
        for _ in range(3):
            manager.ping()
        await settle(0.5)
        assert manager._connected and not manager.protocol.closed
    assert ami.connections == 1


async def test_ours_detects_unanswered_pings_within_dead_after(ami: FakeAmi) -> None:
    conn = AmiConnection(config(ami, dead_after=timeout(0.3)))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
        ami.stall()
        await take_until(conn, is_snapshot("reconnect"), seconds=3)
    assert conn.stats.dead_links == 1 and ami.connections == 2


# 7 --------------------------------------------------------------------------------------------------
def never_answer(c: Client, a: Message) -> None:
    return None


async def test_panoramisk_resends_an_unanswered_originate_after_reconnect(ami: FakeAmi) -> None:
    ami.handlers["originate"] = never_answer
    async with panoramisk(ami) as manager:
        await ami.wait_for(lambda: ami.logins == 1, timeout(2))
        manager.send_action({"Action": "Originate", "Channel": "Local/1@x", "Exten": "1", "Async": "true"})
        await ami.wait_for(lambda: len(ami.actions_named("Originate")) == 1, timeout(2))
        ami.drop()
        await ami.wait_for(lambda: len(ami.actions_named("Originate")) == 2, timeout(2))
    assert [n for n, _ in ami.actions_named("Originate")] == [1, 2]  # a second call placed


async def test_ours_fails_an_unanswered_originate_and_never_resends_it(ami: FakeAmi) -> None:
    ami.handlers["originate"] = never_answer
    conn = AmiConnection(config(ami))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
        pending = asyncio.create_task(conn.send_action({"Action": "Originate", "Channel": "Local/1@x"}))
        await ami.wait_for(lambda: len(ami.actions_named("Originate")) == 1, timeout(2))
        ami.drop()
        with pytest.raises(ActionLost):
            await pending
        await take_until(conn, is_snapshot("reconnect"))  # FullyBooted came before it
        await settle(0.1)
    assert len(ami.actions_named("Originate")) == 1


# 8 --------------------------------------------------------------------------------------------------
async def test_panoramisk_runs_coroutine_callbacks_out_of_order(ami: FakeAmi) -> None:
    seen: list[int] = []
    rng = random.Random(7)

    async def on_varset(manager: Manager, event: Any) -> None:
        await asyncio.sleep(rng.random() * 0.02)  # any I/O a handler does (store, websocket)
        seen.append(int(event["Value"]))

    async with panoramisk(ami) as manager:
        manager.register_event("VarSet", on_varset)
        await ami.wait_for(lambda: ami.logins == 1, timeout(2))
        await settle(0.05)
        ami.emit_raw(b"".join(encode({"Event": "VarSet", "Value": str(n)}) for n in range(20)))
        await settle(0.3)
    assert sorted(seen) == list(range(20)) and seen != list(range(20))


class Recorder:
    """A tracker that turns each VarSet into one event carrying its value."""

    def feed(self, msg: Message, received_at: float) -> list[DomainEvent]:
        if msg.event != "VarSet":
            return []
        return [StreamProblem(at=received_at, server="pbx1", problem=msg.get("Value") or "")]

    def resync(self, snapshot: ResyncSnapshot) -> list[DomainEvent]:
        return []


async def test_ours_applies_and_publishes_in_arrival_order_even_with_a_slow_async_consumer(
    ami: FakeAmi,
) -> None:
    seen: list[int] = []
    rng = random.Random(7)
    all_seen = asyncio.Event()

    async def publish(events: Any) -> None:
        for e in events:
            if isinstance(e, StreamProblem) and e.problem.isdigit():
                await asyncio.sleep(rng.random() * 0.005)
                seen.append(int(e.problem))
        if len(seen) >= 20:
            all_seen.set()

    conn = AmiConnection(config(ami))
    pump = EventPump(conn.queue, Recorder(), publish, server="pbx1", batch=3)
    async with running(conn), asyncio.TaskGroup() as tg:
        task = tg.create_task(pump.run())
        await ami.wait_for(lambda: len(ami.actions_named("QueueStatus")) == 1, timeout(2))
        ami.emit_raw(b"".join(encode({"Event": "VarSet", "Value": str(n)}) for n in range(20)))
        await asyncio.wait_for(all_seen.wait(), timeout(3))
        task.cancel()
    assert seen == list(range(20))


# 9 --------------------------------------------------------------------------------------------------
STATUS_ITEMS = [
    {"Event": "Status", "Channel": "A"},
    {"Event": "StatusComplete", "Channel": "B"},  # ends in "Complete", but carries no EventList: Complete
    {"Event": "Status", "Channel": "C"},
]


async def test_panoramisk_guesses_the_end_of_a_list(ami: FakeAmi) -> None:
    ami.lists["Status"] = STATUS_ITEMS
    leaked: list[str] = []
    async with panoramisk(ami) as manager:
        manager.register_event("*", lambda m, e: leaked.append(e.get("Channel", "")))
        await ami.wait_for(lambda: ami.logins == 1, timeout(2))
        reply = await asyncio.wait_for(manager.send_action({"Action": "Status"}), timeout(2))
        await settle(0.1)
    assert [m.get("Channel") for m in reply[1:]] == ["A", "B"]  # cut short at the guessed end
    assert "C" in leaked  # the rest of the list leaked into the event stream


async def test_ours_ends_a_list_on_eventlist_complete(ami: FakeAmi) -> None:
    ami.lists["Status"] = STATUS_ITEMS
    conn = AmiConnection(config(ami))
    async with running(conn):
        reply = await conn.send_list_action({"Action": "Status"})
    assert [m.get("Channel") for m in reply.items] == ["A", "B", "C"]


# 10 -------------------------------------------------------------------------------------------------
def test_panoramisk_fastagi_rejects_a_plain_function_route_on_python_311() -> None:
    app = Application(loop=asyncio.new_event_loop())
    try:
        with pytest.raises(AttributeError, match="coroutine"):
            app.add_route("ivr", lambda request: None)
    finally:
        app.loop.close()


async def test_fastagi_works_with_a_coroutine_route_handler_over_a_real_socket() -> None:
    app = Application()
    answered: list[dict[str, Any]] = []

    async def ivr(request: Any) -> None:  # the workaround: always register a coroutine function
        answered.append(await request.send_command("ANSWER"))

    app.add_route("ivr", ivr)
    assert inspect.iscoroutinefunction(app._route["ivr"])
    server = await asyncio.start_server(app.handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"agi_network: yes\nagi_network_script: ivr\nagi_channel: Local/1@x-1;2\n\n")
        command = await asyncio.wait_for(reader.readline(), timeout(2))
        writer.write(b"200 result=0\n")
        await asyncio.wait_for(reader.read(), timeout(2))  # the handler closes the socket when done
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    assert command == b"ANSWER\n"
    assert answered and answered[0]["status_code"] == 200


def test_every_defect_has_a_reproduction_and_a_counterpart() -> None:
    names = [n for n in globals() if n.startswith("test_")]
    theirs = [n for n in names if n.startswith("test_panoramisk_")]
    ours = [n for n in names if n.startswith(("test_ours_", "test_fastagi_"))]
    assert len(theirs) == 10 and len(ours) == 10
    assert len(list(itertools.chain(theirs, ours))) == len(set(theirs) | set(ours))
