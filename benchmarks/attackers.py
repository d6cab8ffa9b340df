"""The hostile clients of ``python -m benchmarks pop``, run in a child process so that their own CPU
(handshakes, parsing what they receive) is not counted in the daemon's event-loop stalls.

``python -m benchmarks.attackers NAME URL [JOB.json]`` runs one attack against the console server at
URL and prints one JSON line: the close codes the attackers got (and, for ``storm``, what each resume
returned and how long they all took).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

NESTED = '{"type": "login", "username": ' + "[" * 20_000 + "]" * 20_000 + "}"  # 40 KB, under 64 KiB


async def _closed(ws: ClientConnection) -> int:
    """Reads until the server closes: its close code (1006 without a close frame)."""
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        async with asyncio.timeout(30):
            while True:
                await ws.recv()
    return ws.close_code if ws.close_code is not None else 1006


async def _login(url: str, user: str, password: str = "x") -> ClientConnection:
    ws = await connect(url, compression=None, max_queue=None)
    await ws.send(json.dumps({"type": "login", "username": user, "password": password}))
    return ws


async def _send_then_closed(url: str, text: str, **kw: Any) -> int:
    ws = await connect(url, compression=None, **kw)
    await ws.send(text)
    return await _closed(ws)


async def nested(url: str, job: Any) -> dict[str, Any]:
    return {"codes": await asyncio.gather(*(_send_then_closed(url, NESTED) for _ in range(50)))}


async def surrogate(url: str, job: Any) -> dict[str, Any]:
    text = '{"type": "login", "username": "\\ud800", "password": "x", "ref": "\\udc00"}'
    return {"codes": await asyncio.gather(*(_send_then_closed(url, text) for _ in range(50)))}


async def oversized(url: str, job: Any) -> dict[str, Any]:
    first = json.dumps({"type": "login", "username": "a1", "password": "p" * 9000})

    async def later() -> int:
        ws = await _login(url, "a2")
        await ws.recv()
        await ws.send(json.dumps({"type": "ping", "ref": "x" * 70_000}))
        return await _closed(ws)

    codes = await asyncio.gather(
        *(_send_then_closed(url, first, max_size=None) for _ in range(20)), *(later() for _ in range(5))
    )
    return {"codes": codes}


async def flood(url: str, job: Any) -> dict[str, Any]:
    codes = []
    end = time.perf_counter() + 2.0
    while time.perf_counter() < end:  # 1,000 messages a second; closed (4029), it logs in again
        ws = await _login(url, "a3")
        reader = asyncio.create_task(_closed(ws))
        with contextlib.suppress(ConnectionClosed):
            while time.perf_counter() < end:
                start = time.perf_counter()
                for _ in range(50):
                    await ws.send('{"type": "ping"}')
                await asyncio.sleep(max(0.0, start + 0.05 - time.perf_counter()))
        await ws.close()
        codes.append(await reader)
    return {"codes": codes}


async def idle(url: str, job: Any) -> dict[str, Any]:
    conns = await asyncio.gather(*(connect(url, compression=None) for _ in range(500)))
    await asyncio.sleep(1.5)  # held open, saying nothing
    await asyncio.gather(*(ws.close() for ws in conns))
    return {"codes": [], "connections": len(conns)}


async def never_reads(url: str, job: Any) -> dict[str, Any]:
    ws = await connect(url, compression=None, max_queue=4)  # stops reading the socket when 4 wait
    await ws.send(json.dumps({"type": "login", "username": "sup-stuck", "password": "x"}))
    await asyncio.sleep(60)  # never calls recv; the parent ends this process once it was dropped
    return {"codes": []}


async def failed_logins(url: str, job: Any) -> dict[str, Any]:
    async def one(i: int) -> int:
        text = json.dumps({"type": "login", "username": f"user{i}", "password": "guess"})
        return await _send_then_closed(url, text)

    return {"codes": await asyncio.gather(*(one(i) for i in range(100)))}


async def storm(url: str, job: Any) -> dict[str, Any]:
    """Every agent of the job reconnects at once with ``resume`` and reads what it missed."""

    async def resume(first: dict[str, Any]) -> int:
        ws = await connect(url, compression=None, max_queue=None)
        await ws.send(json.dumps(first))
        hello = json.loads(await ws.recv())
        for _ in range(hello["missed"]):
            await ws.recv()
        await ws.close()
        return int(hello["missed"]) if hello["resumed"] else -1

    t0 = time.perf_counter()
    missed = await asyncio.gather(*(resume(first) for first in job))
    return {"codes": [], "missed": missed, "seconds": time.perf_counter() - t0}


ATTACKS: dict[str, Callable[[str, Any], Coroutine[Any, Any, dict[str, Any]]]] = {
    "nested_json": nested,
    "lone_surrogate": surrogate,
    "oversized_frames": oversized,
    "flood_1000_per_second": flood,
    "idle_500": idle,
    "never_reads": never_reads,
    "failed_logins_100": failed_logins,
    "storm": storm,
}


def main(argv: list[str]) -> int:
    name, url = argv[0], argv[1]
    job = json.loads(Path(argv[2]).read_text()) if len(argv) > 2 else None
    print(json.dumps(asyncio.run(ATTACKS[name](url, job))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
