"""AMI link throughput over real loopback TCP: our connection against panoramisk's Manager.

The fake AMI server (tests/asterisk/fakeami.py) logs each client in, then writes the mixed-seed1 stream
(repeated with fresh ids, as in bench_ami) in one go. We time, on the wall clock, from the first byte
written to the last event delivered:

* ours: ``AmiConnection`` (socket -> codec -> routing -> the ordered queue), drained by one consumer;
* panoramisk 1.4: ``Manager`` with one synchronous ``*`` event callback (socket -> its parser ->
  dispatch).

Neither side does any tracking here (bench_ami measures that). ``ratio`` = panoramisk time ÷ our time,
measured in the same run, best of ``rounds``. Also printed: events delivered by each side (panoramisk
loses some: it decodes each TCP chunk alone and drops split characters, and it strips messages).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from benchmarks.bench_ami import build_stream
from cti.asterisk.ami import AmiDecoder
from cti.asterisk.connection import AmiConnection, Received
from cti.config import AsteriskConfig
from tests.asterisk.fakeami import FakeAmi

IDLE = 0.5  # no event for this long: the side is done (panoramisk may never reach the full count)


def body_of(parts: list[bytes], limit: int | None) -> tuple[bytes, int]:
    body = b"".join(parts[1:])  # without the banner: the fake server sends its own
    if limit is not None:
        cut = body.find(b"\r\n\r\n", limit)
        body = body[: cut + 4] if cut >= 0 else body
    decoder = AmiDecoder(expect_banner=False)
    events = sum(1 for m in decoder.receive_data(body) if m.event not in (None, "FullyBooted"))
    return body, events


async def until_done(count: Callable[[], int], expected: int) -> None:
    last, since = -1, time.perf_counter()
    while count() < expected:
        await asyncio.sleep(0.01)
        n = count()
        if n != last:
            last, since = n, time.perf_counter()
        elif time.perf_counter() - since > IDLE:
            return


async def run_ours(body: bytes, expected: int) -> tuple[float, int]:
    async with FakeAmi() as ami:
        cfg = AsteriskConfig(
            port=ami.port, secret="s3cret", ping_interval=60, dead_after=120, event_queue_size=10**7
        )
        conn = AmiConnection(cfg)
        got = 0
        stamp = 0.0

        async def consume() -> None:
            nonlocal got, stamp
            while True:
                item = await conn.queue.get()
                if isinstance(item, Received) and item.message.event != "FullyBooted":
                    got += 1
                    stamp = time.perf_counter()

        async with asyncio.TaskGroup() as tg:
            link = tg.create_task(conn.run())
            consumer = tg.create_task(consume())
            await ami.wait_for(lambda: bool(ami.actions_named("QueueStatus")), 10)
            await asyncio.sleep(0.05)
            t0 = time.perf_counter()
            ami.emit_raw(body)
            await until_done(lambda: got, expected)
            link.cancel()
            consumer.cancel()
    assert isinstance(conn.metrics()["overflows"], int)
    return stamp - t0, got


async def run_panoramisk(body: bytes, expected: int) -> tuple[float, int]:
    from panoramisk import Manager

    async with FakeAmi() as ami:
        got = 0
        stamp = 0.0

        def on_event(_manager: Any, message: Any) -> None:
            nonlocal got, stamp
            if message.get("Event") != "FullyBooted":
                got += 1
                stamp = time.perf_counter()

        manager = Manager(host="127.0.0.1", port=ami.port, username="cti", secret="s3cret", ping_delay=1000)
        manager.register_event("*", on_event)
        manager.connect()
        try:
            await ami.wait_for(lambda: ami.logins >= 1, 10)
            await asyncio.sleep(0.05)
            t0 = time.perf_counter()
            ami.emit_raw(body)
            await until_done(lambda: got, expected)
        finally:
            manager.connect = lambda *a, **k: None
            manager.close()
    return stamp - t0, got


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench_connection")
    ap.add_argument("--quick", action="store_true", help="the first 200 KB of the stream, one round")
    ap.add_argument("--repeats", type=int, help="copies of mixed-seed1 in the stream")
    args = ap.parse_args(argv)
    repeats = args.repeats or 2
    rounds = 1 if args.quick else 3
    body, expected = body_of(build_stream(1 if args.quick else repeats), 200_000 if args.quick else None)

    async def measure() -> dict[str, Any]:
        best_ours = best_pano = float("inf")
        got_ours = got_pano = 0
        for _ in range(rounds):
            t, got_ours = await run_ours(body, expected)
            best_ours = min(best_ours, t)
            t, got_pano = await run_panoramisk(body, expected)
            best_pano = min(best_pano, t)
        return {
            "benchmark": "connection",
            "stream_mb": round(len(body) / 1e6, 2),
            "events": expected,
            "ours_delivered": got_ours,
            "panoramisk_delivered": got_pano,
            "ours_events_per_s": round(got_ours / best_ours),
            "panoramisk_events_per_s": round(got_pano / best_pano),
            "ratio": round(best_pano / best_ours, 2),
        }

    figures = asyncio.run(measure())
    print(json.dumps(figures, indent=2))
    return 0 if figures["ours_delivered"] == expected else 1


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
