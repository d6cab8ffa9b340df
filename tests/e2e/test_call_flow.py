"""End to end: the simulated Asterisk, the daemon, and real websocket clients.

A simulated caller (a customer in the store, with a hostile name) calls `sales`; only Frank's seat is
ready, so his phone rings. Frank's console gets the screen pop with the stored customer BEFORE the
answer; he hangs up from the console, saves a disposition, and the finished journey is in the store.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from cti.core.ids import AgentId
from cti.sim.scenario import load_scenario
from cti.sim.server import SimServer
from cti.store import Store
from tests.conftest import ROOT
from tests.e2e.running import HOSTILE, HOSTILE_NUMBER, running_daemon, seed_accounts
from tests.screenpop.console import recv, recv_until
from tests.waiting import eventually


async def login(port: int, user: str) -> ClientConnection:
    ws = await connect(f"ws://127.0.0.1:{port}/ws", max_queue=None)  # a test reads only what it checks
    await ws.send(json.dumps({"type": "login", "username": user, "password": "demo"}))
    assert (await recv(ws))["type"] == "welcome"
    assert (await recv(ws))["type"] == "snapshot"
    return ws


async def command(
    ws: ClientConnection, ref: str, seen: list[dict[str, Any]] | None = None, **cmd: object
) -> dict[str, Any]:
    """Send a command and wait for its reply; what arrives meanwhile is appended to ``seen``."""
    await ws.send(json.dumps({"ref": ref, **cmd}))

    def is_reply(m: dict[str, Any]) -> bool:
        if m.get("ref") == ref:
            return True
        if seen is not None:
            seen.append(m)
        return False

    reply = await recv_until(ws, is_reply, 10)
    assert reply["type"] == "result", reply
    return reply


async def test_a_simulated_call_pops_the_customer_before_the_answer_and_ends_in_the_store(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    sim = SimServer(load_scenario(ROOT / "config" / "sim" / "demo.toml"), speed=1.0, seed=3, traffic=False)
    port = await sim.start("127.0.0.1", 0)
    try:
        extra = (
            f'[[asterisk]]\nname = "sim"\nport = {port}\nusername = "cti"\nsecret = "ctisecret"\n'
            "ping_interval = 1.0\ndead_after = 5.0\n"
        )
        async with running_daemon(url, extra) as daemon:
            assert daemon.server is not None and daemon.hub is not None
            hub = daemon.hub
            await eventually(lambda: "Frank" in hub.seats and "Alice" in hub.seats, 10, "the resync")
            sup = await login(daemon.server.port, "super")
            frank = await login(daemon.server.port, "frank")
            for i, other in enumerate(("Alice", "Bob", "Carol")):
                await command(sup, f"p{i}", type="pause", agent=other, reason="meeting")
            await command(frank, "ready", type="ready")
            await eventually(
                lambda: hub.seats[AgentId("Frank")].state.value == "available", 10, "Frank available"
            )

            sim.place_call(HOSTILE_NUMBER.lstrip("+"), HOSTILE, "sales", patience=120)
            pop = await recv_until(frank, lambda m: m["type"] in ("screenpop", "call"), 15)
            assert pop["type"] == "screenpop", f"the first message about the call must be the pop: {pop}"
            popped_at = time.monotonic()
            assert pop["agent"] == "Frank" and pop["call"]["queue"] == "sales"
            assert pop["caller"]["name"] == HOSTILE and pop["caller"]["normalized"] == HOSTILE_NUMBER
            assert pop["lookup"] == "found" and [c["name"] for c in pop["customers"]] == [HOSTILE]
            lid = pop["call"]["linkedid"]
            answered = await recv_until(frank, lambda m: m["type"] == "call" and m["event"] == "answered", 15)
            assert answered["linkedid"] == lid and answered["seq"] > pop["seq"]
            assert time.monotonic() - popped_at > 0.5  # the pop came while his phone rang (2 s)

            meanwhile: list[dict[str, Any]] = []
            await command(frank, "hangup", meanwhile, type="hangup", linkedid=lid)

            def is_end(m: dict[str, Any]) -> bool:
                return bool(m.get("event") == "ended" and m["linkedid"] == lid)

            ended = next((m for m in meanwhile if is_end(m)), None) or await recv_until(frank, is_end, 15)
            assert ended["journey"]["agents"] == ["Frank"]
            await command(
                frank, "disp", type="disposition", linkedid=lid, disposition="sale", notes="两个 units"
            )
            writer = daemon.writer
            assert writer is not None
            await eventually(lambda: writer.rows >= 1, 10, "the journey written")
            for ws in (sup, frank):
                await ws.close()
    finally:
        await sim.stop()
    store = await Store.open(url)
    try:
        journeys = await store.journeys(time.time() - 3600, time.time() + 3600)
        (journey,) = [j for j in journeys if j.linkedid == lid]
        assert journey.queue_legs[0].queue == "sales" and journey.queue_legs[0].agent == "Frank"
        assert journey.outcome is not None and journey.outcome.value == "answered"
        (interaction,) = (await store.lookup_caller(HOSTILE_NUMBER)).customers[0].interactions
        assert (interaction.linkedid, interaction.disposition, interaction.notes) == (
            lid,
            "sale",
            "两个 units",
        )
    finally:
        await store.close()
