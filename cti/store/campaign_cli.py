"""``cti campaign``: outbound campaigns from the store. Today: ``report NAME`` (the compliance windows,
docs/metrics.md "Dialer compliance"). Imports the store only when a command runs."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

HELP = "outbound campaigns: the compliance report of each abandon-rate window"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("campaign", help=HELP)
    commands = p.add_subparsers(dest="campaign_command", metavar="COMMAND", required=True)
    report = commands.add_parser("report", help="each window's live answers, abandons, rate and headroom")
    report.add_argument("name", help="the campaign")
    report.add_argument("--config", required=True, help="TOML configuration file (the [store] url is read)")
    report.add_argument("--csv", action="store_true", help="CSV (the default is a table)")
    report.add_argument("--at", type=float, default=None, help="as at this epoch time (default: now)")
    report.set_defaults(func=run_report)


async def _report(url: str, country: str, name: str, now: float, as_csv: bool) -> str:
    from cti.dialer.compliance import report_csv
    from cti.store import Store

    store = await Store.open(url, default_country=country)
    try:
        states = await store.dial_attempts.windows(name, now)
    finally:
        await store.close()
    text = report_csv(name, states)
    if as_csv:
        return text
    rows = [line.split(",") for line in text.splitlines()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n" for r in rows
    )


def run_report(args: argparse.Namespace) -> int:
    from cti.config import load_config
    from cti.core.errors import ConfigError, UsageError

    try:
        cfg = load_config(args.config)
        now = time.time() if args.at is None else args.at
        out = asyncio.run(_report(cfg.store.url, cfg.store.default_country, args.name, now, args.csv))
    except (ConfigError, UsageError) as e:
        print(f"cti campaign: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(out)
    return 0
