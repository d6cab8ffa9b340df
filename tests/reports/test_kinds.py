"""Every `cti report --kind` over a small hand-computed set of calls, on SQLite and PostgreSQL.

The expected figures below are worked out by hand from the calls (see the comments), never computed by
the code under test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from cti.cli import main
from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import CallJourney, Direction, JourneyOutcome, LegOutcome, QueueLeg
from cti.store import Store
from cti.store.customers import NewCustomer

AT = dt.datetime(2026, 3, 2, 9, 0).timestamp()  # 09:00 local time
X, Z, Y = "+14155550101", "+14155550102", "+14155550106"  # customers; Y is called by the campaign


def inbound(
    n: int,
    queue: str,
    did: str,
    minute: float,
    position: int,
    outcome: LegOutcome,
    wait: float,
    agent: str | None = None,
    talk: float = 0.0,
    hold: float = 0.0,
    caller: str = "",
    rna: tuple[str, ...] = (),
) -> CallJourney:
    at = AT + minute * 60
    answered = outcome in (LegOutcome.ANSWERED, LegOutcome.TRANSFERRED)
    leg = QueueLeg(
        QueueName(queue),
        UniqueId(f"u{n}"),
        at,
        position,
        at + wait,
        outcome,
        AgentId(agent) if agent else None,
        [AgentId(a) for a in rna],
        wait,
        talk,
        at + wait if answered else None,
        at + wait + talk if answered else None,
    )
    j = CallJourney(
        LinkedId(f"c{n}"),
        Direction.INBOUND,
        at,
        caller or f"+1415555019{n}",
        "",
        did,
        at + wait + talk,
        JourneyOutcome.ANSWERED if answered else JourneyOutcome.ABANDONED,
        [leg],
        [AgentId(agent)] if agent else [],
    )
    j.server, j.hold_seconds, j.answered_at = "pbx1", hold, leg.answered_at
    return j


def outbound(n: int, outcome: JourneyOutcome, agent: str | None = None) -> CallJourney:
    at = AT + 3600 * 4 + n * 60
    j = CallJourney(LinkedId(f"c{n}"), Direction.OUTBOUND, at, Y if n == 7 else f"+1415555029{n}", "")
    j.did, j.ended_at, j.outcome, j.server, j.campaign = j.caller_number, at + 60, outcome, "pbx1", "spring"
    if outcome in (JourneyOutcome.ANSWERED, JourneyOutcome.DROPPED):
        j.answered_at = at + 5
    j.agents = [AgentId(agent)] if agent else []
    return j


A, T = LegOutcome.ANSWERED, LegOutcome.TRANSFERRED
CALLS = [
    inbound(1, "sales", "5551000", 0, 1, A, 10, "Alice", 100, hold=20, caller=X),
    inbound(2, "sales", "5551000", 10, 2, T, 30, "Bob", 200, caller=Z),
    inbound(3, "sales", "5552000", 65, 1, LegOutcome.ABANDONED, 3),  # short (< 5 s)
    inbound(4, "sales", "5552000", 80, 3, LegOutcome.ABANDONED, 15),
    inbound(5, "support", "5551000", 90, 1, A, 15, "Alice", 50, caller=X, rna=("Bob",)),  # X again
    inbound(6, "support", "5551000", 120, 2, LegOutcome.TIMEOUT, 60),
    outbound(7, JourneyOutcome.ANSWERED, "Alice"),
    outbound(8, JourneyOutcome.DROPPED),
    outbound(9, JourneyOutcome.NO_ANSWER),
]
DISPOSITIONS = [
    ("c1", "Alice", "sale"),
    ("c2", "Bob", "resolved"),
    ("c5", "Alice", "resolved"),
    ("c7", "Alice", "sale"),
]
# (customer's number, minutes after 09:00, amount in cents)
ORDERS = [(X, 30, 5000), (Z, 20, 7000), (X, 120, 3000), (X, 90 + 25 * 60, 999), (Y, 5 * 60, 12000)]


@pytest.fixture
def config(db_url: str, tmp_path: Path) -> Path:
    async def fill() -> None:
        store = await Store.open(db_url)
        try:
            ids = {n: await store.customers.add_customer(NewCustomer(n, [n])) for n in (X, Z, Y)}
            await store.calls.record_journeys(CALLS)
            for linkedid, agent, d in DISPOSITIONS:
                await store.calls.save_disposition(linkedid, agent, d, "", server="pbx1", at=AT + 7200)
            for number, minute, cents in ORDERS:
                await store.customers.add_order(ids[number], cents, AT + minute * 60)
        finally:
            await store.close()

    asyncio.run(fill())
    path = tmp_path / "cti.toml"
    path.write_text(
        f'[store]\nurl = "{db_url}"\n[reports]\nshort_abandon_seconds = 5\n'
        "[reports.campaign_budgets]\nspring = 300.0\n"
    )
    return path


def report(capsys: pytest.CaptureFixture[str], config: Path, kind: str, *extra: str) -> dict[str, Any]:
    capsys.readouterr()
    args = ["report", "--config", str(config), "--from", "2026-03-02", "--to", "2026-03-02"]
    assert main([*args, "--kind", kind, "--format", "json", *extra]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def pick(rows: list[dict[str, Any]], *keys: str) -> list[tuple[Any, ...]]:
    return [tuple(r[k] for k in keys) for r in rows]


def test_queue_report_has_every_service_level_variant(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = report(capsys, config, "queue")["rows"]
    keys = ("queue", "offered", "answered", "abandoned", "short_abandoned", "timed_out")
    assert pick(rows, *keys) == [("sales", 4, 2, 2, 1, 0), ("support", 2, 1, 0, 0, 1)]
    sales, support = rows
    # sales: answered within 20 s: c1 (10 s); abandoned within: c3, c4; short: c3
    assert sales["service_level"] == 0.333333  # 1 / (4 - 1 short)
    assert sales["sl_abandons_ignored"] == 0.5  # 1 / (4 - 2 abandoned)
    assert sales["sl_abandons_for"] == 0.666667  # (1 + 2 - 1) / 3
    assert sales["sl_asterisk"] == 0.5  # ServicelevelPerf: 1 / 2 completed
    assert sales["sl_asterisk2"] == 0.75  # ServicelevelPerf2: (1 + 2) / (2 + 2)
    assert (sales["abandon_rate"], sales["abandon_rate_long"]) == (0.5, 0.333333)
    assert (sales["avg_wait_answered"], sales["aht"]) == (20.0, 150.0)
    # support: c5 answered in 15 s, c6 timed out at 60 s (app_queue counts a timeout as abandoned)
    assert (support["service_level"], support["sl_asterisk"], support["sl_asterisk2"]) == (0.5, 1.0, 0.5)


def test_call_and_wait_duration_distributions(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = report(capsys, config, "call-duration")
    assert pick(out["rows"], "bucket", "calls") == [
        ("0-30 s", 0),
        ("30-60 s", 1),
        ("60-120 s", 1),
        ("120-180 s", 0),
        ("180-300 s", 1),
        ("300-600 s", 0),
        ("600-1200 s", 0),
        ("1200+ s", 0),
    ]
    assert out["rows"][2]["cumulative"] == 0.666667
    assert out["summary"] == {"count": 3, "mean": 116.666667, "p50": 100.0, "p90": 200.0, "max": 200.0}
    waits = report(capsys, config, "wait-duration")["rows"]
    assert pick(waits, "bucket", "calls", "answered", "abandoned") == [
        ("0-10 s", 1, 0, 1),
        ("10-20 s", 3, 2, 1),
        ("20-30 s", 0, 0, 0),
        ("30-60 s", 1, 1, 0),
        ("60-120 s", 1, 0, 0),
        ("120-300 s", 0, 0, 0),
        ("300+ s", 0, 0, 0),
    ]
    only = report(capsys, config, "wait-duration", "--queue", "support")["rows"]
    assert [r["calls"] for r in only] == [0, 1, 0, 0, 1, 0, 0]


def test_inbound_summary_by_queue_did_and_hour(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = report(capsys, config, "inbound")["rows"]
    assert pick(rows, "queue", "did", "hour", "offered", "answered", "abandoned") == [
        ("sales", "5551000", "2026-03-02 09:00", 2, 2, 0),
        ("sales", "5552000", "2026-03-02 10:00", 2, 0, 2),
        ("support", "5551000", "2026-03-02 10:00", 1, 1, 0),
        ("support", "5551000", "2026-03-02 11:00", 1, 0, 0),
    ]
    assert rows[0]["avg_wait_answered"] == 20.0 and rows[0]["service_level"] == 0.5


def test_agent_load(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = report(capsys, config, "agent-load")["rows"]
    keys = ("agent", "answered", "talk_seconds", "hold_seconds", "handle_seconds", "aht", "load_rate")
    # Alice: c1 talk 100 of which 20 on hold, c5 talk 50; the day is 86400 s
    assert pick(rows, *keys) == [
        ("Alice", 2, 130.0, 20.0, 150.0, 75.0, 0.001736),
        ("Bob", 1, 200.0, 0.0, 200.0, 200.0, 0.002315),
    ]
    assert rows[0]["occupancy"] is None  # no agent state history in the store: not inferred


def test_abandon_by_position_with_the_wait(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = report(capsys, config, "abandon", "--queue", "sales")["rows"]
    keys = ("position", "offered", "abandoned", "short_abandoned", "avg_wait_abandoned", "max_wait_abandoned")
    assert pick(rows, *keys) == [
        ("all", 4, 2, 1, 9.0, 15.0),
        (1, 2, 1, 1, 3.0, 3.0),
        (2, 1, 0, 0, None, None),
        (3, 1, 1, 0, 15.0, 15.0),
    ]


def test_transfer_rate(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = report(capsys, config, "transfer")["rows"]
    assert pick(rows, "queue", "agent", "answered", "transferred", "transfer_rate") == [
        ("sales", "all", 2, 1, 0.5),
        ("sales", "Alice", 1, 0, 0.0),
        ("sales", "Bob", 1, 1, 1.0),
        ("support", "all", 1, 0, 0.0),
        ("support", "Alice", 1, 0, 0.0),
    ]


def test_agents_compared_by_outcomes(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = report(capsys, config, "agent-performance")["rows"]
    keys = (
        "agent",
        "answered",
        "resolutions",
        "sales",
        "revenue",
        "repeat_calls",
        "fcr_rate",
        "success_rate",
    )
    # Alice: c1 sale + the 50.00 order 30 min later, c5 resolved + the 30.00 order; X's order 25 h after
    # c5 is outside the 24 h window; X called again (c5) within 7 days of c1: one repeat of her two calls.
    # Bob: c2 resolved + Z's 70.00 order 10 min after the answer.
    assert pick(rows, *keys) == [("Alice", 2, 1, 1, 80.0, 1, 0.5, 1.0), ("Bob", 1, 1, 0, 70.0, 0, 1.0, 1.0)]
    only = report(capsys, config, "agent-performance", "--agent", "Bob")["rows"]
    assert [r["agent"] for r in only] == ["Bob"]


def test_campaign_results(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (row,) = report(capsys, config, "campaign")["rows"]
    assert row == {
        "campaign": "spring",
        "dials": 3,
        "contacts": 2,  # c7 answered, c8 dropped
        "contact_rate": 0.666667,
        "abandoned": 1,
        "abandon_rate": 0.5,
        "conversions": 1,  # c7's "sale"
        "conversion_rate": 0.5,
        "budget": 300.0,
        "cost_per_conversion": 300.0,
        "revenue": 120.0,  # Y's order 55 min after c7
        "return_on_spend": 0.4,
    }


def test_the_stores_campaign_budget_wins_over_the_configs(
    config: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from cti.dialer import settings

    async def budget() -> None:
        store = await Store.open(db_url)
        try:
            await store.campaign_settings.create(settings.new("spring", {"queue": "sales", "budget": 50.0}))
        finally:
            await store.close()

    asyncio.run(budget())
    (row,) = report(capsys, config, "campaign")["rows"]
    assert (row["budget"], row["cost_per_conversion"], row["return_on_spend"]) == (50.0, 50.0, 2.4)


def test_csv_table_and_xlsx(config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base = [
        "report",
        "--config",
        str(config),
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-02",
        "--kind",
        "transfer",
    ]
    capsys.readouterr()
    assert main([*base, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "queue,agent,answered,transferred,transfer_rate" and lines[3] == "sales,Bob,1,1,1.0"
    assert main([*base]) == 0
    assert "100.0%" in capsys.readouterr().out
    out = tmp_path / "r.xlsx"
    assert main([*base, "--format", "xlsx", "--output", str(out)]) == 0
    ws = load_workbook(out)["transfer"]
    cells = [[c.value for c in r] for r in ws.iter_rows()]
    assert cells[0] == ["Queue", "Agent", "Answered", "Transferred", "Transfer rate"]
    assert cells[3] == ["sales", "Bob", 1, 1, 1.0] and ws.cell(row=4, column=5).number_format == "0.0%"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "nope"], "unknown report kind 'nope'"),
        (["--from", "2026-13-01"], "'2026-13-01' is not a date"),
        (["--format", "xlsx"], "--format xlsx needs --output FILE"),
    ],
)
def test_bad_kind_or_date_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    cfg = tmp_path / "cti.toml"
    cfg.write_text(f'[store]\nurl = "sqlite+aiosqlite:///{tmp_path / "x.db"}"\n')
    base = {"--from": "2026-03-01", "--to": "2026-03-02"}
    for k in ("--from",):
        if k in args:
            base[k] = args[args.index(k) + 1]
    rest = [a for i, a in enumerate(args) if a != "--from" and (i == 0 or args[i - 1] != "--from")]
    flat = [x for kv in base.items() for x in kv]
    assert main(["report", "--config", str(cfg), *flat, *rest]) == 2
    assert message in capsys.readouterr().err
