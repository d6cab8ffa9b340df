"""`cti report --kind email`: exact figures from tasks stored on SQLite and PostgreSQL (docs/metrics.md,
"E-mail tasks"), through the same read_input machinery as the call reports."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

from cti.config import Config
from cti.reports import cli
from cti.reports.kinds import KINDS, ReportInput
from cti.store import NewCustomer, Store


async def seed(store: Store) -> None:
    await store.customers.add_customer(NewCustomer("Ann Lee", email="ann@example.com"))
    e = store.email

    async def task(received: float, deadline: float) -> int:
        row = await e.add_task(
            sender="ann@example.com",
            subject="s",
            body="b",
            message_id="",
            received=received,
            deadline=deadline,
        )
        return row.id

    t1 = await task(1000.0, 4600.0)
    assert await e.offered(t1, "Alice", at=1010.0) and await e.answered(t1, "ok", at=1100.0)
    t2 = await task(1000.0, 1500.0)
    assert await e.offered(t2, "Alice", at=1200.0) and await e.answered(t2, "late", at=1600.0)
    t3 = await task(1050.0, 4650.0)
    assert await e.offered(t3, "Bob", at=1060.0) and await e.closed(t3, "spam", at=1090.0)
    await task(1100.0, 4700.0)  # never offered
    t5 = await task(5000.0, 9000.0)  # outside the range
    assert await e.offered(t5, "Bob", at=5001.0) and await e.answered(t5, "x", at=5002.0)
    t6 = await task(1150.0, 4750.0)  # offered, taken back, offered again to Carol, still open
    assert await e.offered(t6, "Alice", at=1160.0) and await e.requeued(t6)
    assert await e.offered(t6, "Carol", at=1170.0)


EXPECTED = [
    {
        "agent": "Alice",
        "offered": 2,
        "answered": 2,
        "answered_in_deadline": 1,
        "in_deadline_rate": 0.5,
        "handle_seconds": 245.0,
    },
    {
        "agent": "Bob",
        "offered": 1,
        "answered": 0,
        "answered_in_deadline": 0,
        "in_deadline_rate": None,
        "handle_seconds": 30.0,
    },
    {
        "agent": "Carol",
        "offered": 1,
        "answered": 0,
        "answered_in_deadline": 0,
        "in_deadline_rate": None,
        "handle_seconds": 0.0,
    },
]


async def test_the_email_report_has_exact_figures_per_agent(db_url: str) -> None:
    store = await Store.open(db_url)
    try:
        await seed(store)
        inp = await cli.read_input(store.calls, Config(), 900.0, 2000.0, email=store.email)
    finally:
        await store.close()
    report = KINDS["email"](inp)
    assert report.rows == EXPECTED
    assert report.summary == {"received": 5, "never_offered": 1}
    only_bob = KINDS["email"](await _with_agent(db_url, "Bob"))
    assert [r["agent"] for r in only_bob.rows] == ["Bob"]


async def _with_agent(db_url: str, agent: str) -> ReportInput:
    store = await Store.open(db_url)
    try:
        return await cli.read_input(store.calls, Config(), 900.0, 2000.0, agent=agent, email=store.email)
    finally:
        await store.close()


def test_cti_report_kind_email_prints_the_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"

    async def prepare() -> None:
        store = await Store.open(url)
        try:
            await seed(store)
        finally:
            await store.close()

    asyncio.run(prepare())
    conf = tmp_path / "cti.toml"
    conf.write_text(f'[store]\nurl = "{url}"\n')
    start, end = (dt.datetime.fromtimestamp(t).isoformat() for t in (900, 2000))  # local, --to excluded
    args = argparse.Namespace(
        kind="email", by=None, format="json", output=None, config=str(conf), start=start, end=end, queue=None
    )
    args.agent = None
    assert cli.run(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "email" and doc["rows"] == EXPECTED
