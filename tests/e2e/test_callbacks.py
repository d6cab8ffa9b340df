"""End to end, callbacks: ``cti sim`` (the sample dialplan) and the daemon over real sockets.

A waiting caller presses 1: its place goes on as a virtual entry; when an agent is free the router
reserves it, cti dials the customer (customer first), the customer answers and rings the reserved agent,
and the outcome is stored. An agent's scheduled callback becomes due and is delivered. A callback from
the HTTP API to a busy number is retried and fails after its attempts.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection

from cti.app import Daemon
from cti.routing.callbacks import virtual_id
from cti.sim.scenario import load_scenario
from cti.sim.server import SimServer
from cti.store import Store
from tests.api.client import post
from tests.conftest import ROOT
from tests.e2e.running import running_daemon
from tests.e2e.test_cti_routing import ALICE, login, routing_config, seed
from tests.screenpop.console import recv_until
from tests.waiting import eventually

CALLBACKS = (
    '[routing.callbacks]\nchannel = "Local/{number}@pstn/n"\nattempts = 2\nspacing = 1\n'
    "ring_timeout = 10\npoll_interval = 0.2\n"
)
OTHERS = ("Bob", "Carol", "Dave", "Erin", "Frank")


@asynccontextmanager
async def center(
    tmp_path: Path, *, api: bool = False, sales: str = "", agi: bool = False
) -> AsyncIterator[tuple[Daemon, SimServer, str]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed(url)
    sim = SimServer(load_scenario(ROOT / "config" / "sim" / "demo.toml"), speed=1.0, seed=5, traffic=False)
    port = await sim.start("127.0.0.1", 0)
    extra = routing_config(port, tmp_path / "qlog") + CALLBACKS
    extra = extra.replace("wrapup_seconds = 3\n", "wrapup_seconds = 3\n" + sales)  # [routing.queues.sales]
    if api:
        extra += "[api]\nenabled = true\nport = 0\n"
    if agi:  # the holding extension's periodic announcement asks cti over FastAGI
        extra += "[agi]\nenabled = true\nport = 0\ndeadline = 0.5\n"
    try:
        async with running_daemon(url, extra) as daemon:
            assert daemon.routing is not None
            if agi:
                assert daemon.agi is not None
                sim.agi_target = f"127.0.0.1:{daemon.agi.port}"
            router = daemon.routing.router
            await eventually(lambda: router.has_agent(ALICE) and router.state(ALICE).value == "available", 10)
            yield daemon, sim, url
    finally:
        await sim.stop()


async def command(ws: ClientConnection, ref: str, **fields: Any) -> dict[str, Any]:
    await ws.send(json.dumps({"ref": ref, **fields}))
    return await recv_until(ws, lambda m: m.get("ref") == ref, 10)


async def pause(sup: ClientConnection, *agents: str) -> None:
    for agent in agents:
        reply = await command(sup, f"p-{agent}", type="pause", agent=agent, reason="meeting")
        assert reply["type"] == "result", reply


async def stored(url: str, callback_id: int) -> Any:
    store = await Store.open(url)
    try:
        return await store.callbacks.get(callback_id)
    finally:
        await store.close()


async def test_a_key_press_keeps_the_place_the_agent_is_reserved_the_customer_dialled_the_outcome_stored(
    tmp_path: Path,
) -> None:
    async with center(tmp_path) as (daemon, sim, url):
        assert daemon.server is not None and daemon.routing is not None
        router = daemon.routing.router
        sup = await login(daemon.server.port, "super")
        await pause(sup, "Alice", *OTHERS)
        await eventually(lambda: router.state(ALICE).value == "paused", 10, "Alice paused")
        sim.place_call("12125550100", "Ana Lima", "hold", patience=120, variables={"CALLBACK_AFTER": "2"})
        await eventually(lambda: router.waiting_count == 1, 10, "the caller waiting")
        (waiting,) = router.waiting(daemon.routing.now())
        entered = daemon.routing.now() - waiting.waited
        # the caller presses 1 and hangs up: a virtual entry with the caller's place, stored
        await eventually(lambda: router.call(virtual_id(1)) is not None, 15, "the virtual entry")
        virtual = router.call(virtual_id(1))
        assert virtual is not None and abs(virtual.entered - entered) < 0.5
        await eventually(
            lambda: daemon.routing is not None and not daemon.routing._held, 10, "the caller gone"
        )
        assert router.call(waiting.call) is None and router.call(virtual_id(1)) is not None
        assert daemon.routing.stats.abandoned == 0  # a callback is not an abandoned call
        row = await stored(url, 1)
        assert row is not None and (row.e164, row.source, row.status) == ("+12125550100", "key", "queued")
        board = daemon.routing.board_payload()["waiting"]
        assert [(w["call"], w["number"]) for w in board] == [(virtual_id(1), "+12125550100")]
        # Alice becomes free: she is reserved, cti dials the customer, who answers and rings her
        alice = await login(daemon.server.port, "alice")
        assert (await command(sup, "r", type="ready", agent="Alice"))["type"] == "result"
        pop = await recv_until(alice, lambda m: m["type"] == "screenpop", 20)
        assert pop["agent"] == "Alice" and pop["caller"]["number"] in ("12125550100", "+12125550100")
        await recv_until(alice, lambda m: m["type"] == "call" and m["event"] == "answered", 15)
        callbacks = daemon.callbacks
        assert callbacks is not None and callbacks.stats.attempts == 1 and callbacks.stats.reached == 1
        await eventually(lambda: router.call(virtual_id(1)) is None, 5, "the virtual entry served")
        for ws in (sup, alice):
            await ws.close()
        await eventually(lambda: daemon.routing is not None and daemon.routing.stats.served == 1, 5, "served")
    store = await Store.open(url)
    try:  # the caller's visit is stored exit-with-key (reports do not count it abandoned)
        journeys = await store.calls.journeys(time.time() - 3600, time.time() + 3600)
    finally:
        await store.close()
    (caller,) = [
        j for j in journeys if j.queue_legs and j.queue_legs[0].uniqueid == waiting.call.split("/")[1]
    ]
    assert [(leg.queue, leg.outcome.value if leg.outcome else None) for leg in caller.queue_legs] == [
        ("sales", "exit-with-key")
    ]
    row = await stored(url, 1)
    assert row is not None and (row.status, row.outcome, row.attempts) == ("done", "answered", 1)
    assert [(a["agent"], a["outcome"]) for a in row.attempts_log] == [("Alice", "answered")]
    lines = [line.split("|") for line in (tmp_path / "qlog").read_text().splitlines()]
    assert [f[4] for f in lines][:4] == ["ENTERQUEUE", "EXITWITHKEY", "ENTERQUEUE", "CONNECT"], lines
    assert lines[1][5:7] == ["1", "1"]  # the key and the position


async def test_a_long_wait_at_entry_offers_the_callback_and_the_caller_takes_it(tmp_path: Path) -> None:
    async with center(tmp_path, sales="offer_callback_above = 60\n") as (daemon, sim, url):
        assert daemon.server is not None and daemon.routing is not None
        router = daemon.routing.router
        sup = await login(daemon.server.port, "super")
        await pause(sup, "Alice", *OTHERS)
        await eventually(lambda: router.state(ALICE).value == "paused", 10, "Alice paused")
        # nobody serves sales: the wait is unknown, the longest of all; the caller presses 1 only when
        # offered (CALLBACK_IF_OFFERED), so the callback below proves the holding extension offered it
        sim.place_call(
            "12125550100", "Ana Lima", "hold", patience=120, variables={"CALLBACK_IF_OFFERED": "1"}
        )
        await eventually(lambda: router.waiting_count == 1, 10, "the caller waiting")
        (waiting,) = router.waiting(daemon.routing.now())
        entered = daemon.routing.now() - waiting.waited
        assert daemon.routing.stats.callback_offers == 1
        await eventually(lambda: router.call(virtual_id(1)) is not None, 15, "the virtual entry")
        virtual = router.call(virtual_id(1))
        assert virtual is not None and abs(virtual.entered - entered) < 0.5  # its place kept
        row = await stored(url, 1)
        assert row is not None and (row.e164, row.source) == ("+12125550100", "key")
        await sup.close()


async def test_the_periodic_announcement_asks_cti_again_and_the_offer_is_repeated(tmp_path: Path) -> None:
    every = "offer_callback_above = 60\nannounce_every = 2\noffer_callback_every = 4\n"
    async with center(tmp_path, sales=every, agi=True) as (daemon, sim, url):
        assert daemon.server is not None and daemon.routing is not None and daemon.agi is not None
        router = daemon.routing.router
        sup = await login(daemon.server.port, "super")
        await pause(sup, "Alice", *OTHERS)
        await eventually(lambda: router.state(ALICE).value == "paused", 10, "Alice paused")
        # nobody serves sales: the wait is the longest of all. The caller lets the first offer (at
        # entry, cti's Redirect) go by and takes the second, which only the announcement can bring
        leg = sim.place_call(
            "12125550100",
            "Ana Lima",
            "hold",
            patience=120,
            variables={"CTI_ANNOUNCE_EVERY": "2", "CALLBACK_IF_OFFERED": "1", "CALLBACK_AT_OFFER": "2"},
        )
        assert leg is not None
        await eventually(lambda: router.waiting_count == 1, 10, "the caller waiting")
        (waiting,) = router.waiting(daemon.routing.now())
        entered = daemon.routing.now() - waiting.waited
        await eventually(lambda: leg.ch.variable("CALLBACK_OFFERED") == "1", 10, "the offer at entry")
        assert daemon.routing.stats.callback_offers == 1
        await eventually(lambda: router.call(virtual_id(1)) is not None, 30, "the virtual entry")
        # the announcement asked over FastAGI (WaitExten's t: AGI(.../announce)) and was told to offer
        assert daemon.agi.app is not None and daemon.agi.app.served >= 1
        assert int(leg.ch.variable("CTI_ANNOUNCEMENTS") or "0") >= 1
        assert leg.ch.variable("CTI_OFFER_CALLBACK") == "1" and leg.ch.variable("CTI_EWT") == ""
        assert leg.ch.variable("CALLBACK_OFFERED") == "2"
        assert daemon.routing.stats.callback_offers == 2
        virtual = router.call(virtual_id(1))
        assert virtual is not None and abs(virtual.entered - entered) < 0.5  # its place kept
        row = await stored(url, 1)
        assert row is not None and (row.e164, row.source) == ("+12125550100", "key")
        await sup.close()


async def test_an_announcement_within_offer_callback_every_does_not_offer_again(tmp_path: Path) -> None:
    every = "offer_callback_above = 60\nannounce_every = 1\noffer_callback_every = 600\n"
    async with center(tmp_path, sales=every, agi=True) as (daemon, sim, _url):
        assert daemon.server is not None and daemon.routing is not None and daemon.agi is not None
        router = daemon.routing.router
        sup = await login(daemon.server.port, "super")
        await pause(sup, "Alice", *OTHERS)
        await eventually(lambda: router.state(ALICE).value == "paused", 10, "Alice paused")
        leg = sim.place_call(
            "12125550100", "Ana Lima", "hold", patience=60, variables={"CTI_ANNOUNCE_EVERY": "1"}
        )
        assert leg is not None
        await eventually(lambda: int(leg.ch.variable("CTI_ANNOUNCEMENTS") or "0") >= 3, 20, "announcements")
        assert leg.ch.variable("CALLBACK_OFFERED") == "1"  # the entry's offer only
        assert leg.ch.variable("CTI_OFFER_CALLBACK") == "" and daemon.routing.stats.callback_offers == 1
        await sup.close()


async def test_an_agents_scheduled_callback_becomes_due_and_is_delivered_to_that_agent(
    tmp_path: Path,
) -> None:
    async with center(tmp_path) as (daemon, _sim, url):
        assert daemon.server is not None and daemon.routing is not None
        router = daemon.routing.router
        sup = await login(daemon.server.port, "super")
        await pause(sup, *OTHERS)
        alice = await login(daemon.server.port, "alice")
        due = time.time() + 3
        reply = await command(
            alice, "cb", type="schedule_callback", number="+1 (212) 555-0110", at=due, note="quote"
        )
        assert reply["type"] == "result", reply
        cb = reply["callback"]
        assert (cb["number"], cb["agent"], cb["status"], cb["source"]) == (
            "+12125550110",
            "Alice",
            "scheduled",
            "agent",
        )
        listed = await command(alice, "l", type="callbacks")
        assert [c["id"] for c in listed["callbacks"]] == [cb["id"]]
        assert router.call(virtual_id(cb["id"])) is None  # not before it is due
        # due: it enters the router, Alice (the one it is for) is reserved, the customer dialled
        pop = await recv_until(alice, lambda m: m["type"] == "screenpop", 20)
        assert time.time() >= due and pop["agent"] == "Alice"
        assert pop["caller"]["number"] in ("12125550110", "+12125550110")
        await recv_until(alice, lambda m: m["type"] == "call" and m["event"] == "answered", 15)
        callbacks = daemon.callbacks
        assert callbacks is not None
        await eventually(lambda: callbacks.stats.reached == 1, 5, "the attempt recorded")
        await eventually(lambda: not callbacks._tasks, 5, "the attempt stored")
        assert (await command(alice, "l2", type="callbacks"))["callbacks"] == []  # done: not open any more
        for ws in (sup, alice):
            await ws.close()
    row = await stored(url, cb["id"])
    assert row is not None and (row.status, row.outcome) == ("done", "answered")


async def test_an_api_callback_to_a_busy_number_is_retried_then_fails_with_each_outcome_stored(
    tmp_path: Path,
) -> None:
    async with center(tmp_path, api=True) as (daemon, sim, url):
        assert daemon.server is not None and daemon.routing is not None and daemon.api is not None
        sup = await login(daemon.server.port, "super")
        await pause(sup, *OTHERS)
        status, body = await post(daemon.api.port, "/api/v1/login", {"username": "super", "password": "demo"})
        token = body["token"]
        # ...1: the simulated network answers busy
        status, body = await post(
            daemon.api.port, "/api/v1/callbacks", {"number": "+1 212 555 0101", "queue": "sales"}, token
        )
        assert status == 201, body
        cb_id = body["callback"]["id"]
        callbacks = daemon.callbacks
        assert callbacks is not None
        await eventually(lambda: callbacks.stats.failed == 1, 30, "both attempts")
        await eventually(lambda: not callbacks._tasks, 5, "the attempts stored")
        assert callbacks.stats.attempts == 2 and callbacks.stats.reached == 0
        assert daemon.routing.router.call(virtual_id(cb_id)) is None
        assert daemon.routing.router.state(ALICE).value == "available"  # released after each attempt
        # click-to-call from the CRM for Alice: the desk Originates her seat (as the console's dial does)
        status, body = await post(
            daemon.api.port, "/api/v1/calls", {"number": "+1 (212) 555-0100", "agent": "Alice"}, token
        )
        assert status == 202 and body["agent"] == "Alice" and body["number"] == "+12125550100", body
        seat = sim.pbx.channels.by_uniqueid.get(body["channel_id"])
        assert seat is not None and seat.name.startswith("Local/1001@agents")  # Alice's phone rings
        await sup.close()
    row = await stored(url, cb_id)
    assert row is not None and (row.status, row.attempts) == ("failed", 2)
    assert [a["outcome"] for a in row.attempts_log] == ["busy", "busy"]
    assert {a["agent"] for a in row.attempts_log} == {"Alice"}
