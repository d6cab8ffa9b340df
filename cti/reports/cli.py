"""`cti report`: the report kinds over a date range, from the store.

    cti report --config FILE --kind NAME --from 2026-11-01 --to 2026-11-30
               [--queue Q] [--agent A] [--format table|csv|json|xlsx] [--output FILE]

``--from`` and ``--to`` are calendar days in local time, both included (or ISO date-times, ``--to``
then excluded). The rows are built by cti/reports/kinds.py over the calls that started in the range, every
figure by cti/reports/metrics.py (the code behind the supervisor's live board); docs/metrics.md defines
each column. ``--by queue|agent`` is the older spelling of ``--kind queue|agent``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import io
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cti.config import Config, load_config
from cti.core.dispositions import Code, report_outcomes
from cti.core.errors import ConfigError, UsageError
from cti.reports.kinds import KINDS, Columns, Order, Report, ReportInput
from cti.reports.states import staffed

if TYPE_CHECKING:
    from cti.core.journey import CallJourney
    from cti.reports.email_metrics import EmailTask
    from cti.reports.states import AgentTime


class ReportCalls(Protocol):
    """What the reports read from the store (``store.calls``, cti/store/calls_repo.py)."""

    async def journeys(self, start: float, end: float) -> list[CallJourney]: ...

    async def answered_dispositions(self, start: float, end: float) -> list[tuple[str, str, str]]: ...

    async def call_customers(self, start: float, end: float) -> dict[str, int]: ...

    async def call_dispositions(self, start: float, end: float) -> dict[str, str]: ...

    async def orders_between(self, start: float, end: float) -> list[tuple[int, float, int]]: ...


class ReportBudgets(Protocol):
    """The campaigns' budgets in the store (``store.campaign_settings``): the campaign report's cost."""

    async def budgets(self) -> dict[str, float]: ...


class ReportCodes(Protocol):
    """The store's inbound disposition list (``store.dispositions``): what each code means as an outcome."""

    async def codes(self, *, active_only: bool = False) -> list[Code]: ...


class ReportStates(Protocol):
    """What the reports read of the agents' state history (``store.agent_states``)."""

    async def time_in_state(
        self, start: float, end: float, now: float | None = None
    ) -> dict[str, AgentTime]: ...


class ReportEmail(Protocol):
    """What the e-mail report reads (``store.email``, cti/store/email_repo.py)."""

    async def metric_rows(self, start: float, end: float) -> list[EmailTask]: ...


FORMATS = ("table", "csv", "json", "xlsx")
_DURATIONS = {
    "avg_wait_answered",
    "avg_wait",
    "max_wait",
    "max_wait_answered",
    "max_wait_abandoned",
    "avg_wait_abandoned",
    "avg_talk",
    "aht",
    "talk_seconds",
    "hold_seconds",
    "wrap_seconds",
    "handle_seconds",
    "period_seconds",
    "staffed_seconds",
    "logged_out",
    "available",
    "reserved",
    "ringing",
    "on_call",
    "wrap_up",
    "paused",
}
_RATIO_SUFFIXES = ("_rate", "_level", "share", "cumulative", "utilisation", "occupancy", "_long")


def _is_ratio(key: str) -> bool:
    return key.startswith("sl_") or key.endswith(_RATIO_SUFFIXES)


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


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and _is_ratio(key):
        return f"{value * 100:.1f}%"
    if isinstance(value, float) and (key in _DURATIONS or key.startswith("pause:")):
        return f"{value:.1f}s"
    return str(value)


def render_table(rows: list[dict[str, Any]], columns: Columns, summary: dict[str, Any] | None = None) -> str:
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
    for k, v in (summary or {}).items():
        lines.append(f"{k}: {'-' if v is None else v}")
    return "\n".join(lines) + "\n"


def render_csv(rows: list[dict[str, Any]], columns: Columns) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([k for k, _ in columns])
    for row in rows:
        writer.writerow(["" if row.get(k) is None else row.get(k) for k, _ in columns])
    return out.getvalue()


def render_xlsx(report: Report, period: dict[str, str]) -> bytes:
    """One sheet of rows (figures as numbers, ratios formatted as percentages), one of the summary."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = report.kind[:31]
    ws.append([title for _, title in report.columns])
    for row in report.rows:
        ws.append([_xlsx_value(row.get(k)) for k, _ in report.columns])
    for col, (key, _) in enumerate(report.columns, start=1):
        if _is_ratio(key):
            for r in range(2, len(report.rows) + 2):
                ws.cell(row=r, column=col).number_format = "0.0%"
    info = wb.create_sheet("summary")
    info.append(["kind", report.kind])
    for k, v in {**period, **report.summary}.items():
        info.append([k, _xlsx_value(v)])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _xlsx_value(v: Any) -> Any:
    return v if v is None or isinstance(v, int | float | str) else json.dumps(v)


async def load_input(
    cfg: Config, start: float, end: float, queue: str | None = None, agent: str | None = None
) -> ReportInput:
    """What the store holds for the range, with the configuration's thresholds and mappings."""
    from cti.store import Store

    store = await Store.open(cfg.store.url, default_country=cfg.store.default_country)
    try:
        return await read_input(
            store.calls,
            cfg,
            start,
            end,
            queue,
            agent,
            store.agent_states,
            store.campaign_settings,
            email=store.email,
            codes=store.dispositions,
        )
    finally:
        await store.close()


async def read_input(
    calls: ReportCalls,
    cfg: Config,
    start: float,
    end: float,
    queue: str | None = None,
    agent: str | None = None,
    states: ReportStates | None = None,
    budgets: ReportBudgets | None = None,
    *,
    email: ReportEmail | None = None,
    codes: ReportCodes | None = None,
) -> ReportInput:
    """``load_input`` over a store already open (the daemon's ``store.calls``, for the reports page).
    A campaign's budget is the store's (set on the campaign page), else ``[reports] campaign_budgets``."""
    r = cfg.reports
    spend = dict(r.campaign_budgets)
    if budgets is not None:
        spend.update(await budgets.budgets())
    window = r.revenue_window_hours * 3600
    journeys = await calls.journeys(start, end)
    dispositions = await calls.answered_dispositions(start, end)
    customers = await calls.call_customers(start, end)
    saved = await calls.call_dispositions(start, end)
    orders = await calls.orders_between(start, end + window)
    # an open interval (the agent's current state) counts up to now, never into the future
    times = {} if states is None else await states.time_in_state(start, end, time.time())
    email_tasks = [] if email is None else await email.metric_rows(start, end)
    # the store's disposition list says what its codes mean; [reports] the rest (docs/metrics.md)
    known = [] if codes is None else await codes.codes()
    success, outcomes = report_outcomes(known, r.success_dispositions, r.outcomes)
    wrapup: dict[str, float] = {}
    for a in cfg.asterisk:
        wrapup.update(a.wrapup_seconds)
    wrapup.update({q: c.wrapup_seconds for q, c in cfg.routing.queues.items() if c.wrapup_seconds})
    return ReportInput(
        start=start,
        end=end,
        journeys=journeys,
        dispositions=dispositions,
        call_dispositions=saved,
        customers=customers,
        orders=[Order(c, at, cents / 100) for c, at, cents in orders],
        thresholds=lambda q: (r.threshold(q), r.short_abandon(q)),
        wrapup=wrapup,
        outcomes=outcomes,
        success=success,
        revenue_window=window,
        budgets=spend,
        staffed=staffed(times),
        states=times,
        queue=queue,
        agent=agent,
        email_tasks=email_tasks,
    )


async def build(
    cfg: Config, start: float, end: float, kind: str, queue: str | None = None, agent: str | None = None
) -> Report:
    if kind not in KINDS:
        raise UsageError(f"unknown report kind {kind!r}: one of {', '.join(KINDS)}")
    return KINDS[kind](await load_input(cfg, start, end, queue, agent))


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="call-center reports over a date range, from the store")
    p.add_argument("--config", required=True, help="TOML configuration file (the [store] url is read)")
    p.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD (local time)")
    p.add_argument("--to", dest="end", required=True, help="last day, YYYY-MM-DD, included")
    p.add_argument("--kind", help=f"the report: {', '.join(KINDS)} (default queue)")
    p.add_argument("--by", choices=("queue", "agent"), help="the same as --kind queue|agent")
    p.add_argument("--queue", help="only this queue's calls")
    p.add_argument("--agent", help="only this agent's calls (the member name)")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--output", metavar="FILE", help="write here instead of standard output (xlsx needs it)")
    p.set_defaults(func=run)


def render(report: Report, fmt: str, start: float, end: float) -> str | bytes:
    period = {
        "from": dt.datetime.fromtimestamp(start).isoformat(),
        "to": dt.datetime.fromtimestamp(end).isoformat(),
    }
    if fmt == "json":
        doc = {"kind": report.kind, "period": period, "rows": report.rows, "summary": report.summary}
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return render_csv(report.rows, report.columns)
    if fmt == "xlsx":
        return render_xlsx(report, period)
    return render_table(report.rows, report.columns, report.summary)


def run(args: argparse.Namespace) -> int:
    try:
        kind = args.kind or args.by or "queue"
        if args.kind and args.by and args.kind != args.by:
            raise UsageError("--by and --kind disagree: give one")
        if kind not in KINDS:
            raise UsageError(f"unknown report kind {kind!r}: one of {', '.join(KINDS)}")
        if args.format == "xlsx" and not args.output:
            raise UsageError("--format xlsx needs --output FILE")
        cfg = load_config(args.config)
        start, end = parse_range(args.start, args.end)
        report = asyncio.run(build(cfg, start, end, kind, args.queue, args.agent))
    except (ConfigError, UsageError) as e:
        print(f"cti report: {e}", file=sys.stderr)
        return 2
    out = render(report, args.format, start, end)
    if args.output:
        path = Path(args.output)
        try:
            if isinstance(out, bytes):
                path.write_bytes(out)
            else:
                path.write_text(out, encoding="utf-8")
        except OSError as e:
            print(f"cti report: {args.output}: {e.strerror}", file=sys.stderr)
            return 2
    else:
        assert isinstance(out, str)
        sys.stdout.write(out)
    return 0
