"""`cti staffing`: Erlang C / Erlang A calculator and a forecast of agents per 15-minute interval.

    cti staffing calc --calls 100 --interval 1800 --aht 180 --target 20 --sl 0.8 [--patience 300]
                      [--shrinkage 0.3] [--agents 14 ...] [--format table|csv|json]
    cti staffing forecast --config FILE --day 2026-12-09 [--weeks 4] [--queue support] --target 20
                      --sl 0.8 [--aht 180] [--patience 300] [--shrinkage 0.3] [--tz Europe/Paris]
                      [--format table|csv|json]

The formulas are cti/staffing/erlang.py's (docs/metrics.md "Staffing"); the forecast reads the queue
legs of the store (cti/store/calls_repo.py) of the same weekday over the previous weeks.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import sys
from collections.abc import Sequence
from typing import Any

from cti.core.errors import ConfigError, UsageError
from cti.staffing.erlang import Figures, Traffic, agents_needed, figures, scheduled
from cti.staffing.forecast import IntervalPlan, forecast, history_window, plan

FIGURE_COLUMNS = (
    ("agents", "Agents"),
    ("p_wait", "P(wait)"),
    ("p_abandon", "P(abandon)"),
    ("asa", "ASA"),
    ("service_level", "Service level"),
    ("occupancy", "Occupancy"),
)
PLAN_COLUMNS = (
    ("interval", "Interval"),
    ("calls", "Calls"),
    ("agents_needed", "Agents needed"),
    ("scheduled", "Scheduled"),
    ("service_level", "Service level"),
    ("asa", "ASA"),
    ("occupancy", "Occupancy"),
)
_RATIOS = {"p_wait", "p_abandon", "service_level", "occupancy"}


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in _RATIOS:
        return f"{value * 100:.2f}%"
    if key == "asa":
        return f"{value:.1f}s"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def render_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    cells = [[title for _, title in columns]] + [[_cell(k, row.get(k)) for k, _ in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def render_csv(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, [k for k, _ in columns], extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def calculate(
    traffic: Traffic, target: float, sl: float, shrinkage: float, agents: Sequence[int]
) -> dict[str, Any]:
    """The calculator's answer: the agents needed (and to schedule), and the figures of ``agents``
    (by default the needed count and its neighbours)."""
    need = agents_needed(traffic, target, sl)
    counts = sorted(set(agents)) if agents else [n for n in range(need.agents - 2, need.agents + 3) if n >= 0]
    rows: list[Figures] = [figures(traffic, n, target) for n in counts]
    return {
        "model": "erlang-a" if traffic.patience is not None else "erlang-c",
        "load_erlangs": traffic.load,
        "agents_needed": need.agents,
        "scheduled": scheduled(need.agents, shrinkage),
        "figures": [f.to_json() for f in rows],
    }


def _tz(name: str | None) -> dt.tzinfo | None:
    """The named zone; None (the system's local time, with its DST rules) when no name is given."""
    if name is None:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"{name!r} is not a time zone (IANA name, e.g. Europe/Paris)") from None


async def history(
    url: str, country: str, start: float, end: float, queue: str | None
) -> tuple[list[float], float | None]:
    """Arrivals (queue legs' ``entered_at``) in [start, end), and the mean talk of the answered ones."""
    from cti.reports.metrics import ANSWERED_OUTCOMES
    from cti.store import Store

    store = await Store.open(url, default_country=country)
    try:
        legs = await store.calls.queue_legs(start, end)
    finally:
        await store.close()
    legs = [leg for leg in legs if queue is None or leg.queue == queue]
    talks = [leg.talk_seconds for leg in legs if leg.outcome in ANSWERED_OUTCOMES]
    return [leg.entered_at for leg in legs], (sum(talks) / len(talks) if talks else None)


def run_forecast(args: argparse.Namespace) -> dict[str, Any]:
    import asyncio  # here: the calculator loads neither asyncio nor the store

    from cti.config import load_config

    cfg = load_config(args.config)
    try:
        day = dt.date.fromisoformat(args.day)
    except ValueError:
        raise UsageError(f"--day {args.day!r} is not a date (YYYY-MM-DD)") from None
    tz = _tz(args.tz)
    start, end = history_window(day, args.weeks, tz)
    arrivals, talk = asyncio.run(history(cfg.store.url, cfg.store.default_country, start, end, args.queue))
    aht = args.aht if args.aht is not None else talk
    if aht is None or aht <= 0:
        raise UsageError("no answered call in the history to take the AHT from: give --aht SECONDS")
    calls = forecast(arrivals, day, args.weeks, tz)
    rows: list[IntervalPlan] = plan(
        calls,
        aht=aht,
        target=args.target,
        service_level=args.sl,
        shrinkage=args.shrinkage,
        patience=args.patience,
    )
    return {
        "day": day.isoformat(),
        "queue": args.queue,
        "weeks": args.weeks,
        "aht": aht,
        "model": "erlang-a" if args.patience is not None else "erlang-c",
        "intervals": [r.to_json() for r in rows],
    }


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "staffing", help="Erlang C / Erlang A staffing: a calculator and a forecast from history"
    )
    kinds = p.add_subparsers(dest="kind", metavar="KIND", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--target", type=float, required=True, help="target answer time, seconds (e.g. 20)")
        q.add_argument("--sl", type=float, default=0.8, help="service-level target, a share (default 0.8)")
        q.add_argument(
            "--patience", type=float, help="callers' mean patience, seconds: Erlang A (else Erlang C)"
        )
        q.add_argument("--shrinkage", type=float, default=0.0, help="share of paid time not on calls, [0, 1)")

    c = kinds.add_parser("calc", help="agents needed, and the figures of given agent counts")
    c.add_argument("--calls", type=float, required=True, help="calls per interval")
    c.add_argument("--interval", type=float, default=1800.0, help="interval, seconds (default 1800)")
    c.add_argument("--aht", type=float, required=True, help="average handling time, seconds")
    c.add_argument(
        "--agents", type=int, action="append", default=[], help="an agent count to show (repeatable)"
    )
    c.add_argument("--format", choices=("table", "csv", "json"), default="table")
    common(c)
    c.set_defaults(func=run)

    f = kinds.add_parser("forecast", help="agents per 15-minute interval of a day, from the store's history")
    f.add_argument("--config", required=True, help="TOML configuration file (the [store] url is read)")
    f.add_argument("--day", required=True, help="the day to staff, YYYY-MM-DD")
    f.add_argument("--weeks", type=int, default=4, help="same weekdays of history to average (default 4)")
    f.add_argument("--queue", help="only this queue's arrivals (default: every queue)")
    f.add_argument("--aht", type=float, help="seconds (default: the history's mean talk of answered calls)")
    f.add_argument("--tz", help="IANA time zone of the intervals (default: local time)")
    f.add_argument("--format", choices=("table", "csv", "json"), default="table")
    common(f)
    f.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.kind == "calc":
            traffic = Traffic(args.calls, args.interval, args.aht, args.patience)
            out = calculate(traffic, args.target, args.sl, args.shrinkage, args.agents)
        else:
            out = run_forecast(args)
    except (ConfigError, UsageError) as e:
        print(f"cti staffing: {e}", file=sys.stderr)
        return 2
    if args.format == "json":
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    elif args.format == "csv":
        rows, columns = (
            (out["figures"], FIGURE_COLUMNS) if args.kind == "calc" else (out["intervals"], PLAN_COLUMNS)
        )
        sys.stdout.write(render_csv(rows, columns))
    elif args.kind == "calc":
        head = (
            f"{out['model']}: {out['load_erlangs']:g} Erlangs; agents needed {out['agents_needed']}, "
            f"scheduled with shrinkage {out['scheduled']}\n"
        )
        sys.stdout.write(head + render_table(out["figures"], FIGURE_COLUMNS))
    else:
        sys.stdout.write(f"{out['day']} ({out['model']}, AHT {out['aht']:g}s, {out['weeks']} weeks)\n")
        sys.stdout.write(render_table(out["intervals"], PLAN_COLUMNS))
    return 0
