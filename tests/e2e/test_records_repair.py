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
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from cti.core.journey import CallJourney
from cti.sim.scenario import load_scenario
from cti.sim.server import SimServer
from cti.store import Store
from tests.asterisk.asterisk_logs import parse_cdr, parse_queue_log
from tests.conftest import PG_URL, REDIS_URL, need_server, timeout
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
    redis_outage: bool = False


def daemon_config(name: str, server: str, store_url: str, ami_port: int, logs: Path, redis: str) -> str:
    bus = (
        f'[redis]\nurl = "{redis}"\nstream = "t:events"\ncommand_prefix = "t"\n'
        'command_key = "0123456789abcdef-test"\n'
        if redis
        else ""
    )
    return f"""
[daemon]
name = "{name}"
log_format = "text"
[[asterisk]]
name = "{server}"
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
{bus}"""


async def stored(url: str) -> list[CallJourney]:
    store = await Store.open(url)
    try:
        return list(await store.calls.journeys(-math.inf, math.inf))
    finally:
        await store.close()


@dataclass
class Center:
    """One simulated Asterisk, the proxy in front of its AMI port, and the daemon connected to it."""

    server: str
    sim: SimServer
    logs: Path
    ami: TcpProxy
    daemon: DaemonProcess


async def open_center(tmp_path: Path, n: int, store_url: str, redis: str, start: float) -> Center:
    server, logs = f"pbx{n}", tmp_path / f"asterisk{n}"
    logs.mkdir()
    # every center plays the same seed from the same second: their Linkedids collide, call for call
    sim = SimServer(
        load_scenario(SCENARIO),
        speed=SPEED,
        start=start,
        queue_log=logs / "queue_log",
        cdr=logs / "Master.csv",
        cel=logs / "cel.csv",
    )
    await sim.start()
    assert sim.generator is not None
    sim.generator.stop()  # the traffic starts once the daemon is up
    ami = TcpProxy("127.0.0.1", sim.port)
    await ami.start()
    config = tmp_path / f"cti{n}.toml"
    config.write_text(daemon_config(f"rec{n}", server, store_url, ami.port, logs, redis))
    return Center(server, sim, logs, ami, DaemonProcess(config, tmp_path / f"daemon{n}.log"))


async def run_centers(
    tmp_path: Path,
    store_url: str,
    faults: Faults,
    *,
    store_proxy: TcpProxy | None = None,
    redis_proxy: TcpProxy | None = None,
    centers: int = 1,
) -> None:
    await seed_accounts(store_url)
    redis = f"redis://127.0.0.1:{redis_proxy.port}/{REDIS_URL.rsplit('/', 1)[1]}" if redis_proxy else ""
    start = float(int(time.time()))  # one second for all: the simulators' Linkedids collide
    all_ = [await open_center(tmp_path, n + 1, store_url, redis, start) for n in range(centers)]
    rng = random.Random(14)
    before_kill: dict[str, float] = {}
    try:
        for c in all_:
            await c.daemon.start()
        for c in all_:
            await c.daemon.wait_ami()
            assert c.sim.generator is not None
            c.sim.generator.start()
        for i in range(CUTS):
            await asyncio.sleep(rng.uniform(2.0, 10.0) / SPEED)
            if faults.cuts:
                for c in all_:
                    await c.ami.cut_live()
            if faults.kill and i == CUTS // 2:
                victim = all_[0].daemon
                before_kill = await victim.metrics()
                victim.kill9()  # what it had not written yet, and the calls while it is down
                await asyncio.sleep(0.5)
                await victim.start()
            if i == CUTS // 4:
                for proxy, wanted in ((store_proxy, faults.store_outage), (redis_proxy, faults.redis_outage)):
                    if proxy is not None and wanted:
                        asyncio.get_running_loop().create_task(proxy.outage(3.0))
        for c in all_:
            assert c.sim.generator is not None
            c.sim.generator.stop()
            c.sim.advance(400.0)  # every call still up ends (queue maxwait 60 s, talk well under 400 s)
            assert len(c.sim.pbx.channels) == 0
        results = [Comparison() for _ in all_]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout(60)
        while loop.time() < deadline:
            journeys = await stored(store_url)
            results = [
                compare(
                    [j for j in journeys if j.server == c.server],
                    parse_queue_log(c.logs / "queue_log"),
                    parse_cdr(c.logs / "Master.csv"),
                )
                for c in all_
            ]
            if all(r.clean for r in results):
                break
            await asyncio.sleep(0.5)
        for n, (c, result) in enumerate(zip(all_, results, strict=True)):
            after = await c.daemon.metrics()
            earlier = before_kill if n == 0 else {}  # the counters of both processes (read before the kill)
            figures = {k: earlier.get(k, 0.0) + v for k, v in after.items() if not k.endswith("_seconds")}
            figures |= {k: max(earlier.get(k, 0.0), v) for k, v in after.items() if k.endswith("_seconds")}
            figures |= {"cuts": c.ami.cuts, "daemon_starts": c.daemon.starts, **result.figures()}
            print(json.dumps({"server": c.server, "faults": faults.__dict__, **figures}))
            if not result.clean:
                print("\n".join(result.details))
            assert result.legs > 150 and result.calls > 150, figures
            assert result.clean, (figures, result.details[:20])
            if not (faults.cuts or faults.kill or faults.store_outage):  # the live feed alone was right
                assert figures["repair_calls_checked_total"] == 0, figures
            if (
                faults.kill
            ):  # the restart's window (and every AMI gap's) was reconciled within 2 s of the login
                assert figures["repair_slowest_seconds"] < 2.0, figures
    finally:
        for c in all_:
            await stop_quietly(c.daemon, c.ami)
            await c.sim.stop()


@pytest.mark.timeout(240)
async def test_control_run_without_faults_matches_queue_log_and_cdr(tmp_path: Path) -> None:
    await run_centers(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", Faults(False, False))


@pytest.mark.timeout(240)
async def test_100_ami_cuts_and_a_kill_9_lose_duplicate_and_falsify_nothing(tmp_path: Path) -> None:
    await run_centers(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}", Faults())


@pytest.mark.postgres
@pytest.mark.timeout(240)
async def test_the_same_with_the_store_on_postgresql_and_a_postgresql_restart(
    tmp_path: Path, pg_url: str
) -> None:
    db_url = pg_url
    need_server("PostgreSQL", "127.0.0.1", 5432)
    proxy = TcpProxy("127.0.0.1", 5432)
    await proxy.start()
    host = PG_URL.split("@", 1)[1].split("/", 1)[0]
    try:
        url = db_url.replace(host, f"127.0.0.1:{proxy.port}", 1)
        await run_centers(tmp_path, url, Faults(store_outage=True), store_proxy=proxy)
    finally:
        await proxy.stop()


@pytest.mark.postgres
@pytest.mark.timeout(240)
async def test_the_same_with_two_daemons_on_redis_a_redis_restart_and_colliding_linkedids(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    """Two daemons, each on its own simulated Asterisk (same seed, same start: every Linkedid collides),
    one store (PostgreSQL) and Redis behind a proxy that "restarts" it for 3 s; the first daemon is killed."""
    db_url = pg_url
    proxy = TcpProxy("127.0.0.1", 6379)
    await proxy.start()
    try:
        await run_centers(tmp_path, db_url, Faults(redis_outage=True), redis_proxy=proxy, centers=2)
    finally:
        await proxy.stop()
