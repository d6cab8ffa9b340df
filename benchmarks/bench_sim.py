"""How many concurrent simulated calls, and AMI events per second, one simulator process sustains.

The workload is a large center: N agents in four queues, callers arriving so that about ``calls``
conversations are up at once (Little's law: rate = calls / mean call length), each call a Local pair
for the caller and one for the agent, with the full event flow of the real transcripts. Every event is
encoded once and written to one logged-in AMI client over loopback TCP, as the server does; the
client reads and decodes the stream in the same process (so one core does both sides).

Figures (JSON):
- ``concurrent_calls_mean`` / ``_peak``: calls up during the measured window;
- ``events_per_s``: events raised, encoded and delivered per real second;
- ``speed_vs_real_time``: virtual seconds per real second. At >= 1 the process keeps up with that
  many concurrent calls in real time; this is the goal figure (1,000 calls on one core);
- ``ratio_events_vs_encode``: events/s against the raw ``encode()`` throughput measured in the same
  run (the ceiling if simulating cost nothing).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from cti.asterisk.ami import AmiDecoder, encode
from cti.sim.scenario import AgentSpec, Dist, MemberSpec, QueueSpec, Scenario, TrafficSpec, User
from cti.sim.server import SimServer

START = 1795400000.0
TALK = 120.0


def center(calls: int) -> Scenario:
    agents = tuple(
        AgentSpec(
            str(10000 + i), f"Agent{i}", ring_delay=Dist("uniform", 1, 3), talk_time=Dist("constant", TALK)
        )
        for i in range(int(calls * 1.1))
    )
    queues = tuple(
        QueueSpec(
            f"q{k}",
            "leastrecent",
            timeout=15,
            retry=2,
            wrapuptime=0,
            autofill=True,
            members=tuple(MemberSpec(a.extension) for a in agents[k::4]),
        )
        for k in range(4)
    )
    rate = calls / (TALK + 3.0) * 3600  # per hour
    traffic = TrafficSpec(
        enabled=True,
        calls_per_hour=(rate,) * 24,
        patience=Dist("constant", 600),
        ivr=tuple((q.name, 1.0) for q in queues),
    )
    return Scenario(
        users=(User("cti", "s", frozenset({"all"}), frozenset({"all"})),),
        agents=agents,
        queues=queues,
        traffic=traffic,
    )


def encode_baseline(n: int) -> float:
    sample = [
        ("Event", "Newchannel"),
        ("Privilege", "call,all"),
        ("Timestamp", "1795400000.000000"),
        ("Channel", "Local/13800138000@callers-00000000;1"),
        ("ChannelState", "0"),
        ("ChannelStateDesc", "Down"),
        ("CallerIDNum", "13800138000"),
        ("CallerIDName", "张伟"),
        ("ConnectedLineNum", "13800138000"),
        ("ConnectedLineName", "张伟"),
        ("Language", "en"),
        ("AccountCode", ""),
        ("Context", "callers"),
        ("Exten", "13800138000"),
        ("Priority", "1"),
        ("Uniqueid", "1795400000.0"),
        ("Linkedid", "1795400000.0"),
    ]
    t0 = time.perf_counter()
    for _ in range(n):
        encode(sample)
    return n / (time.perf_counter() - t0)


async def run(calls: int, warmup: float, window: float) -> dict[str, Any]:
    sim = SimServer(center(calls), speed=1e-9, seed=1, start=START)
    await sim.start("127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port, limit=1 << 22)
    writer.write(b"Action: Login\r\nUsername: cti\r\nSecret: s\r\nEvents: on\r\n\r\n")
    decoder = AmiDecoder(expect_banner=True)
    received = 0
    target: int | None = None
    caught_up = asyncio.Event()

    async def pump() -> None:
        nonlocal received
        while data := await reader.read(1 << 20):
            received += len(decoder.receive_data(data))
            if target is not None and received >= target:
                caught_up.set()

    task = asyncio.create_task(pump())
    await asyncio.sleep(0.05)

    def concurrent() -> int:
        return len({c.linkedid for c in sim.pbx.channels.all()})

    step = 0.5
    t = 0.0
    while t < warmup:
        sim.advance(step)
        t += step
        await asyncio.sleep(0)
    samples: list[int] = []
    ev0, rx0 = sim.pbx.events_emitted, received
    r0 = time.perf_counter()
    t = 0.0
    while t < window:
        sim.advance(step)
        t += step
        await asyncio.sleep(0)
        if int(t * 2) % 20 == 0:
            samples.append(concurrent())
    target = rx0 + sim.pbx.events_emitted - ev0
    if received < target:  # until the client has read and decoded everything
        await caught_up.wait()
    real = time.perf_counter() - r0
    events = sim.pbx.events_emitted - ev0
    writer.close()
    task.cancel()
    await sim.stop()
    return {
        "calls_target": calls,
        "concurrent_calls_mean": round(sum(samples) / len(samples), 1),
        "concurrent_calls_peak": max(samples),
        "virtual_seconds": window,
        "real_seconds": round(real, 3),
        "events": events,
        "events_per_s": round(events / real),
        "speed_vs_real_time": round(window / real, 2),
        "problems": sim.problems,
    }


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    calls, warmup, window = (60, 130.0, 30.0) if quick else (1000, 160.0, 240.0)
    baseline = encode_baseline(20_000 if quick else 200_000)
    figures = asyncio.run(run(calls, warmup, window))
    figures["encode_baseline_per_s"] = round(baseline)
    figures["ratio_events_vs_encode"] = round(figures["events_per_s"] / baseline, 3)
    print(json.dumps(figures, indent=2))
    return 0 if not figures["problems"] else 1
