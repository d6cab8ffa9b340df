import csv
from pathlib import Path
from typing import Any

from cti.demo import HOSTILE_CUSTOMERS, banner, prepare_store
from cti.store import Store


async def test_the_demo_store_is_seeded_once_with_hostile_names_and_exports_its_callers(
    db_url: str, tmp_path: Path
) -> None:
    store = await Store.open(db_url)
    try:
        callers = tmp_path / "callers.csv"
        count = await prepare_store(store, callers, customers=40)
        again = await prepare_store(store, callers, customers=40)  # idempotent: nothing added twice
        assert count == again >= 40 + len(HOSTILE_CUSTOMERS)
        rows = list(csv.reader(callers.read_text(encoding="utf-8").splitlines()))
        names = {r[1] for r in rows[1:]}
        assert {name for name, _ in HOSTILE_CUSTOMERS} <= names
        for name, number in HOSTILE_CUSTOMERS:
            (card,) = (await store.lookup_caller(number)).customers
            assert card.name == name
        frank = await store.authenticate("frank", "demo")
        assert frank is not None and frank.member_name == "Frank"
        assert (await store.authenticate("super", "demo")).role == "supervisor"  # type: ignore[union-attr]
    finally:
        await store.close()


def test_the_banner_gives_the_url_and_the_logins() -> None:
    text = banner("http://127.0.0.1:8080/", 5038)
    assert "http://127.0.0.1:8080/agent" in text and "http://127.0.0.1:8080/supervisor" in text
    assert "alice, bob, carol, dave, erin, frank" in text and "supervisor super" in text and "demo" in text


def test_cti_demo_starts_everything_and_calls_flow_at_once(tmp_path: Path) -> None:
    """`cti demo` as `make demo` runs it: banner with URL and logins, then pops without anyone acting."""
    import asyncio
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from websockets.asyncio.client import connect

    from tests.conftest import ROOT, timeout
    from tests.screenpop.console import recv, recv_until

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cti",
            "demo",
            "--port",
            "0",
            "--db",
            str(tmp_path / "demo.db"),
            "--callers",
            str(tmp_path / "callers.csv"),
            "--customers",
            "200",
            "--seed",
            "5",
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stderr is not None
        lines: list[str] = []
        deadline = time.monotonic() + timeout(60)
        while not any("Ctrl-C" in line for line in lines) and time.monotonic() < deadline:
            lines.append(proc.stderr.readline())
        text = "".join(lines)
        assert "logins (password demo): agents alice, bob, carol, dave, erin, frank; supervisor super" in text
        url = next(line.split()[-1] for line in lines if "supervisor console:" in line)
        ws_url = url.replace("http://", "ws://").replace("/supervisor", "/ws")

        async def watch() -> dict[str, Any]:
            async with connect(ws_url) as ws:
                await ws.send(json.dumps({"type": "login", "username": "super", "password": "demo"}))
                assert (await recv(ws))["role"] == "supervisor"
                snapshot = await recv(ws)
                if snapshot["calls"]:
                    first: dict[str, Any] = snapshot["calls"][0]
                    return first
                return await recv_until(ws, lambda m: m["type"] == "screenpop", 30)

        pop = asyncio.run(watch())
        assert pop["type"] == "screenpop" and pop["lookup"] == "found"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout(30)) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
