"""``GET /api/reports`` on the console port: supervisors only, clear errors, the figures of `cti report`."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from cti.config import load_config
from cti.core.errors import ConfigError
from cti.core.ids import AgentId
from cti.store import Store
from tests.e2e.running import running_daemon, seed_accounts
from tests.reports.test_kinds import CALLS


def get(url: str, token: str | None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


async def test_reports_endpoint_is_for_supervisors_and_answers_from_the_store(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    store = await Store.open(url)
    try:
        await store.calls.record_journeys(CALLS)
    finally:
        await store.close()
    async with running_daemon(url) as daemon:
        server = daemon.server
        assert server is not None
        base = f"http://127.0.0.1:{server.port}/api/reports"
        boss, _ = server.signer.issue("super", "supervisor", None, time.time())
        agent, _ = server.signer.issue("alice", "agent", AgentId("Alice"), time.time())
        q = "?kind=queue&from=2026-03-02&to=2026-03-02"
        assert (await asyncio.to_thread(get, base + q, None))[0] == 401
        assert (await asyncio.to_thread(get, base + q, boss + "x"))[0] == 401
        status, doc = await asyncio.to_thread(get, base + q, agent)
        assert (status, doc) == (403, {"error": "reports are for supervisors"})
        status, doc = await asyncio.to_thread(get, base + "?kind=nope&from=2026-03-02&to=2026-03-02", boss)
        assert status == 400 and "unknown report kind 'nope'" in doc["error"]
        status, doc = await asyncio.to_thread(get, base + "?kind=queue&from=2026-02-30&to=2026-03-02", boss)
        assert status == 400 and "'2026-02-30' is not a date" in doc["error"]
        status, doc = await asyncio.to_thread(get, base + q + "&queue=sales", boss)
        assert status == 200
        assert [(r["queue"], r["offered"], r["sl_asterisk2"]) for r in doc["rows"]] == [("sales", 4, 0.75)]
        assert doc["queues"] == ["sales", "support"] and doc["agents"] == ["Alice", "Bob"]


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("short_abandon_seconds = -1", "reports.short_abandon_seconds"),
        ('[reports.outcomes]\nresolved = "happy"', "reports.outcomes.resolved"),
        ("[reports.campaign_budgets]\nspring = -5", "reports.campaign_budgets.spring"),
        ("revenue_window_hours = -1", "reports.revenue_window_hours"),
    ],
)
def test_bad_report_settings_are_clear_errors(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "cti.toml"
    path.write_text("[reports]\n" + text + "\n")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(path)
