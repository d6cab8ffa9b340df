"""The server's clock, control API and its protection against clients that stop reading."""

from __future__ import annotations

import asyncio
import socket
import time

from cti.sim.scenario import transcript_pbx
from cti.sim.server import SimServer
from tests.conftest import timeout
from tests.sim.conftest import START, RawClient


async def test_virtual_time_runs_at_the_speed_factor() -> None:
    sim = SimServer(transcript_pbx(), speed=20.0, seed=1, start=START)
    await sim.start("127.0.0.1", 0)
    client = await RawClient.connect(sim.port)
    try:
        await client.login()
        t0 = time.monotonic()
        sim.place_call("13800138000", "张伟", "sales", patience=60, talk=2)
        await client.event("AgentConnect")  # the phone rings 1 virtual second = 50 ms
        await client.event("AgentComplete")  # 0.5 s answer delay + 2 s talk = 125 ms more
        elapsed = time.monotonic() - t0
        assert 0.15 <= elapsed < timeout(3.0)
        assert 3.0 <= sim.now - START < 3.0 + elapsed * 20 + 1
    finally:
        client.close()
        await sim.stop()


async def test_control_api_places_and_hangs_up_calls(sim: SimServer, client: RawClient) -> None:
    await client.login()
    leg = sim.place_call("4155550100", "ACME", "hold", patience=600)
    assert leg is not None
    waiting = await client.event("UserEvent", UserEvent="CtiWaiting")
    assert waiting["Channel"] == leg.ch.name
    assert sim.hangup(leg.ch.name)
    hangup = await client.event("Hangup", Channel=leg.ch.name)
    assert hangup["Cause"] == "16"
    assert not sim.hangup("Local/nothing-00000000;1")


async def test_a_client_that_stops_reading_is_dropped_and_others_carry_on() -> None:
    sim = SimServer(transcript_pbx(), speed=1e-9, seed=1, start=START, max_backlog=20_000)
    await sim.start("127.0.0.1", 0)
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a client that reads nothing, fills fast
        sock.connect(("127.0.0.1", sim.port))
        sock.setblocking(False)
        _r, w = await asyncio.open_connection(sock=sock, limit=1024)
        w.write(b"Action: Login\r\nUsername: cti\r\nSecret: ctisecret\r\n\r\n")
        await w.drain()
        await asyncio.sleep(0.05)
        good = await RawClient.connect(sim.port)
        await good.login()
        reader = asyncio.create_task(good.closed(wait=30))
        for n in range(3000):  # a flood of events the silent client never reads
            if len(sim.sessions) == 1:
                break
            sim.place_call(f"55{n:06d}", "x" * 500, "sales", patience=1, talk=1)
            sim.advance(0.01)
            if n % 20 == 0:
                await asyncio.sleep(0)
        await asyncio.sleep(0.2)
        assert len(sim.sessions) == 1
        assert any("slow reader" in p for p in sim.problems)
        sim.problems.clear()
        good.close()
        reader.cancel()
        w.close()
    finally:
        await sim.stop()


async def _session_bytes(seed: int) -> bytes:
    from cti.sim.scenario import load_scenario
    from tests.conftest import ROOT

    sim = SimServer(load_scenario(ROOT / "config/sim/demo.toml"), speed=1e-9, seed=seed, start=START)
    await sim.start("127.0.0.1", 0)
    client = await RawClient.connect(sim.port)
    try:
        await client.login(events="call,agent")
        for _ in range(600):
            sim.advance(1)
            await asyncio.sleep(0)
        await client.send(Action="Logoff", ActionID="bye")
        await client.closed()
    finally:
        await sim.stop()
    return bytes(client.raw)


async def test_same_seed_gives_the_same_bytes_to_a_client() -> None:
    first, again, other = await _session_bytes(11), await _session_bytes(11), await _session_bytes(12)
    assert first == again
    assert first != other
    assert first.count(b"Event: AgentConnect") > 3
