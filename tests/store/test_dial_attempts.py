"""Dial attempts in the store: the compliance windows computed in SQL equal the pure ledger's."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.cli import main
from cti.core.errors import UsageError
from cti.dialer import compliance
from cti.dialer.compliance import DialOutcome, Window
from cti.store.dial_attempts_repo import AttemptRecord
from cti.store.repository import Store

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
EXAMPLES = itertools.count()

KINDS = {
    "live": dict(outcome="answered", live_answer=True, amd_result="HUMAN"),
    "abandon": dict(outcome="answered", abandoned=True, amd_result="HUMAN", message_played=True),
    "machine": dict(outcome="machine", amd_result="MACHINE"),
    "busy": dict(outcome="busy"),
}


def _outcome(at: datetime, kind: str) -> DialOutcome:
    return DialOutcome(
        at, live_answer=kind in ("live", "abandon"), abandoned=kind == "abandon", machine=kind == "machine"
    )


async def test_exact_figures_and_the_72_hour_lookup(store: Store) -> None:
    await store.campaigns.upsert_campaign("c")
    for hours, kind in [(1, "live"), (2, "abandon"), (3, "machine"), (30 * 24 + 1, "abandon"), (5, "busy")]:
        at = (NOW - timedelta(hours=hours)).timestamp()
        await store.dial_attempts.record_attempt(
            AttemptRecord(campaign="c", e164="+12125550001", started_at=at, **KINDS[kind])  # type: ignore[arg-type]
        )
    got = {
        w.window: w
        for w in await store.dial_attempts.windows("c", NOW.timestamp(), amd_false_positive_rate=0.5)
    }
    assert (got[Window.OFCOM_24H].live_answers, got[Window.OFCOM_24H].abandons) == (2, 1.5)
    assert (got[Window.FTC_30D].live_answers, got[Window.FTC_30D].abandons) == (2, 1.0)
    assert (got[Window.FTC_LIFE].live_answers, got[Window.FTC_LIFE].abandons) == (3, 2.0)
    assert await store.dial_attempts.last_abandon_at("+12125550001") == (NOW - timedelta(hours=2)).timestamp()
    assert await store.dial_attempts.last_abandon_at("+12125550002") is None


async def test_an_unknown_campaign_is_a_clear_error(store: Store) -> None:
    with pytest.raises(UsageError, match="no campaign"):
        await store.dial_attempts.record_attempt(AttemptRecord("nope", "+12125550001", 0.0, "busy"))


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=24 * 70), st.sampled_from(sorted(KINDS))), max_size=25
    )
)
async def test_store_windows_equal_the_pure_ledgers(store: Store, dials: list[tuple[int, str]]) -> None:
    name = f"p{next(EXAMPLES)}"
    await store.campaigns.upsert_campaign(name)
    ledger = []
    for hours, kind in dials:
        at = NOW - timedelta(hours=hours)
        ledger.append(_outcome(at, kind))
        await store.dial_attempts.record_attempt(
            AttemptRecord(campaign=name, e164="+12125550001", started_at=at.timestamp(), **KINDS[kind])  # type: ignore[arg-type]
        )
    from_store = await store.dial_attempts.windows(name, NOW.timestamp())
    assert from_store == compliance.windows(ledger, NOW, zone=UTC)


def test_cti_campaign_report_as_csv_and_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cti.toml"
    config.write_text(f'[store]\nurl = "sqlite+aiosqlite:///{tmp_path / "c.db"}"\n', encoding="utf-8")

    async def seed() -> None:
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
        try:
            await store.campaigns.upsert_campaign("c")
            at = (NOW - timedelta(hours=1)).timestamp()
            for kind in ("live", "abandon", "machine"):
                await store.dial_attempts.record_attempt(
                    AttemptRecord(campaign="c", e164="+12125550001", started_at=at, **KINDS[kind])  # type: ignore[arg-type]
                )
        finally:
            await store.close()

    asyncio.run(seed())
    assert (
        main(["campaign", "report", "c", "--config", str(config), "--csv", "--at", str(NOW.timestamp())]) == 0
    )
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    ofcom = next(r for r in rows if r["window"] == "ofcom_24h")
    assert (ofcom["live_answers"], ofcom["abandons"], ofcom["estimated_false_positives"]) == (
        "2",
        "1.05",
        "0.05",
    )
    assert main(["campaign", "report", "nope", "--config", str(config)]) == 2
    assert "no campaign 'nope'" in capsys.readouterr().err
