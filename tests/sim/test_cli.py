"""`cti sim` serves AMI on the given address with the given scenario, and reports bad input clearly."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

from cti.cli import main
from tests.conftest import ROOT, timeout
from tests.sim.conftest import RawClient


async def test_cti_sim_serves_the_demo_center_with_live_traffic(tmp_path: Path) -> None:
    qlog = tmp_path / "queue_log"
    record = tmp_path / "session.ami"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cti",
        "sim",
        "--listen",
        "127.0.0.1:0",
        "--config",
        str(ROOT / "config/sim/demo.toml"),
        "--speed",
        "200",
        "--seed",
        "5",
        "--queue-log",
        str(qlog),
        "--record",
        str(record),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout(20))).decode()
        assert line.startswith("listening on 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        client = await RawClient.connect(port)
        await client.login()
        # at 200x, a few calls a minute means a call every fraction of a second
        joined = await client.event("QueueCallerJoin", wait=20)
        assert joined["Queue"] in ("sales", "support")
        await client.event("AgentConnect", wait=30)
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout(20))
    assert proc.returncode == 0
    assert "ENTERQUEUE" in qlog.read_text(encoding="utf-8")
    assert record.read_bytes().startswith(b"Asterisk Call Manager/13.0.0\r\nEvent: ")


def test_cti_sim_with_a_bad_scenario_exits_2_naming_file_and_key(tmp_path: Path, capsys: object) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[sim]\nbogus = 1\n", encoding="utf-8")
    assert main(["sim", "--config", str(bad)]) == 2
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert f"{bad}: sim.bogus: unknown key" in err


def test_cti_sim_rejects_a_bad_listen_address() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cti", "sim", "--listen", "nowhere"],
        capture_output=True,
        text=True,
        timeout=timeout(30),
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2
    assert "expected HOST:PORT" in done.stderr
