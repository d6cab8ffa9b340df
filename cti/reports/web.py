"""The console's reports page backend: ``GET /api/reports`` answered from the daemon's store.

Query: ``kind`` (cti/reports/kinds.py), ``from``/``to`` (days or ISO date-times, as `cti report`),
``queue`` and ``agent`` (optional filters). The answer is the report as JSON (columns, rows, summary) plus
the queues and agents of the range, for the page's filters. A bad query raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from cti.config import Config
from cti.core.errors import UsageError
from cti.reports.cli import (
    ReportBudgets,
    ReportCalls,
    ReportCodes,
    ReportStates,
    parse_range,
    read_input,
)
from cti.reports.kinds import KINDS


def endpoint(
    calls: ReportCalls,
    cfg: Config,
    states: ReportStates | None = None,
    budgets: ReportBudgets | None = None,
    codes: ReportCodes | None = None,
) -> Callable[[Mapping[str, str]], Awaitable[dict[str, Any]]]:
    async def answer(query: Mapping[str, str]) -> dict[str, Any]:
        kind = query.get("kind", "queue")
        if kind not in KINDS:
            raise ValueError(f"unknown report kind {kind!r}: one of {', '.join(KINDS)}")
        try:
            start, end = parse_range(query.get("from", ""), query.get("to", ""))
        except UsageError as e:
            raise ValueError(str(e)) from None
        queue, agent = query.get("queue") or None, query.get("agent") or None
        inp = await read_input(calls, cfg, start, end, queue, agent, states, budgets, codes=codes)
        report = KINDS[kind](inp)
        return {
            "kind": kind,
            "from": start,
            "to": end,
            "columns": [list(c) for c in report.columns],
            "rows": report.rows,
            "summary": report.summary,
            "queues": sorted({leg.queue for j in inp.journeys for leg in j.queue_legs}),
            "agents": sorted({leg.agent for j in inp.journeys for leg in j.queue_legs if leg.agent}),
            "kinds": list(KINDS),
        }

    return answer
