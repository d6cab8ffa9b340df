"""The daemon assembled: real store, real websockets, domain events published as the AMI pump does."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from websockets.asyncio.client import connect

from cti.app import Daemon
from cti.asterisk.ami import AmiDecoder
from cti.asterisk.calls import CallTracker
from cti.bus.local import LocalBus
from cti.config import parse_config
from cti.core.events import CallAnswered, CallEnded
from cti.core.ids import AgentId
from cti.screenpop.actions import Contexts
from cti.screenpop.channels import TrackerChannels
from cti.store import NewCustomer, Store
from tests.asterisk.fakeami import FakeAmi
from tests.bus.events import inbound_call
from tests.conftest import ROOT, timeout
from tests.e2e.running import HOSTILE, config_text, instance, running_daemon, seed_accounts
from tests.screenpop.console import recv, recv_until
from tests.waiting import eventually


async def test_the_daemon_pops_with_the_stored_customer_and_records_the_call_and_disposition(
    db_url: str,
) -> None:
    await seed_accounts(db_url)
    daemon = Daemon(parse_config(config_text(db_url)))
    await daemon.open()
    assert daemon.server is not None
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(daemon.run())
        ws = await connect(f"ws://127.0.0.1:{daemon.server.port}/ws")
        await ws.send(json.dumps({"type": "login", "username": "alice", "password": "demo"}))
        assert (await recv(ws))["agent"] == "Alice"
        await recv(ws)  # snapshot
        events = inbound_call(
            "1763800000.7", agent="Alice", number="4155550101", name=HOSTILE, at=time.time()
        )
        daemon.publish(events[:2])
        pop = await recv_until(ws, lambda m: m["type"] == "screenpop")
        assert pop["caller"]["name"] == HOSTILE and pop["caller"]["normalized"] == "+14155550101"
        assert pop["lookup"] == "found"
        assert [c["name"] for c in pop["customers"]] == [HOSTILE]
        daemon.publish(events[2:])
        await recv_until(ws, lambda m: m.get("event") == "ended")
        await ws.send(
            json.dumps(
                {
                    "type": "disposition",
                    "linkedid": "1763800000.7",
                    "disposition": "sale",
                    "notes": "wants the blue one",
                    "ref": "d",
                }
            )
        )
        assert (await recv_until(ws, lambda m: m.get("ref") == "d"))["type"] == "result"
        await ws.close()
        daemon.stopping.set()
        await task
    store = await Store.open(db_url)
    try:
        stored = await store.calls.journeys(time.time() - 3600, time.time() + 3600)
        assert [j.linkedid for j in stored] == ["1763800000.7"]
        assert stored[0].queue_legs[0].agent == "Alice"
        lookup = await store.customers.lookup_caller("+14155550101")
        (interaction,) = lookup.customers[0].interactions
        assert (interaction.disposition, interaction.notes) == ("sale", "wants the blue one")
    finally:
        await store.close()
    assert daemon.writer is not None and daemon.writer.rows == 1 and daemon.writer.pending == 0


async def test_shutdown_writes_the_journeys_still_buffered(db_url: str) -> None:
    await seed_accounts(db_url)
    cfg = parse_config(config_text(db_url).replace("flush_interval = 0.05", "flush_interval = 3600"))
    daemon = Daemon(cfg)
    await daemon.open()
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(daemon.run())
        for i in range(3):
            daemon.publish(inbound_call(f"17638000{i:02d}.1", at=time.time()))
        await asyncio.sleep(0.05)
        assert daemon.writer is not None and daemon.writer.pending == 3
        daemon.stopping.set()
        await task
    store = await Store.open(db_url)
    try:
        assert len(await store.calls.journeys(time.time() - 3600, time.time() + 3600)) == 3
    finally:
        await store.close()


async def test_the_daemon_recomputes_value_tiers_on_its_schedule_with_the_configured_window(
    db_url: str,
) -> None:
    store = await Store.open(db_url)
    try:
        ids = await store.customers.add_customers(
            [NewCustomer(name=f"c{i}", phones=[f"+1212555{i:04d}"]) for i in range(20)]
        )
        await store.customers.add_order(ids[0], 500_00, placed_at=time.time() - 20 * 86400)  # inside 30 days
        # only inside 365 days:
        await store.customers.add_order(ids[1], 9_000_00, placed_at=time.time() - 60 * 86400)
    finally:
        await store.close()
    extra = "[tiers]\nwindow_days = 30\nrecompute_every_hours = 0.0001\n"  # every 0.36 s
    async with running_daemon(db_url, extra) as daemon:
        running = daemon.store
        assert isinstance(running, Store)
        schedule = daemon.tier_schedule
        assert schedule is not None
        await eventually(lambda: schedule.tier_runs >= 1, what="a scheduled tier run")
        assert await running.tiers.counts() == {"A": 1, "C": 19}
        assert "cti_tier_runs_total 1.0" in metrics(daemon)
        found = await running.customers.lookup_caller("+12125550000")
        assert found.customers[0].tier == "A"  # the top spender of the last 30 days, not of the year


def metrics(daemon: Daemon) -> str:
    return generate_latest(daemon.registry).decode()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout(5)) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_cti_run_serves_health_and_metrics_logs_json_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    asyncio.run(seed_accounts(url))
    config = tmp_path / "cti.toml"
    config.write_text(config_text(url).replace('log_format = "text"', 'log_format = "json"'))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cti", "run", "--config", str(config)],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + timeout(20)
        base = None
        lines: list[str] = []
        while base is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            if line.startswith("cti: consoles on "):
                base = line.split()[-1].rstrip("/")
        assert base, lines
        status, body = _get(base + "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, body = _get(base + "/metrics")
        assert status == 200
        assert "cti_ws_clients 0" in body and "# TYPE cti_store_rows_total counter" in body
        proc.send_signal(signal.SIGTERM)
        rest = proc.stderr.read()
        assert proc.wait(timeout(20)) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    records = [json.loads(line) for line in (lines + rest.splitlines()) if line.startswith("{")]
    assert any(r["msg"].startswith("cti daemon t1 running") for r in records)
    assert any(r["msg"] == "flushed the call records" for r in records)


def test_cti_run_names_the_bad_key_of_a_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cti.cli import main

    config = tmp_path / "bad.toml"
    config.write_text("[web]\nprot = 1\n")
    assert main(["run", "--config", str(config)]) == 2
    assert "web.prot: unknown key" in capsys.readouterr().err


@pytest.mark.redis
async def test_a_supervisor_on_instance_b_sees_the_calls_of_instance_a(
    redis_url: str, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    a, b = instance(url, redis_url, "a"), instance(url, redis_url, "b")
    await a.open()
    await b.open()
    assert b.server is not None and b.writer is not None and a.writer is not None
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(a.run()), tg.create_task(b.run())]
        await a.bus.wait_ready()  # type: ignore[attr-defined]
        await b.bus.wait_ready()  # type: ignore[attr-defined]
        ws = await connect(f"ws://127.0.0.1:{b.server.port}/ws")
        await ws.send(json.dumps({"type": "login", "username": "alice", "password": "demo"}))
        await recv(ws)
        await recv(ws)
        a.publish(inbound_call("1763800100.1", agent="Alice", number="4155550101", at=time.time()))
        pop = await recv_until(ws, lambda m: m["type"] == "screenpop")
        assert pop["call"]["linkedid"] == "1763800100.1" and pop["lookup"] == "found"
        await recv_until(ws, lambda m: m.get("event") == "ended")
        await ws.close()
        for d in (a, b):
            d.stopping.set()
        for t in tasks:
            await t
    assert a.writer.rows == 1 and b.writer.rows == 0  # written once, by the instance that owns the call
    assert isinstance(b.bus, LocalBus) and b.bus.received == len(inbound_call())


@pytest.mark.redis
async def test_an_agent_on_instance_b_acts_on_the_pbx_that_instance_a_is_connected_to(
    redis_url: str, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    async with FakeAmi(auth_fail_delay=0.05) as pbx:
        pbx.lists["QueueStatus"] = [
            {"Event": "QueueMember", "Queue": "sales", "Name": "Alice", "Location": "Local/1001@agents/n"}
            | {"Status": "1", "Paused": "1", "InCall": "0", "Membership": "static"}
        ]
        pbx.handlers["queuepause"] = lambda c, a: [{"Response": "Success", "Message": "Interface unpaused"}]
        pbx1 = f'[[asterisk]]\nname = "pbx1"\nport = {pbx.port}\nsecret = "s3cret"\n'
        a, b = instance(url, redis_url, "a", pbx1), instance(url, redis_url, "b")
        await b.open()
        await a.open()
        assert b.server is not None and not b.servers
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(b.run())]
            await b.bus.wait_ready()  # type: ignore[attr-defined]
            tasks.append(tg.create_task(a.run()))
            await eventually(lambda: "Alice" in b.hub.seats, timeout(5), what="Alice's seat seen on b")  # type: ignore[union-attr]
            ws = await connect(f"ws://127.0.0.1:{b.server.port}/ws")
            await ws.send(json.dumps({"type": "login", "username": "alice", "password": "demo"}))
            await recv(ws)
            await ws.send(json.dumps({"type": "ready", "ref": "r1"}))
            reply = await recv_until(ws, lambda m: m.get("ref") == "r1")
            assert reply["type"] == "result", reply
            sent = [dict(m.headers) for _, m in pbx.actions if m.get("Action") == "QueuePause"]
            assert sent == [
                {"Action": "QueuePause", "ActionID": sent[0]["ActionID"]}
                | {"Interface": "Local/1001@agents/n", "Paused": "false"}
            ]
            await ws.send(json.dumps({"type": "hangup", "linkedid": "no-such-call", "ref": "r2"}))
            refused = await recv_until(ws, lambda m: m.get("ref") == "r2")
            assert refused["type"] == "error" and refused["code"] in ("no_call", "forbidden")
            await ws.close()
            for d in (a, b):
                d.stopping.set()
            for t in tasks:
                await t
        assert a.commands is not None and a.commands.done == 1
        assert "cti_commands_done_total 1.0" in metrics(a)
        assert "cti_commands_sent_total 1.0" in metrics(b)


def test_the_agent_and_caller_channels_of_an_answered_call_are_found(transcripts: Path) -> None:
    tracker = CallTracker("pbx1")
    channels = TrackerChannels()
    channels.trackers["pbx1"] = tracker
    seen = []
    for msg in AmiDecoder().receive_data((transcripts / "01-inbound-answered.ami").read_bytes()):
        for event in tracker.feed(msg):
            if isinstance(event, CallAnswered) and event.agent:
                agent_chan = channels.local_agent_channel("pbx1", event.linkedid, event.agent)
                caller_chan = channels.local_caller_channel("pbx1", event.linkedid)
                seen.append((agent_chan, caller_chan))
            if isinstance(event, CallEnded):
                assert channels.local_caller_channel("pbx1", event.journey.linkedid) is None
    ((agent_chan, caller_chan),) = seen
    assert agent_chan is not None and agent_chan.startswith("Local/100") and "@agents-" in agent_chan
    assert caller_chan == "Local/13800138000@callers-00000000;1"
    assert channels.local_agent_channel("other", "x", "Alice") is None  # type: ignore[arg-type]


async def test_a_console_action_on_the_second_server_uses_that_servers_own_contexts(db_url: str) -> None:
    await seed_accounts(db_url)
    async with FakeAmi(auth_fail_delay=0.05) as one, FakeAmi(auth_fail_delay=0.05) as two:
        two.lists["QueueStatus"] = [
            {"Event": "QueueMember", "Queue": "sales", "Name": "Alice", "Location": "Local/1001@agents/n"}
            | {"Status": "1", "Paused": "0", "InCall": "0", "Membership": "static"}
        ]
        two.handlers["originate"] = lambda c, a: [{"Response": "Success", "Message": "Originate queued"}]
        servers = "".join(
            f'[[asterisk]]\nname = "{name}"\nport = {pbx.port}\nsecret = "s3cret"\n'
            f'agent_context = "deliver-{name}"\nqueue_context = "inbound-{name}"\n'
            f'dial_context = "pstn-{name}"\n'
            for name, pbx in (("a", one), ("b", two))
        )
        async with running_daemon(db_url, servers) as daemon:
            hub, server = daemon.hub, daemon.server
            assert hub is not None and server is not None
            await eventually(lambda: AgentId("Alice") in hub.seats, timeout(5), what="Alice's seat on b")
            ws = await connect(f"ws://127.0.0.1:{server.port}/ws")
            await ws.send(json.dumps({"type": "login", "username": "alice", "password": "demo"}))
            await recv(ws)
            await ws.send(json.dumps({"type": "dial", "number": "5551234", "ref": "d1"}))
            reply = await recv_until(ws, lambda m: m.get("ref") == "d1")
            await ws.close()
        assert reply["type"] == "result", reply
        (originate,) = [m for _, m in two.actions if m.get("Action") == "Originate"]
        assert originate.get("Context") == "pstn-b" and originate.get("Exten") == "5551234"
        assert not [m for _, m in one.actions if m.get("Action") == "Originate"]
        assert daemon.desk is not None
        assert daemon.desk.contexts_of("b") == Contexts(agent="deliver-b", queue="inbound-b", dial="pstn-b")
        assert daemon.desk.contexts_of("a") == Contexts(agent="deliver-a", queue="inbound-a", dial="pstn-a")


async def test_health_is_degraded_as_soon_as_a_call_record_write_fails(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    async with running_daemon(url) as daemon:
        store, writer = daemon.store, daemon.writer
        assert isinstance(store, Store) and writer is not None
        assert daemon.health()["store"]["ok"]
        async with store.engine.begin() as conn:  # the store breaks under the daemon
            await conn.exec_driver_sql("ALTER TABLE interactions RENAME TO interactions_away")
        daemon.publish(inbound_call("1763800099.1", at=time.time()))
        await eventually(lambda: writer.errors >= 1, 10, "a failed write")
        report = daemon.health()
        assert report["status"] == "degraded" and not report["store"]["ok"]
        assert report["store"]["pending"] == 1 and report["store"]["last_error"]
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql("ALTER TABLE interactions_away RENAME TO interactions")
        await eventually(lambda: writer.pending == 0, 40, "the record written after all")
        assert daemon.health()["store"]["ok"]
