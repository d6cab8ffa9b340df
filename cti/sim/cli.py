"""``cti sim``: run the simulated Asterisk (an AMI server with callers, agents and a PSTN).

    cti sim --listen 127.0.0.1:5038 --config config/sim/demo.toml [--speed X] [--seed N]
            [--queue-log PATH] [--cdr PATH] [--cel PATH] [--records-url URL]
            [--no-traffic] [--record PATH]

It prints ``listening on HOST:PORT`` once the port is bound (``:0`` picks a free one) and serves
until interrupted. ``--record`` writes every event the simulator raises, as AMI bytes (banner
first), to a file that ``cti replay`` reads.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any, BinaryIO

from cti.asterisk.ami import banner
from cti.core.errors import ConfigError
from cti.sim.channels import Headers
from cti.sim.scenario import Scenario, load_scenario, transcript_pbx
from cti.sim.server import SimServer


def _listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host or "127.0.0.1", int(port)


def _speed(value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError("speed must be positive")
    return v


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "sim",
        help="run the simulated Asterisk (AMI server with callers and agents)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--listen",
        type=_listen,
        default=("127.0.0.1", 5038),
        metavar="HOST:PORT",
        help="address to serve AMI on (default 127.0.0.1:5038; port 0 picks a free one)",
    )
    p.add_argument(
        "--config", metavar="FILE", help="scenario TOML (default: the transcripts' PBX, no traffic)"
    )
    p.add_argument("--speed", type=_speed, default=1.0, help="virtual seconds per real second (default 1)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's)")
    p.add_argument("--queue-log", metavar="PATH", help="append the ground-truth queue_log to this file")
    p.add_argument("--cdr", metavar="PATH", help="append the CDR, as cdr_csv's Master.csv, to this file")
    p.add_argument("--cel", metavar="PATH", help="append the CEL, as cel_custom's Master.csv, to this file")
    p.add_argument(
        "--records-url",
        metavar="URL",
        default="",
        help="also write queue_log, CDR and CEL to the PostgreSQL tables queue_log, cdr, cel at this URL",
    )
    p.add_argument("--record", metavar="PATH", help="write every event, as AMI bytes, to this file")
    p.add_argument(
        "--no-traffic", action="store_true", help="do not generate callers (only AMI-driven calls)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        scenario = load_scenario(args.config) if args.config else transcript_pbx()
    except ConfigError as e:
        print(f"cti sim: {e}", file=sys.stderr)
        return 2
    if not args.record:
        return asyncio.run(serve(scenario, args, None))
    try:
        record = Path(args.record).open("wb")
    except OSError as e:
        print(f"cti sim: cannot write {args.record}: {e}", file=sys.stderr)
        return 1
    try:
        record.write(banner(scenario.version))
        return asyncio.run(serve(scenario, args, record))
    finally:
        record.close()


async def serve(scenario: Scenario, args: argparse.Namespace, record: BinaryIO | None) -> int:
    sim = SimServer(
        scenario,
        speed=args.speed,
        seed=args.seed,
        queue_log=args.queue_log,
        cdr=args.cdr,
        cel=args.cel,
        records_url=args.records_url,
        traffic=False if args.no_traffic else None,
    )
    if record is not None:  # a buffered file: the tap never waits on the disk
        out = record

        def tap(_category: str, _headers: Headers, data: bytes) -> None:
            out.write(data)

        sim.taps.append(tap)
    host, port = args.listen
    try:
        bound = await sim.start(host, port)
    except OSError as e:
        print(f"cti sim: cannot listen on {host}:{port}: {e}", file=sys.stderr)
        return 1
    print(f"listening on {sim.host}:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        await stop.wait()
    finally:
        await sim.stop()
    return 0
