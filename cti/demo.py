"""`cti demo` (what `make demo` runs): the whole product on one machine, nothing to install.

1. The store: SQLite at ``var/demo.db``, seeded once with the demo customers, agents and history, plus a
   few customers with hostile names (``<script>alert(1)</script>张伟``...) to show they stay text.
2. The callers' list for the simulator is exported from the store, so every simulated caller is a
   customer the screen pop finds.
3. The simulated Asterisk (``config/sim/demo.toml``) starts in-process on a free port, with steady
   traffic; three calls are placed at once so the consoles are busy from the first second.
4. The daemon (``config/demo.toml``) connects to it and serves the consoles.

Frank (1006) is the human seat: log in as ``frank`` / ``demo`` on the agent console and press Ready.
Ctrl-C stops everything cleanly (finished calls are written to the store first).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any

from cti.app import Daemon, install_signal_handlers
from cti.config import load_config
from cti.core.errors import ConfigError
from cti.store import NewCustomer, Store
from cti.telemetry import setup_logging

log = logging.getLogger("cti.demo")

ROOT = Path(__file__).resolve().parent.parent
HOSTILE_CUSTOMERS = (
    ("<script>alert(1)</script>张伟", "+14155550123"),
    ('<img src=x onerror="alert(2)">', "+14155550124"),
    ("Robert'); DROP TABLE customers;-- O'Brien", "+14155550125"),
)
AGENTS = ("alice", "bob", "carol", "dave", "erin", "frank")


async def prepare_store(store: Store, callers_csv: Path, customers: int) -> int:
    """Seed the demo data (once) and the hostile names (once); write the simulator's callers list."""
    if not await store.demo_seeded():
        print(
            f"cti demo: seeding {customers} demo customers (first run only)...", file=sys.stderr, flush=True
        )
        await store.seed_demo(customers=customers)
    for name, number in HOSTILE_CUSTOMERS:
        if not (await store.lookup_caller(number)).customers:
            await store.add_customer(NewCustomer(name, phones=[number], owner="Alice", tags=["demo-hostile"]))
    callers_csv.parent.mkdir(parents=True, exist_ok=True)
    return await store.export_callers_csv(callers_csv)


def load_sim(scenario_path: Path, callers_csv: Path, speed: float, seed: int | None) -> Any:
    from cti.sim.scenario import load_customers, load_scenario
    from cti.sim.server import SimServer

    scenario = load_scenario(scenario_path)
    customers = load_customers(str(scenario_path), "traffic.customers", callers_csv)
    scenario = dataclasses.replace(
        scenario, traffic=dataclasses.replace(scenario.traffic, customers=customers)
    )
    return SimServer(scenario, speed=speed, seed=seed)


def banner(url: str, sim_port: int) -> str:
    logins = ", ".join(AGENTS)
    return (
        "\n"
        f"  cti demo is running.\n"
        f"    agent console:      {url}agent\n"
        f"    supervisor console: {url}supervisor\n"
        f"    metrics / health:   {url}metrics  {url}healthz\n"
        f"    simulated Asterisk: AMI on 127.0.0.1:{sim_port} (user cti / ctisecret)\n"
        f"  logins (password demo): agents {logins}; supervisor super\n"
        f"  frank is yours: log in as frank, press Ready, and take the next call.\n"
        f"  Ctrl-C to stop.\n"
    )


async def demo(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if args.port is not None:
        cfg.web.port = args.port
    if args.db:
        cfg.store.url = f"sqlite+aiosqlite:///{args.db}"
    db_path = cfg.store.url.split(":///", 1)[-1]
    if cfg.store.url.startswith("sqlite"):
        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    store = await Store.open(cfg.store.url, default_country=cfg.store.default_country)
    try:
        callers_csv = Path(args.callers)
        count = await prepare_store(store, callers_csv, args.customers)
        log.info("exported %d callers for the simulator to %s", count, callers_csv)
        sim = load_sim(Path(args.scenario), callers_csv, args.speed, args.seed)
        sim_port = await sim.start("127.0.0.1", 0)
        try:
            for a in cfg.asterisk:
                a.host, a.port = "127.0.0.1", sim_port
            daemon = Daemon(cfg, store=store)
            install_signal_handlers(daemon.stopping.set)
            await daemon.open()
            assert daemon.server is not None
            print(banner(daemon.server.url, sim_port), file=sys.stderr, flush=True)
            async with asyncio.TaskGroup() as tg:
                tg.create_task(daemon.run(), name="daemon")
                await first_calls(daemon, sim)
        finally:
            await sim.stop()
    finally:
        await store.close()
    return 0


async def first_calls(daemon: Daemon, sim: Any) -> None:
    """Once the daemon is logged in to the simulator: three callers at once (two with hostile names)."""
    for server in daemon.servers.values():
        await server.link.wait_connected()
    for customer in [*sim.scenario.traffic.customers[:1], *_hostile(sim)]:
        sim.place_call(customer.number, customer.name, "sales", patience=120)


def _hostile(sim: Any) -> list[Any]:
    numbers = {n.lstrip("+") for _, n in HOSTILE_CUSTOMERS}
    return [c for c in sim.scenario.traffic.customers if c.number.lstrip("+") in numbers][:2]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run the simulated Asterisk, the daemon and the consoles on SQLite")
    p.add_argument("--config", default=str(ROOT / "config" / "demo.toml"), help="daemon configuration")
    p.add_argument(
        "--scenario", default=str(ROOT / "config" / "sim" / "demo.toml"), help="simulator scenario"
    )
    p.add_argument("--port", type=int, default=None, help="console port (default: the config's, 8080)")
    p.add_argument("--db", default=None, help="SQLite file (default: the config's, var/demo.db)")
    p.add_argument("--callers", default="var/demo-callers.csv", help="where to export the callers list")
    p.add_argument("--customers", type=int, default=5000, help="demo customers to seed on the first run")
    p.add_argument("--speed", type=float, default=1.0, help="simulated time per real second")
    p.add_argument("--seed", type=int, default=None, help="simulator random seed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    setup_logging("info", "text")
    try:
        return asyncio.run(demo(args))
    except ConfigError as e:
        print(f"cti demo: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"cti demo: cannot start: {e}", file=sys.stderr)
        return 1
