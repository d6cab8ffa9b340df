"""Screen pop latency with many agents connected to one process.

From the moment the AMI ``AgentCalled`` bytes reach the daemon (decoder -> call tracker -> bus -> hub ->
the agent's websocket) to the moment that agent's client has the ``screenpop`` message parsed, with N
agent consoles (default 1,000) and a few supervisor consoles (default 10, each receiving every message)
logged in over real websockets on loopback, all in this one process.

Baseline, measured in the same run and the same process: a bare websockets echo round trip (client ->
server -> client, no cti code) over one of the same kind of connections. The ratio ``pop_p50 /
echo_p50`` says what the cti path costs on top of the transport, independent of how loaded the shared
machine is.

Then, on a fresh server each time (``storm`` and ``attacks`` in the output):

- **resume storm**: ``--storm`` agents (500) reconnect at once with ``resume`` against a resume log of
  ``--log`` messages (200,000): the longest event-loop stall while they do (a 5 ms ticker's worst lateness;
  goal: none over 50 ms; baseline: the same ticker on the idle loop, in the same run), and how long until
  every agent had its missed messages;
- **attacks**: a probe agent takes a pop every 20 ms while one attack runs (nested JSON, a lone
  surrogate, oversized frames, 1,000 messages a second from one client, 500 idle connections, a client
  that never reads, 100 concurrent failed logins against real scrypt hashes); per attack: the probe's pop
  latency (p50, p99, max), the longest loop stall, and the close codes the attackers got. Baseline: the
  probe with no attack, in the same run.

Each phase also reports the garbage collector's longest pause (``gc_pause_max_ms``, CPU time, from
``gc.callbacks``), its generation and the full passes run; each server's collector is settled as
``cti run`` does (``cti.gctune.settle``). With everyone connected, the first phase counts the tracked
objects and times one forced full pass (``gc_full_pass_ms``): what a full pass costs when one runs.
Figures: docs/design/gc.md.

Usage: ``python -m benchmarks pop [--quick] [--agents N] [--pops N] [--storm N] [--log N]``. The last
output line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from cti import gctune
from cti.asterisk.ami import AmiDecoder
from cti.asterisk.calls import CallTracker
from cti.core.ids import AgentId
from cti.screenpop.actions import Desk
from cti.screenpop.directory import CallerDirectory
from cti.screenpop.hub import Hub
from cti.screenpop.live import LiveBoard
from cti.screenpop.server import ConsoleServer, Limits
from cti.screenpop.tokens import TokenSigner
from cti.store.accounts import OWASP_COST, hash_password, verify_password


@dataclass
class _Account:
    username: str
    role: str
    member_name: str | None


class _BenchStore:
    """Accounts for N agents; a caller lookup that answers like a warm cache (the store is not measured).
    With ``password_hash``, a wrong password ("guess") costs a real scrypt check in a worker thread."""

    password_hash = ""

    async def authenticate(self, username: str, password: str) -> _Account | None:
        if self.password_hash:
            await asyncio.to_thread(verify_password, password, self.password_hash)
        if password == "guess":
            return None
        if username.startswith("sup"):
            return _Account(username, "supervisor", None)
        return _Account(username, "agent", username.capitalize())

    async def active(self, usernames: Collection[str]) -> set[str]:
        return set(usernames)

    async def lookup_caller(self, number: str) -> Any:
        class _L:
            def to_json(self) -> dict[str, Any]:
                return {"normalized": number, "customers": [{"id": 1, "name": "Jane Roe", "tier": "A"}]}

        return _L()

    async def save_disposition(self, *args: Any, **kwargs: Any) -> None:
        return None


async def _start(server: ConsoleServer) -> None:
    """Starts the server and settles the garbage collector as ``cti run`` does once the daemon is up
    (``cti.gctune.settle``: what is alive is frozen, the thresholds set)."""
    await server.start()
    gctune.settle()


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
    await _start(server)
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
        # what a full pass of the garbage collector costs with everyone connected, whenever one runs
        tracked = len(gc.get_objects())
        t_gc = time.thread_time()
        gc.collect()
        full_pass_ms = (time.thread_time() - t_gc) * 1000
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
        "gc_tracked_objects": tracked,
        "gc_full_pass_ms": round(full_pass_ms, 1),
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


class _Stalls:
    """The event loop's worst stall, seen by a ticker that asks for 5 ms sleeps: ``worst`` is how late it
    woke (wall clock: includes the time this process waited for a CPU on a shared machine), ``worst_cpu``
    the CPU time the loop's thread spent between two of its wake-ups (the work that blocked the loop,
    whatever the machine's load). The garbage collector's passes are timed too (``gc.callbacks``): the
    longest pause (CPU time of the thread), and how many full (generation 2) passes ran, so a stall can
    be told apart from the machine's noise."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_cpu = 0.0
        self.gc_worst_ms = 0.0
        self.gc_worst_gen = -1
        self.gc_full = 0
        self.gc_passes = 0
        self._gc_start = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        cpu = time.thread_time()
        while True:
            t0 = loop.time()
            await asyncio.sleep(0.005)
            now_cpu = time.thread_time()
            self.worst = max(self.worst, (loop.time() - t0 - 0.005) * 1000)
            self.worst_cpu = max(self.worst_cpu, (now_cpu - cpu) * 1000)
            cpu = now_cpu

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_start = time.thread_time()
            return
        ms = (time.thread_time() - self._gc_start) * 1000
        self.gc_passes += 1
        self.gc_full += info["generation"] == 2
        if ms > self.gc_worst_ms:
            self.gc_worst_ms, self.gc_worst_gen = ms, info["generation"]

    def gc_figures(self) -> dict[str, Any]:
        return {
            "gc_pause_max_ms": round(self.gc_worst_ms, 1),
            "gc_pause_max_generation": self.gc_worst_gen,
            "gc_full_passes": self.gc_full,
            "gc_passes": self.gc_passes,
        }

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[_Stalls]:
        self.worst = self.worst_cpu = self.gc_worst_ms = 0.0
        self.gc_worst_gen, self.gc_full, self.gc_passes = -1, 0, 0
        self._task = asyncio.create_task(self._tick())
        gc.callbacks.append(self._gc)
        try:
            yield self
        finally:
            gc.callbacks.remove(self._gc)
            self._task.cancel()


def _server(store: _BenchStore, limits: Limits | None = None) -> tuple[ConsoleServer, Hub, CallerDirectory]:
    directory = CallerDirectory(store)
    hub = Hub(board=LiveBoard(lambda q: 20.0), directory=directory)
    desk = Desk(hub, lambda s: None, _NoChannels(), store)
    limits = limits or Limits(failed_login_delay=0, client_buffer=1000)
    return (
        ConsoleServer(hub, desk, store, TokenSigner(b"b" * 32, 3600), port=0, limits=limits),
        hub,
        directory,
    )


async def _login(url: str, user: str, password: str = "x") -> tuple[ClientConnection, dict[str, Any]]:
    ws = await connect(url, compression=None, max_queue=None)
    await ws.send(json.dumps({"type": "login", "username": user, "password": password}))
    welcome = json.loads(await ws.recv())
    return ws, welcome


async def _closed(ws: ClientConnection) -> int:
    """Reads until the server closes: its close code (1006 without a close frame)."""
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(30):
            while True:
                await ws.recv()
    return ws.close_code if ws.close_code is not None else 1006


async def _storm(agents: int, log: int) -> dict[str, Any]:
    """``agents`` agents reconnect at once with ``resume`` against a resume log of ``log`` messages."""
    store = _BenchStore()
    server, hub, directory = _server(store, Limits(failed_login_delay=0, client_buffer=1000))
    await _start(server)
    url = f"ws://127.0.0.1:{server.port}/ws"
    stalls = _Stalls()
    lookups = asyncio.create_task(directory.run())
    try:
        names = [AgentId(f"A{i}") for i in range(agents)]
        job = []
        for i, name in enumerate(names):  # each agent was connected until now: a token, the last seq
            token, _ = server.signer.issue(f"a{i}", "agent", name, time.time())
            job.append({"type": "resume", "token": token, "session": hub.session, "last_seq": hub.seq})
        rng = random.Random(3)
        for n in range(log - 3 * agents):  # a busy day's log (the hub keeps at most 200,000)
            hub._emit({"type": "call", "event": "held", "linkedid": f"{n}.1"}, (rng.choice(names),))
        for i in range(agents):  # and a few messages of each agent's own
            for k in range(3):
                hub._emit({"type": "call", "event": "resumed", "linkedid": f"m{i}.{k}"}, (names[i],))
        async with stalls.watching():
            await asyncio.sleep(0.5)
        idle_worst = stalls.worst
        async with stalls.watching():
            _, result = await _remote("storm", url, job)
            done = await result
        missed = done["missed"]
        return {
            "agents": agents,
            "log_messages": len(hub._log),
            "resumed": sum(1 for m in missed if m >= 0),
            "missed_per_agent": {"min": min(missed), "max": max(missed)},
            "seconds": round(done["seconds"], 2),
            "longest_stall_ms": round(stalls.worst, 1),
            "longest_stall_cpu_ms": round(stalls.worst_cpu, 1),
            "idle_stall_ms": round(idle_worst, 1),
            **stalls.gc_figures(),
            "goal_stall_ms": 50,
            "goal_met": stalls.worst_cpu < 50,  # the loop's own work; the wall figure adds the machine's load
        }
    finally:
        lookups.cancel()
        await server.close()


class _Probe:
    """An agent taking a pop every 20 ms: the latency from the ring to its client having the pop."""

    def __init__(self, hub: Hub, ws: ClientConnection) -> None:
        self.hub, self.ws = hub, ws
        self.sent: dict[str, float] = {}
        self.ms: list[float] = []
        self._ids = itertools.count()

    async def read(self) -> None:
        async for raw in self.ws:
            msg = json.loads(raw)
            if msg.get("type") == "screenpop":
                t0 = self.sent.pop(msg["call"]["linkedid"], None)
                if t0 is not None:
                    self.ms.append((time.perf_counter() - t0) * 1000)

    async def ring(self, seconds: float) -> None:
        injector = _Injector(self.hub)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            lid = f"{1_800_000_000 + next(self._ids)}.9"
            self.sent[lid] = time.perf_counter()
            injector.ring("Probe", lid)
            await asyncio.sleep(0.02)
        async with asyncio.timeout(10):
            while self.sent:  # noqa: ASYNC110 - emptied by the reader task
                await asyncio.sleep(0.01)


async def _remote(name: str, url: str, job: Any = None) -> tuple[asyncio.subprocess.Process, Any]:
    """Starts attack ``name`` (benchmarks/attackers.py) in a child process; returns it and a task that
    gives its JSON result."""
    args = [sys.executable, "-m", "benchmarks.attackers", name, url]
    if job is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(job, f)
        args.append(f.name)
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE)

    async def result() -> Any:
        out, _ = await proc.communicate()
        lines = out.decode().strip().splitlines()
        return json.loads(lines[-1]) if lines else {"codes": []}

    return proc, asyncio.ensure_future(result())


async def _never_reads_traffic(hub: Hub) -> float:
    """Pops for 50 agents (the stuck supervisor sees them all) until the hub dropped it: seconds."""
    injector = _Injector(hub)
    while not any(c.identity.username == "sup-stuck" for c in hub.clients()):  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    t0 = time.perf_counter()
    n = 0
    while not hub.clients_dropped and time.perf_counter() - t0 < 30:
        injector.ring(f"A{n % 50}", f"{1_900_000_000 + n}.7")
        n += 1
        await asyncio.sleep(0.002)
    return time.perf_counter() - t0


ATTACKS = (
    "nested_json",
    "lone_surrogate",
    "oversized_frames",
    "flood_1000_per_second",
    "idle_500",
    "never_reads",
    "failed_logins_100",
)


def _figures(ms: list[float]) -> dict[str, float]:
    return {
        "p50": round(_percentile(ms, 0.5), 2),
        "p99": round(_percentile(ms, 0.99), 2),
        "max": round(max(ms), 2),
    }


async def _attack(name: str | None, scrypt: tuple[int, int, int]) -> dict[str, Any]:
    store = _BenchStore()
    n, r, p = scrypt
    store.password_hash = hash_password("x", n=n, r=r, p=p)
    server, hub, directory = _server(store, Limits(failed_login_delay=0.01, write_deadline=2.0))
    await _start(server)
    url = f"ws://127.0.0.1:{server.port}/ws"
    lookups = asyncio.create_task(directory.run())
    stalls = _Stalls()
    probe_ws, _ = await _login(url, "probe")
    probe = _Probe(hub, probe_ws)
    reader = asyncio.create_task(probe.read())
    try:
        await probe.ring(0.1)  # warm the caller cache
        probe.ms.clear()
        out: dict[str, Any] = {}
        async with stalls.watching():
            if name is None:
                await probe.ring(2.0)
            else:
                proc, result = await _remote(name, url)
                traffic = asyncio.ensure_future(_never_reads_traffic(hub)) if name == "never_reads" else None
                while not (traffic or result).done():
                    await probe.ring(0.2)
                if traffic is not None:
                    out["dropped_after_ms"] = round(traffic.result() * 1000)
                    out["dropped"] = hub.clients_dropped
                    proc.kill()
                codes = (await result)["codes"]
                if codes:
                    out["close_codes"] = {str(c): codes.count(c) for c in sorted(set(codes))}
        out.update(
            {
                "pop_ms": _figures(probe.ms),
                "longest_stall_ms": round(stalls.worst, 1),
                "longest_stall_cpu_ms": round(stalls.worst_cpu, 1),
                **stalls.gc_figures(),
            }
        )
        if name == "failed_logins_100":
            out["password_checks"] = server.logins_failed
            out["refused_without_check"] = dict(server.logins_refused)
            out["scrypt"] = {"n": n, "r": r, "p": p}
        return out
    finally:
        reader.cancel()
        lookups.cancel()
        await server.close()


async def _attacks(scrypt: tuple[int, int, int]) -> dict[str, Any]:
    baseline = await _attack(None, scrypt)
    out: dict[str, Any] = {"baseline": baseline}
    for name in ATTACKS:
        out[name] = await _attack(name, scrypt)
        out[name]["ratio_p99_to_baseline_p99"] = round(
            out[name]["pop_ms"]["p99"] / max(baseline["pop_ms"]["p99"], 1e-3), 2
        )
    worst = max(v["pop_ms"]["max"] for v in out.values())
    out["worst_pop_ms"] = worst
    out["goal_pop_ms"] = 50
    out["goal_met"] = worst < 50
    return out


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
    parser.add_argument("--storm", type=int, default=500, help="agents reconnecting at once (resume)")
    parser.add_argument("--log", type=int, default=200_000, help="messages in the resume log")
    parser.add_argument("--no-attacks", action="store_true", help="skip the attacks")
    args = parser.parse_args(argv)
    scrypt = OWASP_COST
    if args.quick:
        args.agents, args.pops, args.supervisors, args.storm, args.log = 20, 30, 2, 50, 5000
        scrypt = (1 << 12, 8, 1)
    result = asyncio.run(_run(args.agents, args.pops, args.rate, args.supervisors))
    result["storm"] = asyncio.run(_storm(args.storm, args.log))
    if not args.no_attacks:
        result["attacks"] = asyncio.run(_attacks(scrypt))
    print(json.dumps(result, separators=(",", ":")))
    return 0
