"""`cti report` over the agents' state history: exact occupancy and utilisation, time in state and pauses."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from cti.cli import main
from cti.reports.states import StateChange
from cti.store import Store
from tests.reports.test_kinds import config, pick, report

__all__ = ["config"]  # the fixture: the calls of test_kinds in a store on SQLite and PostgreSQL


def at(day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(2026, 3, day, hour, minute).timestamp()  # local time, as the report's days


HISTORY = [
    StateChange("pbx1", "Alice", "available", at(2, 8)),
    StateChange("pbx1", "Alice", "paused", at(2, 10), "lunch"),
    StateChange("pbx1", "Alice", "available", at(2, 10, 30)),
    StateChange("pbx1", "Alice", "logged_out", at(2, 12)),
    # Bob logged in the evening before: clipped at midnight
    StateChange("pbx1", "Bob", "available", at(1, 23)),
    StateChange("pbx1", "Bob", "on_call", at(2, 0, 30)),
    StateChange("pbx1", "Bob", "wrap_up", at(2, 0, 40)),
    StateChange("pbx1", "Bob", "paused", at(2, 0, 45)),
    StateChange("pbx1", "Bob", "logged_out", at(2, 1)),
]


@pytest.fixture
def history(config: Path, db_url: str) -> Path:
    async def fill() -> None:
        store = await Store.open(db_url)
        try:
            await store.agent_states.record(HISTORY)
        finally:
            await store.close()

    asyncio.run(fill())
    return config


def test_agent_load_has_exact_occupancy_and_utilisation(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = report(capsys, history, "agent-load")["rows"]
    # Alice: handle 150 s; staffed 08:00-12:00 = 14400 s, of which available 2 h + 1.5 h = 12600 s
    # Bob: handle 200 s; staffed 00:00-01:00 = 3600 s, available 00:00-00:30 = 1800 s
    assert pick(rows, "agent", "handle_seconds", "staffed_seconds", "utilisation", "occupancy") == [
        ("Alice", 150.0, 14400.0, 0.010417, 0.011765),  # 150 / 14400; 150 / (150 + 12600)
        ("Bob", 200.0, 3600.0, 0.055556, 0.1),  # 200 / 3600; 200 / (200 + 1800)
    ]


def test_agent_states_report_time_in_state_and_pause_by_reason(
    history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = report(capsys, history, "agent-states")
    keys = ("agent", "staffed_seconds", "available", "on_call", "wrap_up", "paused", "logged_out")
    assert pick(out["rows"], *keys) == [
        ("Alice", 14400.0, 12600.0, 0.0, 0.0, 1800.0, 43200.0),  # logged out from 12:00 to midnight
        ("Bob", 3600.0, 1800.0, 600.0, 300.0, 900.0, 82800.0),
    ]
    assert pick(out["rows"], "pause:-", "pause:lunch") == [(0.0, 1800.0), (900.0, 0.0)]
    only = report(capsys, history, "agent-states", "--agent", "Bob")["rows"]
    assert [r["agent"] for r in only] == ["Bob"]
    capsys.readouterr()
    args = ["report", "--config", str(history), "--from", "2026-03-02", "--to", "2026-03-02"]
    assert main([*args, "--kind", "agent-states"]) == 0
    table = capsys.readouterr().out
    assert "Pause lunch" in table and "1800.0s" in table
