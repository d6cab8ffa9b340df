"""Gap-free call records (issue 14): the fault tests.

The simulated Asterisk (real sockets, a raised speed, steady traffic: tests/e2e/records_pbx.toml) writes
its queue_log, CDR (cdr_csv Master.csv) and CEL (cel_custom Master.csv); ``cti run`` runs as a real
subprocess, connected through a TCP proxy (tests/e2e/faults.py) that cuts the AMI link 100 times at random
2-10 s intervals of simulated time; halfway the daemon is killed with SIGKILL and started again. When the
traffic is over, the store must equal the simulator's queue_log leg by leg (outcome, agent, wait and talk
within 1 s) and its CDR call by call: 0 lost, 0 duplicated, 0 wrong. Variants: the store on PostgreSQL
behind a proxy that "restarts" it (drops every connection and refuses new ones for 3 s: from cti's side a
server restart; the machine's real PostgreSQL is never restarted), and the control: the same run without
faults. Each run prints one JSON line of figures (the counts, the repair's counters, the slowest repair
after a login).
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from cti.sim.scenario import load_scenario
from cti.sim.server import SimServer
from cti.store import Store
from tests.asterisk.asterisk_logs import parse_cdr, parse_queue_log
from tests.conftest import PG_URL, need_server, timeout
from tests.e2e.faults import Comparison, DaemonProcess, TcpProxy, compare, stop_quietly
from tests.e2e.running import seed_accounts

SCENARIO = Path(__file__).with_name("records_pbx.toml")
SPEED = 20.0  # simulated seconds per real second
CUTS = 100


@dataclass
class Faults:
    cuts: bool = True
    kill: bool = True
    store_outage: bool = False


def daemon_config(store_url: str, ami_port: int, logs: Path) -> str:
    return f"""
[daemon]
name = "rec1"
log_format = "text"
[[asterisk]]
name = "pbx1"
port = {ami_port}
secret = "ctisecret"
ping_interval = 1.0
dead_after = 3.0
reconnect_min = 0.05
reconnect_max = 0.2
records = "files"
records_queue_log = "{logs / "queue_log"}"
records_cdr = "{logs / "Master.csv"}"
records_cel = "{logs / "cel.csv"}"
records_poll = 0.2
records_settle = 0.5
[store]
url = "{store_url}"
flush_interval = 0.2
[web]
port = 0
secret = "0123456789abcdef0123"
"""


async def stored(url: str) -> list[object]:
    store = await Store.open(url)
    try:
        return list(await store.calls.journeys(-math.inf, math.inf))
    finally:
        await store.close()


async def run_center(tmp_path: Path, store_url: str, faults: Faults, store_proxy: TcpProxy | None) -> None:
    await seed_accounts(store_url)
    logs = tmp_path / "asterisk"
    logs.mkdir()
    sim = SimServer(
        load_scenario(SCENARIO),
        speed=SPEED,
        queue_log=logs / "queue_log",
        cdr=logs / "Master.csv",
        cel=logs / "cel.csv",
    )
    await sim.start()
    assert sim.generator is not None
    sim.generator.stop()  # the traffic starts once the daemon is up
    ami = TcpProxy("127.0.0.1", sim.port)
    await ami.start()
    config = tmp_path / "cti.toml"
    config.write_text(daemon_config(store_url, ami.port, logs))
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    rng = random.Random(14)
    figures: dict[str, float] = {}
    before_kill: dict[str, float] = {}
    try:
        await daemon.start()
        await daemon.wait_ami()
        sim.generator.start()
        for i in range(CUTS):
            await asyncio.sleep(rng.uniform(2.0, 10.0) / SPEED)
            if faults.cuts:
                await ami.cut_live()
            if faults.kill and i == CUTS // 2:
                before_kill = await daemon.metrics()
                daemon.kill9()  # what it had not written yet, and the calls while it is down
                await asyncio.sleep(0.5)
                await daemon.start()
            if store_proxy is not None and faults.store_outage and i == CUTS // 4:
                asyncio.get_running_loop().create_task(store_proxy.outage(3.0))
        sim.generator.stop()
        sim.advance(400.0)  # every call still up ends (queue maxwait 60 s, talk well under 400 s)
        assert len(sim.pbx.channels) == 0
        logged = parse_queue_log(logs / "queue_log")
        cdr = parse_cdr(logs / "Master.csv")
        result = Comparison()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout(60)
        while loop.time() < deadline:
            result = compare(await stored(store_url), logged, cdr)  # type: ignore[arg-type]
            if result.clean:
                break
            await asyncio.sleep(0.5)
        after = await daemon.metrics()  # the counters of both processes (read just before the kill)
        figures = {k: before_kill.get(k, 0.0) + v for k, v in after.items() if not k.endswith("_seconds")}
        figures |= {k: max(before_kill.get(k, 0.0), v) for k, v in after.items() if k.endswith("_seconds")}
        figures |= {"cuts": ami.cuts, "daemon_starts": daemon.starts, **result.figures()}
        print(json.dumps({"faults": faults.__dict__, **figures}))
        if not result.clean:
            print("\n".join(result.details))
        assert result.legs > 150 and result.calls > 150, figures
        assert result.clean, (figures, result.details[:20])
        if not (faults.cuts or faults.kill or faults.store_outage):  # the live feed alone was right
            assert figures["repair_calls_checked_total"] == 0, figures
        if faults.kill:  # the restart's window (and every AMI gap's) was reconciled within 2 s of the login
            assert figures["repair_slowest_seconds"] < 2.0, figures
    finally:
        await stop_quietly(daemon, ami)
        await sim.stop()


@pytest.mark.timeout(240)
async def test_control_run_without_faults_matches_queue_log_and_cdr(tmp_path: Path) -> None:
    await run_center(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", Faults(False, False), None)


@pytest.mark.timeout(240)
async def test_100_ami_cuts_and_a_kill_9_lose_duplicate_and_falsify_nothing(tmp_path: Path) -> None:
    await run_center(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", Faults(), None)


@pytest.mark.postgres
@pytest.mark.timeout(240)
async def test_the_same_with_the_store_on_postgresql_and_a_postgresql_restart(
    tmp_path: Path, db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the PostgreSQL variant")
    need_server("PostgreSQL", "127.0.0.1", 5432)
    proxy = TcpProxy("127.0.0.1", 5432)
    await proxy.start()
    host = PG_URL.split("@", 1)[1].split("/", 1)[0]
    try:
        url = db_url.replace(host, f"127.0.0.1:{proxy.port}", 1)
        await run_center(tmp_path, url, Faults(store_outage=True), proxy)
    finally:
        await proxy.stop()
