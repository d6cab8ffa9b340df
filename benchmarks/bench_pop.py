"""Screen pop latency with many agents connected to one process.

From the moment the AMI ``AgentCalled`` bytes reach the daemon (decoder -> call tracker -> bus -> hub ->
the agent's websocket) to the moment that agent's client has the ``screenpop`` message parsed, with N
agent consoles (default 1,000) and a few supervisor consoles (default 10, each receiving every message)
logged in over real websockets on loopback, all in this one process.

Baseline, measured in the same run and the same process: a bare websockets echo round trip (client ->
server -> client, no cti code) over one of the same kind of connections. The ratio ``pop_p50 /
echo_p50`` says what the cti path costs on top of the transport, independent of how loaded the shared
machine is. Usage: ``python -m benchmarks pop [--quick] [--agents N] [--pops N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

from cti.asterisk.ami import AmiDecoder
from cti.asterisk.calls import CallTracker
from cti.core.ids import AgentId
from cti.screenpop.actions import Desk
from cti.screenpop.directory import CallerDirectory
from cti.screenpop.hub import Hub
from cti.screenpop.live import LiveBoard
from cti.screenpop.server import ConsoleServer, Limits
from cti.screenpop.tokens import TokenSigner


@dataclass
class _Account:
    username: str
    role: str
    member_name: str | None


class _BenchStore:
    """Accounts for N agents; a caller lookup that answers like a warm cache (the store is not measured)."""

    async def authenticate(self, username: str, password: str) -> _Account | None:
        if username.startswith("sup"):
            return _Account(username, "supervisor", None)
        return _Account(username, "agent", username.capitalize())

    async def lookup_caller(self, number: str) -> Any:
        class _L:
            def to_json(self) -> dict[str, Any]:
                return {"normalized": number, "customers": [{"id": 1, "name": "Jane Roe", "tier": "A"}]}

        return _L()

    async def save_disposition(self, *args: Any, **kwargs: Any) -> None:
        return None


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


class _Injector:
    """How the ring reaches the hub: AMI bytes through the real codec and call tracker, as the pump does."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.mode = "ami-bytes"
        self._tracker = CallTracker("pbx1")
        self._decoder = AmiDecoder(expect_banner=False)

    def ring(self, agent: str, lid: str) -> None:
        for msg in self._decoder.receive_data(_ami_call(agent, lid)):
            self.hub.on_events(self._tracker.feed(msg, time.time()))


def _ami_call(agent: str, lid: str) -> bytes:
    """The AMI events of a caller joining `sales` and app_queue ringing `agent` (as Asterisk sends them)."""
    ts = f"{time.time():.6f}"
    caller = f"Local/4155550101@callers-{lid};2"
    common = (
        f"Channel: {caller}\r\nChannelState: 6\r\nChannelStateDesc: Up\r\nCallerIDNum: 4155550101\r\n"
        f"CallerIDName: Jane Roe\r\nConnectedLineNum: <unknown>\r\nConnectedLineName: <unknown>\r\n"
        f"Language: en\r\nAccountCode: \r\nContext: inbound\r\nExten: sales\r\nPriority: 2\r\n"
        f"Uniqueid: {lid}\r\nLinkedid: {lid}\r\n"
    )
    member = f"Local/{agent}@agents-{lid};1"
    dest = (
        f"DestChannel: {member}\r\nDestChannelState: 0\r\nDestChannelStateDesc: Down\r\n"
        f"DestCallerIDNum: {agent}\r\nDestCallerIDName: <unknown>\r\nDestConnectedLineNum: 4155550101\r\n"
        f"DestConnectedLineName: Jane Roe\r\nDestLanguage: en\r\nDestAccountCode: \r\nDestContext: agents\r\n"
        f"DestExten: {agent}\r\nDestPriority: 1\r\nDestUniqueid: {lid}9\r\nDestLinkedid: {lid}\r\n"
    )
    return (
        f"Event: Newchannel\r\nPrivilege: call,all\r\nTimestamp: {ts}\r\n{common}\r\n"
        f"Event: QueueCallerJoin\r\nPrivilege: agent,all\r\nTimestamp: {ts}\r\n{common}Queue: sales\r\n"
        f"Position: 1\r\nCount: 1\r\n\r\n"
        f"Event: AgentCalled\r\nPrivilege: agent,all\r\nTimestamp: {ts}\r\n{common}{dest}Queue: sales\r\n"
        f"Interface: Local/{agent}@agents/n\r\nMemberName: {agent}\r\n\r\n"
    ).encode()


async def _echo_baseline(samples: int) -> list[float]:
    async def echo(ws: ServerConnection) -> None:
        async for msg in ws:
            await ws.send(msg)

    async with serve(echo, "127.0.0.1", 0, compression=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            out = []
            payload = json.dumps({"type": "screenpop", "pad": "x" * 600})
            for _ in range(samples):
                t0 = time.perf_counter()
                await ws.send(payload)
                await ws.recv()
                out.append((time.perf_counter() - t0) * 1000)
                await asyncio.sleep(0.002)
            return out


async def _supervisor(url: str, counter: list[int]) -> None:
    """A supervisor console: it receives every message (pops, call updates, queue rows) and reads them."""
    async with connect(url, compression=None, max_queue=None) as ws:
        await ws.send(json.dumps({"type": "login", "username": f"sup{len(counter)}", "password": "x"}))
        async for raw in ws:
            json.loads(raw)
            counter[0] += 1


async def _run(agents: int, pops: int, rate: float, supervisors: int = 10) -> dict[str, Any]:
    store = _BenchStore()
    directory = CallerDirectory(store)
    hub = Hub(board=LiveBoard(lambda q: 20.0), directory=directory)
    desk = Desk(hub, lambda s: None, _NoChannels(), store)
    server = ConsoleServer(
        hub,
        desk,
        store,
        TokenSigner(b"b" * 32, 3600),
        port=0,
        limits=Limits(failed_login_delay=0, client_buffer=1000),
    )
    await server.start()
    url = f"ws://127.0.0.1:{server.port}/ws"
    sent: dict[str, float] = {}
    latencies: list[float] = []
    done = asyncio.Event()
    injector = _Injector(hub)

    async def agent_client(i: int, ready: asyncio.Event, connected: list[int]) -> None:
        ws: ClientConnection = await connect(url, compression=None, max_queue=None)
        await ws.send(json.dumps({"type": "login", "username": f"a{i}", "password": "x"}))
        connected.append(i)
        if len(connected) == agents:
            ready.set()
        async for raw in ws:
            msg = json.loads(raw)
            if msg.get("type") == "screenpop":
                t1 = time.perf_counter()
                latencies.append((t1 - sent.pop(msg["call"]["linkedid"])) * 1000)
                if len(latencies) == pops:
                    done.set()

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(directory.run())]
        ready = asyncio.Event()
        connected: list[int] = []
        t_conn = time.perf_counter()
        for i in range(agents):
            tasks.append(tg.create_task(agent_client(i, ready, connected)))
            if i % 50 == 49:
                await asyncio.sleep(0.01)
        seen_by_supervisors = [0]
        for _ in range(supervisors):
            tasks.append(tg.create_task(_supervisor(url, seen_by_supervisors)))
        await ready.wait()
        while hub.client_count < agents + supervisors:  # noqa: ASYNC110 - plain state of the hub
            await asyncio.sleep(0.01)
        connect_seconds = time.perf_counter() - t_conn
        # warm the caller cache once, as a busy day does; the store is not what is measured here
        sent["warm"] = time.perf_counter()
        injector.ring("A0", "warm")
        while "warm" in sent:  # noqa: ASYNC110 - set by a client task
            await asyncio.sleep(0.01)
        latencies.clear()
        rng = random.Random(7)
        for n in range(pops):
            agent = f"A{rng.randrange(agents)}"
            lid = f"{1_700_000_000 + n}.{n}"
            sent[lid] = time.perf_counter()
            injector.ring(agent, lid)
            await asyncio.sleep(rng.expovariate(rate))
        async with asyncio.timeout(30):
            await done.wait()
        echo = await _echo_baseline(min(pops, 300))
        for t in tasks:
            t.cancel()
        await server.close()
    p50, p99 = _percentile(latencies, 0.50), _percentile(latencies, 0.99)
    e50 = _percentile(echo, 0.50)
    return {
        "benchmark": "pop",
        "path": injector.mode,
        "agents": agents,
        "supervisors": supervisors,
        "supervisor_messages": seen_by_supervisors[0],
        "pops": len(latencies),
        "rate_per_second": rate,
        "connect_seconds": round(connect_seconds, 2),
        "pop_ms": {
            "p50": round(p50, 3),
            "p90": round(_percentile(latencies, 0.9), 3),
            "p99": round(p99, 3),
            "max": round(max(latencies), 3),
            "mean": round(statistics.fmean(latencies), 3),
        },
        "echo_ms": {"p50": round(e50, 3), "p99": round(_percentile(echo, 0.99), 3)},
        "ratio_pop_p50_to_echo_p50": round(p50 / e50, 2) if e50 else None,
        "goal_p99_ms": 50,
        "goal_met": p99 < 50,
    }


class _NoChannels:
    async def agent_channel(self, server: str, linkedid: str, agent: AgentId) -> str | None:
        return None

    async def caller_channel(self, server: str, linkedid: str) -> str | None:
        return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks pop")
    parser.add_argument("--quick", action="store_true", help="20 agents, 30 pops: a smoke run")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--pops", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0, help="pops per second (Poisson)")
    parser.add_argument(
        "--supervisors", type=int, default=10, help="supervisor consoles receiving everything"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.agents, args.pops, args.supervisors = 20, 30, 2
    result = asyncio.run(_run(args.agents, args.pops, args.rate, args.supervisors))
    print(json.dumps(result, indent=2))
    return 0
