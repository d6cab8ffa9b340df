"""`cti report`: queue and agent figures over a date range, from the store.

    cti report --config FILE --from 2026-11-01 --to 2026-11-30 [--by queue|agent] [--format table|csv|json]

``--from`` and ``--to`` are calendar days in local time, both included (or ISO date-times, ``--to``
then excluded). The figures are computed by cti/reports/metrics.py, the code behind the supervisor's live
board, over the queue visits (legs) that began in the range; docs/metrics.md defines each column.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import io
import json
import sys
from collections.abc import Collection, Sequence
from typing import Any

from cti.config import Config, load_config
from cti.core.errors import ConfigError, UsageError
from cti.core.journey import QueueLeg
from cti.reports.metrics import AgentRollup, agent_outcomes, agent_stats, queue_stats

QUEUE_COLUMNS = (
    ("queue", "Queue"),
    ("offered", "Offered"),
    ("answered", "Answered"),
    ("abandoned", "Abandoned"),
    ("avg_wait_answered", "ASA"),
    ("avg_wait", "Avg wait"),
    ("max_wait", "Max wait"),
    ("avg_talk", "Avg talk"),
    ("service_level", "Service level"),
    ("threshold", "SL seconds"),
    ("abandon_rate", "Abandon rate"),
    ("timed_out", "Timed out"),
    ("transferred", "Transferred"),
)
AGENT_COLUMNS = (
    ("agent", "Agent"),
    ("offered", "Offered"),
    ("answered", "Answered"),
    ("answer_rate", "Answer rate"),
    ("avg_wait_answered", "ASA"),
    ("max_wait_answered", "Max wait"),
    ("aht", "Avg talk"),
    ("talk_seconds", "Talk total"),
    ("transfers", "Transfers"),
    ("ring_no_answer", "Ring no answer"),
    ("dispositioned", "Dispositioned"),
    ("successes", "Successes"),
    ("success_rate", "Success rate"),
)
_DURATIONS = {
    "avg_wait_answered",
    "avg_wait",
    "max_wait",
    "max_wait_answered",
    "avg_talk",
    "aht",
    "talk_seconds",
}
_RATIOS = {"service_level", "abandon_rate", "answer_rate", "success_rate", "disposition_rate"}


def parse_range(start: str, end: str) -> tuple[float, float]:
    """[start, end) in epoch seconds. Dates are whole local days, ``end`` included."""

    def point(text: str, is_end: bool) -> float:
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text)
                if is_end:
                    day += dt.timedelta(days=1)
                return dt.datetime.combine(day, dt.time()).timestamp()
            return dt.datetime.fromisoformat(text).timestamp()
        except ValueError:
            raise UsageError(f"{text!r} is not a date (YYYY-MM-DD) or an ISO date-time") from None

    lo, hi = point(start, False), point(end, True)
    if hi <= lo:
        raise UsageError(f"the range {start} .. {end} is empty")
    return lo, hi


def queue_rows(legs: Sequence[QueueLeg], cfg: Config) -> list[dict[str, Any]]:
    queues = sorted({leg.queue for leg in legs})
    return [queue_stats(q, legs, cfg.reports.threshold(q)).to_json() for q in queues]


def agent_rows(
    legs: Sequence[QueueLeg],
    dispositions: Sequence[tuple[str, str, str]] = (),
    success: Collection[str] = (),
) -> list[dict[str, Any]]:
    """Per agent: the figures of the calls they were offered, then what those calls came to (outcomes).

    ``dispositions``: (linkedid, agent, disposition) of the answered calls (``Store.answered_dispositions``).
    """
    agents = AgentRollup()
    for leg in legs:
        agents.add(leg)
    saved: dict[str, list[str]] = {}
    for _, agent, disposition in dispositions:
        saved.setdefault(agent, []).append(disposition)
    rows = []
    for a in agents.agents():
        stats = agent_stats(a, legs)
        outcomes = agent_outcomes(a, stats.answered, saved.get(a, []), success)
        rows.append({**stats.to_json(), **outcomes.to_json()})
    return rows


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in _RATIOS:
        return f"{value * 100:.1f}%"
    if key in _DURATIONS:
        return f"{value:.1f}s"
    return str(value)


def render_table(rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    cells = [[title for _, title in columns]] + [[_cell(k, row.get(k)) for k, _ in columns] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    lines = []
    for n, r in enumerate(cells):
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    if not rows:
        lines.append("(no calls in this range)")
    return "\n".join(lines) + "\n"


def render_csv(rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([k for k, _ in columns])
    for row in rows:
        writer.writerow(["" if row.get(k) is None else row.get(k) for k, _ in columns])
    return out.getvalue()


async def build(cfg: Config, start: float, end: float, by: str) -> list[dict[str, Any]]:
    from cti.store import Store

    store = await Store.open(cfg.store.url, default_country=cfg.store.default_country)
    try:
        legs = await store.calls.queue_legs(start, end)
        if by == "queue":
            return queue_rows(legs, cfg)
        dispositions = await store.calls.answered_dispositions(start, end)
    finally:
        await store.close()
    return agent_rows(legs, dispositions, set(cfg.reports.success_dispositions))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="queue and agent figures over a date range, from the store")
    p.add_argument("--config", required=True, help="TOML configuration file (the [store] url is read)")
    p.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD (local time)")
    p.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD, included")
    p.add_argument("--by", choices=("queue", "agent"), default="queue")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
        start, end = parse_range(args.start, args.end)
        rows = asyncio.run(build(cfg, start, end, args.by))
    except (ConfigError, UsageError) as e:
        print(f"cti report: {e}", file=sys.stderr)
        return 2
    columns = QUEUE_COLUMNS if args.by == "queue" else AGENT_COLUMNS
    if args.format == "json":
        period = {
            "from": dt.datetime.fromtimestamp(start).isoformat(),
            "to": dt.datetime.fromtimestamp(end).isoformat(),
        }
        sys.stdout.write(json.dumps({"by": args.by, "period": period, "rows": rows}, indent=2) + "\n")
    elif args.format == "csv":
        sys.stdout.write(render_csv(rows, columns))
    else:
        sys.stdout.write(render_table(rows, columns))
    return 0
