"""The report kinds of `cti report --kind NAME` (pure: stored calls in, rows out).

Each kind is a function of one :class:`ReportInput` (what the store holds for the range) to a
:class:`Report` (columns and rows, plus a few summary figures); every figure in it comes from
cti/reports/metrics.py, the one place the definitions live (docs/metrics.md).
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cti.core.journey import CallJourney, Direction, JourneyOutcome, LegOutcome, QueueLeg
from cti.reports.email_metrics import EmailTask, email_metrics
from cti.reports.metrics import (
    ANSWERED_OUTCOMES,
    DURATION_BUCKETS,
    REPEAT_WINDOW_SECONDS,
    WAIT_BUCKETS,
    agent_outcomes,
    agent_stats,
    aht,
    campaign_results,
    histogram,
    occupancy,
    percentile,
    queue_stats,
    repeat_flags,
    utilisation,
)
from cti.reports.states import AgentTime

Columns = tuple[tuple[str, str], ...]  # (key, title)


@dataclass(frozen=True, slots=True)
class Report:
    kind: str
    columns: Columns
    rows: list[dict[str, Any]]
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Order:
    customer_id: int
    placed_at: float
    amount: float  # in currency units


@dataclass(frozen=True, slots=True)
class ReportInput:
    """What the store holds for ``[start, end)``: the calls that started in it, and what came of them."""

    start: float
    end: float
    journeys: Sequence[CallJourney]
    # (linkedid, agent, disposition) of the calls agents answered and dispositioned
    dispositions: Sequence[tuple[str, str, str]] = ()
    call_dispositions: Mapping[str, str] = field(default_factory=dict)  # linkedid -> latest disposition
    customers: Mapping[str, int] = field(default_factory=dict)  # linkedid -> the customer it is filed under
    orders: Sequence[Order] = ()  # orders placed from ``start`` to ``end`` + the revenue window
    # queue -> (service-level threshold, short-abandon threshold)
    thresholds: Callable[[str], tuple[float, float]] = lambda q: (20.0, 0.0)
    wrapup: Mapping[str, float] = field(default_factory=dict)  # queue -> wrap-up seconds after each call
    outcomes: Mapping[str, str] = field(default_factory=dict)  # disposition -> "resolution" | "sale"
    success: Collection[str] = ()
    revenue_window: float = 86400.0
    budgets: Mapping[str, float] = field(default_factory=dict)  # campaign -> spend
    # agent -> (staffed seconds, available seconds) from the agent state history, when the store has it
    staffed: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    states: Mapping[str, AgentTime] = field(default_factory=dict)  # agent -> time in state, in the range
    queue: str | None = None
    agent: str | None = None
    email_tasks: Sequence[EmailTask] = ()  # the e-mail tasks received in the range (issue #13)

    def legs(self) -> list[QueueLeg]:
        """The finished queue legs of the calls, under the --queue/--agent filters."""
        return [
            leg
            for j in self.journeys
            for leg in j.queue_legs
            if leg.outcome is not None
            and (self.queue is None or leg.queue == self.queue)
            and (self.agent is None or leg.agent == self.agent)
        ]

    def calls(self) -> list[CallJourney]:
        """The calls under the filters: with a leg in --queue, talked to by --agent."""
        return [
            j
            for j in self.journeys
            if (self.queue is None or any(leg.queue == self.queue for leg in j.queue_legs))
            and (
                self.agent is None
                or self.agent in j.agents
                or any(x.agent == self.agent for x in j.queue_legs)
            )
        ]


def _queue_rows(inp: ReportInput, groups: Mapping[tuple[str, ...], list[QueueLeg]]) -> list[dict[str, Any]]:
    rows = []
    for key in sorted(groups):
        q = key[0]
        t, s = inp.thresholds(q)
        rows.append({"group": key, **queue_stats(q, groups[key], t, s).to_json()})
    return rows


QUEUE_COLUMNS: Columns = (
    ("queue", "Queue"),
    ("offered", "Offered"),
    ("answered", "Answered"),
    ("abandoned", "Abandoned"),
    ("avg_wait_answered", "ASA"),
    ("avg_wait", "Avg wait"),
    ("max_wait", "Max wait"),
    ("avg_talk", "Avg talk"),
    ("service_level", "Service level"),
    ("sl_asterisk", "SL (app_queue)"),
    ("sl_asterisk2", "SL2 (app_queue)"),
    ("threshold", "SL seconds"),
    ("abandon_rate", "Abandon rate"),
    ("timed_out", "Timed out"),
    ("transferred", "Transferred"),
)


def queue_report(inp: ReportInput) -> Report:
    legs = inp.legs()
    by: dict[tuple[str, ...], list[QueueLeg]] = {}
    for leg in legs:
        by.setdefault((leg.queue,), []).append(leg)
    rows = [{k: v for k, v in r.items() if k != "group"} for r in _queue_rows(inp, by)]
    return Report("queue", QUEUE_COLUMNS, rows)


AGENT_COLUMNS: Columns = (
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


def agent_report(inp: ReportInput) -> Report:
    legs = [
        leg
        for j in inp.journeys
        for leg in j.queue_legs
        if leg.outcome is not None and (inp.queue is None or leg.queue == inp.queue)
    ]
    saved: dict[str, list[str]] = {}
    for _, agent, disposition in inp.dispositions:
        saved.setdefault(agent, []).append(disposition)
    agents = sorted(
        {leg.agent for leg in legs if leg.agent} | {a for leg in legs for a in leg.ring_no_answer}
    )
    rows = []
    for a in agents:
        if inp.agent is not None and a != inp.agent:
            continue
        stats = agent_stats(a, legs)
        rows.append(
            {**stats.to_json(), **agent_outcomes(a, stats.answered, saved.get(a, []), inp.success).to_json()}
        )
    return Report("agent", AGENT_COLUMNS, rows)


DISTRIBUTION_COLUMNS: Columns = (
    ("bucket", "Duration"),
    ("low", "From s"),
    ("high", "To s"),
    ("calls", "Calls"),
    ("share", "Share"),
    ("cumulative", "Cumulative"),
)


def _distribution(kind: str, values: list[float], bounds: Sequence[float]) -> Report:
    rows = [
        {
            "bucket": b.label,
            "low": b.low,
            "high": b.high,
            "calls": b.count,
            "share": _r(b.share),
            "cumulative": _r(b.cumulative),
        }
        for b in histogram(values, bounds)
    ]
    summary = {
        "count": len(values),
        "mean": round(sum(values) / len(values), 6) if values else None,
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "max": max(values) if values else None,
    }
    return Report(kind, DISTRIBUTION_COLUMNS, rows, summary)


def call_duration_report(inp: ReportInput) -> Report:
    """Talk time of every answered queue leg (hold included, as app_queue measures it)."""
    return _distribution(
        "call-duration",
        [leg.talk_seconds for leg in inp.legs() if leg.outcome in ANSWERED_OUTCOMES],
        DURATION_BUCKETS,
    )


WAIT_COLUMNS: Columns = (
    ("bucket", "Wait"),
    ("low", "From s"),
    ("high", "To s"),
    ("calls", "Offered"),
    ("answered", "Answered"),
    ("abandoned", "Abandoned"),
    ("share", "Share"),
    ("cumulative", "Cumulative"),
)


def wait_duration_report(inp: ReportInput) -> Report:
    """Wait of every offered queue leg, with how many of each bucket were answered and abandoned."""
    legs = inp.legs()
    report = _distribution("wait-duration", [leg.wait_seconds for leg in legs], WAIT_BUCKETS)
    answered = histogram([leg.wait_seconds for leg in legs if leg.outcome in ANSWERED_OUTCOMES], WAIT_BUCKETS)
    abandoned = histogram(
        [leg.wait_seconds for leg in legs if leg.outcome is LegOutcome.ABANDONED], WAIT_BUCKETS
    )
    rows = [
        {**r, "answered": a.count, "abandoned": b.count}
        for r, a, b in zip(report.rows, answered, abandoned, strict=True)
    ]
    return Report("wait-duration", WAIT_COLUMNS, rows, report.summary)


INBOUND_COLUMNS: Columns = (
    ("queue", "Queue"),
    ("did", "DID"),
    ("hour", "Hour"),
    ("offered", "Offered"),
    ("answered", "Answered"),
    ("abandoned", "Abandoned"),
    ("service_level", "Service level"),
    ("sl_asterisk", "SL (app_queue)"),
    ("avg_wait_answered", "ASA"),
    ("aht", "AHT"),
    ("abandon_rate", "Abandon rate"),
)


def hour_of(t: float) -> str:
    """The local hour an epoch time falls in, as 'YYYY-MM-DD HH:00'."""
    return dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:00")


def inbound_report(inp: ReportInput) -> Report:
    """Inbound queue legs by queue, DID (the number the caller dialled) and the hour they entered."""
    by: dict[tuple[str, ...], list[QueueLeg]] = {}
    keep = set(map(id, inp.legs()))
    for j in inp.journeys:
        if j.direction is not Direction.INBOUND:
            continue
        for leg in j.queue_legs:
            if id(leg) in keep:
                by.setdefault((leg.queue, j.did, hour_of(leg.entered_at)), []).append(leg)
    rows = []
    for r in _queue_rows(inp, by):
        _, did, hour = r.pop("group")
        rows.append({**r, "did": did, "hour": hour})
    return Report("inbound", INBOUND_COLUMNS, rows)


LOAD_COLUMNS: Columns = (
    ("agent", "Agent"),
    ("answered", "Answered"),
    ("talk_seconds", "Talk"),
    ("hold_seconds", "Hold"),
    ("wrap_seconds", "Wrap-up"),
    ("handle_seconds", "Handle"),
    ("aht", "AHT"),
    ("period_seconds", "Period"),
    ("load_rate", "Load rate"),
    ("staffed_seconds", "Staffed"),
    ("utilisation", "Utilisation"),
    ("occupancy", "Occupancy"),
)


def _hold_by_leg(journeys: Sequence[CallJourney]) -> dict[int, float]:
    """A call's hold time, put on its last answered leg (the call has one hold total)."""
    out: dict[int, float] = {}
    for j in journeys:
        answered = [leg for leg in j.queue_legs if leg.outcome in ANSWERED_OUTCOMES]
        if answered and j.hold_seconds:
            out[id(answered[-1])] = min(j.hold_seconds, answered[-1].talk_seconds)
    return out


def agent_load_report(inp: ReportInput) -> Report:
    """Per agent: handle time (talk + hold + wrap-up) and its share of the period, of staffed time
    (utilisation) and of ready time (occupancy) when the store has the agents' state history."""
    hold = _hold_by_leg(inp.journeys)
    period = inp.end - inp.start
    mine: dict[str, list[QueueLeg]] = {}
    for leg in inp.legs():
        if leg.agent and leg.outcome in ANSWERED_OUTCOMES:
            mine.setdefault(leg.agent, []).append(leg)
    rows = []
    for a in sorted(mine):
        legs = mine[a]
        held = sum(hold.get(id(leg), 0.0) for leg in legs)
        talk = sum(leg.talk_seconds for leg in legs) - held  # app_queue's talk spans the hold
        wrap = sum(inp.wrapup.get(leg.queue, 0.0) for leg in legs)
        handle = talk + held + wrap
        staffed, available = inp.staffed.get(a, (0.0, 0.0))
        rows.append(
            {
                "agent": a,
                "answered": len(legs),
                "talk_seconds": round(talk, 6),
                "hold_seconds": round(held, 6),
                "wrap_seconds": round(wrap, 6),
                "handle_seconds": round(handle, 6),
                "aht": _r(aht(talk, held, wrap, len(legs))),
                "period_seconds": period,
                "load_rate": _r(handle / period if period > 0 else None),
                "staffed_seconds": staffed if a in inp.staffed else None,
                "utilisation": _r(utilisation(handle, staffed)) if a in inp.staffed else None,
                "occupancy": _r(occupancy(handle, available)) if a in inp.staffed else None,
            }
        )
    return Report("agent-load", LOAD_COLUMNS, rows)


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 6)


ABANDON_COLUMNS: Columns = (
    ("queue", "Queue"),
    ("position", "Position"),
    ("offered", "Offered"),
    ("abandoned", "Abandoned"),
    ("short_abandoned", "Short"),
    ("abandon_rate", "Abandon rate"),
    ("abandon_rate_long", "Abandon rate (no short)"),
    ("avg_wait_abandoned", "Avg wait at abandon"),
    ("max_wait_abandoned", "Max wait at abandon"),
)


def abandon_report(inp: ReportInput) -> Report:
    """Per queue ("all") and per position the caller entered at: the abandons and the wait before them."""
    legs = inp.legs()
    by: dict[tuple[str, ...], list[QueueLeg]] = {}
    for leg in legs:
        by.setdefault((leg.queue, ""), []).append(leg)  # the queue's total, sorted first
        by.setdefault((leg.queue, f"{leg.position:06d}"), []).append(leg)
    rows = []
    for r in _queue_rows(inp, by):
        q, pos = r.pop("group")
        waits = [leg.wait_seconds for leg in by[(q, pos)] if leg.outcome is LegOutcome.ABANDONED]
        rows.append(
            {
                **r,
                "position": int(pos) if pos else "all",
                "max_wait_abandoned": max(waits) if waits else None,
            }
        )
    return Report("abandon", ABANDON_COLUMNS, rows)


TRANSFER_COLUMNS: Columns = (
    ("queue", "Queue"),
    ("agent", "Agent"),
    ("answered", "Answered"),
    ("transferred", "Transferred"),
    ("transfer_rate", "Transfer rate"),
)


def transfer_report(inp: ReportInput) -> Report:
    """Per queue ("all" agents) and per queue and answering agent: transferred / answered legs."""
    by: dict[tuple[str, str], list[QueueLeg]] = {}
    for leg in inp.legs():
        if leg.outcome in ANSWERED_OUTCOMES and leg.agent:
            by.setdefault((leg.queue, "all"), []).append(leg)
            by.setdefault((leg.queue, leg.agent), []).append(leg)
    rows = []
    for q, a in sorted(by, key=lambda k: (k[0], k[1] != "all", k[1])):
        legs = by[(q, a)]
        moved = sum(1 for leg in legs if leg.outcome is LegOutcome.TRANSFERRED)
        rows.append(
            {
                "queue": q,
                "agent": a,
                "answered": len(legs),
                "transferred": moved,
                "transfer_rate": _r(moved / len(legs)),
            }
        )
    return Report("transfer", TRANSFER_COLUMNS, rows)


PERFORMANCE_COLUMNS: Columns = (
    ("agent", "Agent"),
    ("answered", "Answered"),
    ("aht", "AHT"),
    ("resolutions", "Resolutions"),
    ("resolution_rate", "Resolution rate"),
    ("sales", "Sales"),
    ("sale_rate", "Sale rate"),
    ("revenue", "Revenue"),
    ("revenue_per_call", "Revenue/call"),
    ("repeat_calls", "Repeats 7d"),
    ("fcr_rate", "FCR (no repeat 7d)"),
    ("success_rate", "Success rate"),
)


def remote_key(j: CallJourney) -> str:
    """Who the call was with: the remote party's number (the caller inbound, the callee outbound)."""
    return j.did if j.direction is Direction.OUTBOUND else j.caller_number


def credited_orders(
    calls: Sequence[tuple[int, float, str]], orders: Sequence[Order], window: float
) -> dict[str, float]:
    """Revenue per agent: each order goes to the latest answered call of its customer at or before it,
    when the call was answered at most ``window`` seconds before.

    ``calls``: (customer, answered_at, agent)."""
    by: dict[int, list[tuple[float, str]]] = {}
    for customer, at, agent in calls:
        by.setdefault(customer, []).append((at, agent))
    for v in by.values():
        v.sort()
    out: dict[str, float] = {}
    for o in orders:
        mine = by.get(o.customer_id, [])
        i = bisect.bisect_right(mine, (o.placed_at, "\U0010ffff")) - 1
        if i >= 0 and o.placed_at - mine[i][0] <= window:
            out[mine[i][1]] = out.get(mine[i][1], 0.0) + o.amount
    return out


def agent_performance_report(inp: ReportInput) -> Report:
    """Agents compared by what their answered calls came to: resolutions and sales (dispositions mapped by
    ``[reports.outcomes]``), revenue (the callers' orders after the call), repeat calls within 7 days."""
    legs = inp.legs()
    answered: dict[str, list[QueueLeg]] = {}
    for leg in legs:
        if leg.agent and leg.outcome in ANSWERED_OUTCOMES:
            answered.setdefault(leg.agent, []).append(leg)
    # every call of the range, for the repeats (a repeat is any later call of the same number)
    calls = sorted(inp.journeys, key=lambda j: j.started_at)
    repeats = dict(
        zip(map(id, calls), repeat_flags([(remote_key(j), j.started_at) for j in calls]), strict=True)
    )
    handled: dict[str, list[CallJourney]] = {}
    for j in calls:
        agents = {leg.agent for leg in j.queue_legs if leg.outcome in ANSWERED_OUTCOMES and leg.agent}
        for who in agents:
            handled.setdefault(who, []).append(j)
    sold = [
        (inp.customers[j.linkedid], leg.answered_at, a)
        for a, js in handled.items()
        for j in js
        if j.linkedid in inp.customers
        for leg in j.queue_legs
        if leg.agent == a and leg.answered_at is not None and leg.outcome in ANSWERED_OUTCOMES
    ]
    revenue = credited_orders(sold, inp.orders, inp.revenue_window)
    outcome_of: dict[str, dict[str, int]] = {}
    saved: dict[str, list[str]] = {}
    for _, agent, disposition in inp.dispositions:
        kind = inp.outcomes.get(disposition)
        if kind is not None:
            counts = outcome_of.setdefault(agent, {})
            counts[kind] = counts.get(kind, 0) + 1
        saved.setdefault(agent, []).append(disposition)
    rows = []
    for a in sorted(answered):
        n = len(answered[a])
        stats = agent_stats(a, legs)
        mine = handled.get(a, [])
        rep = sum(1 for j in mine if repeats[id(j)])
        got = outcome_of.get(a, {})
        money = round(revenue.get(a, 0.0), 6)
        rows.append(
            {
                "agent": a,
                "answered": n,
                "aht": stats.aht,
                "resolutions": got.get("resolution", 0),
                "resolution_rate": _r(got.get("resolution", 0) / n),
                "sales": got.get("sale", 0),
                "sale_rate": _r(got.get("sale", 0) / n),
                "revenue": money,
                "revenue_per_call": _r(money / n),
                "repeat_calls": rep,
                "fcr_rate": _r(1 - rep / len(mine)) if mine else None,
                "success_rate": agent_outcomes(a, n, saved.get(a, []), inp.success).success_rate,
            }
        )
    return Report(
        "agent-performance", PERFORMANCE_COLUMNS, rows, {"repeat_window_days": REPEAT_WINDOW_SECONDS / 86400}
    )


CAMPAIGN_COLUMNS: Columns = (
    ("campaign", "Campaign"),
    ("dials", "Dials"),
    ("contacts", "Contacts"),
    ("contact_rate", "Contact rate"),
    ("abandoned", "Abandoned"),
    ("abandon_rate", "Abandon rate"),
    ("conversions", "Conversions"),
    ("conversion_rate", "Conversion rate"),
    ("budget", "Budget"),
    ("cost_per_conversion", "Cost/conversion"),
    ("revenue", "Revenue"),
    ("return_on_spend", "Revenue/spend"),
)


def campaign_report(inp: ReportInput) -> Report:
    """Outbound calls placed for a campaign in the range (the window): docs/metrics.md, campaign results."""
    calls = [j for j in inp.calls() if j.direction is Direction.OUTBOUND and j.campaign]
    sale = {d for d, k in inp.outcomes.items() if k == "sale"}
    converted = {linkedid for linkedid, d in inp.call_dispositions.items() if d in sale}
    by: dict[str, list[CallJourney]] = {}
    for j in calls:
        by.setdefault(str(j.campaign), []).append(j)
    rows = []
    for c in sorted(by):
        mine = by[c]
        contacts = [j for j in mine if j.outcome in (JourneyOutcome.ANSWERED, JourneyOutcome.DROPPED)]
        sold = [
            (inp.customers[j.linkedid], j.answered_at, c)
            for j in contacts
            if j.linkedid in inp.customers and j.answered_at is not None
        ]
        revenue = credited_orders(sold, inp.orders, inp.revenue_window).get(c, 0.0)
        rows.append(
            campaign_results(
                c,
                dials=len(mine),
                contacts=len(contacts),
                abandoned=sum(1 for j in contacts if j.outcome is JourneyOutcome.DROPPED),
                conversions=sum(1 for j in contacts if j.linkedid in converted),
                budget=inp.budgets.get(c),
                revenue=round(revenue, 6),
            ).to_json()
        )
    return Report("campaign", CAMPAIGN_COLUMNS, rows)


STATE_COLUMNS: Columns = (
    ("agent", "Agent"),
    ("staffed_seconds", "Staffed"),
    ("available", "Available"),
    ("reserved", "Reserved"),
    ("ringing", "Ringing"),
    ("on_call", "On call"),
    ("wrap_up", "Wrap-up"),
    ("paused", "Paused"),
    ("logged_out", "Logged out"),
)


def agent_states_report(inp: ReportInput) -> Report:
    """Per agent: seconds in each state within the range (the state history, clipped to it), and paused
    seconds by reason, one ``pause:REASON`` column each ('pause:-': paused without a reason)."""
    agents = [a for a in sorted(inp.states) if inp.agent is None or a == inp.agent]
    reasons = sorted({r for a in agents for r in inp.states[a].pauses})
    columns = STATE_COLUMNS + tuple((f"pause:{r or '-'}", f"Pause {r or '-'}") for r in reasons)
    rows = []
    for a in agents:
        t = inp.states[a]
        row: dict[str, Any] = {"agent": a, "staffed_seconds": round(t.staffed, 6)}
        for key, _ in STATE_COLUMNS[2:]:
            row[key] = t.states.get(key, 0.0)
        for r in reasons:
            row[f"pause:{r or '-'}"] = t.pauses.get(r, 0.0)
        rows.append(row)
    return Report("agent-states", columns, rows)


EMAIL_COLUMNS: Columns = (
    ("agent", "Agent"),
    ("offered", "Offered"),
    ("answered", "Answered"),
    ("answered_in_deadline", "Answered within deadline"),
    ("in_deadline_rate", "Within deadline rate"),
    ("handle_seconds", "Avg handle time"),
)


def email_report(inp: ReportInput) -> Report:
    """Per agent, the e-mail tasks received in the range (docs/metrics.md, "E-mail tasks"): offered,
    answered, answered within their deadline, mean handle time; the summary counts every task received,
    offered or not."""
    rows = []
    for m in email_metrics(inp.email_tasks):
        if inp.agent is not None and m.agent != inp.agent:
            continue
        rows.append(
            {
                "agent": m.agent,
                "offered": m.offered,
                "answered": m.answered,
                "answered_in_deadline": m.answered_in_deadline,
                "in_deadline_rate": _r(m.answered_in_deadline / m.answered) if m.answered else None,
                "handle_seconds": round(m.handle_time, 6),
            }
        )
    waiting = sum(1 for t in inp.email_tasks if t.offered is None)
    return Report("email", EMAIL_COLUMNS, rows, {"received": len(inp.email_tasks), "never_offered": waiting})


KINDS: dict[str, Callable[[ReportInput], Report]] = {
    "queue": queue_report,
    "agent": agent_report,
    "call-duration": call_duration_report,
    "wait-duration": wait_duration_report,
    "inbound": inbound_report,
    "agent-load": agent_load_report,
    "abandon": abandon_report,
    "transfer": transfer_report,
    "agent-performance": agent_performance_report,
    "campaign": campaign_report,
    "agent-states": agent_states_report,
    "email": email_report,
}
