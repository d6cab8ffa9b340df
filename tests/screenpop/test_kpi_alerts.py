"""KPI alerts over the real websocket: to supervisors, never to agents; in the supervisor's snapshot."""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import connect

from cti.core.events import AgentState
from cti.reports.kpi import KpiEvaluator, Target
from tests.bus.events import agent_state, inbound_call
from tests.screenpop.console import Console, login, recv, recv_until, running_console

TARGETS = [
    Target.build("waiting", "queue", "sales", 0, "max"),  # any caller waiting in sales is a breach
    Target.build("answered", "agent", "Alice", 0, "max"),  # about Alice: to supervisors, not to her
]


def is_alert(m: dict[str, Any]) -> bool:
    return bool(m["type"] == "kpi_alert")


async def test_a_breach_reaches_the_supervisor_and_not_the_agent() -> None:
    async with running_console() as console:
        console.hub.kpi = KpiEvaluator(TARGETS)
        alice, _ = await login(console, "alice")
        sup, _ = await login(console, "super")
        call = inbound_call("5.5", agent="Alice")
        console.hub.on_events([agent_state("Alice", AgentState.AVAILABLE), call[0]])  # queued: one waiting
        breach = await recv_until(sup, is_alert)
        assert {k: breach[k] for k in ("metric", "scope", "subject", "level", "previous", "value")} == {
            "metric": "waiting",
            "scope": "queue",
            "subject": "sales",
            "level": "breach",
            "previous": "ok",
            "value": 1.0,
        }
        console.hub.on_events(call[1:])  # rang Alice, answered (sales: no one waiting), ended
        cleared = await recv_until(sup, is_alert)
        assert (cleared["subject"], cleared["level"], cleared["previous"]) == ("sales", "ok", "breach")
        about_alice = await recv_until(sup, is_alert)
        assert (about_alice["scope"], about_alice["subject"], about_alice["level"]) == (
            "agent",
            "Alice",
            "breach",
        )
        # Alice got her pop and her own state, but no alert: everything before her pong is checked
        await alice.send(json.dumps({"type": "ping", "ref": "p"}))
        seen = []
        while (m := await recv(alice))["type"] != "pong":
            seen.append(m["type"])
        assert "screenpop" in seen and "kpi_alert" not in seen
        # a supervisor who connects now sees the alert in force in the snapshot; an agent does not
        late = await login_snapshot(console, "super")
        assert [(a["subject"], a["level"]) for a in late["kpi"]] == [("Alice", "breach")]
        assert "kpi" not in await login_snapshot(console, "bob")
        for ws in (alice, sup):
            await ws.close()


async def login_snapshot(console: Console, user: str) -> dict[str, Any]:
    async with connect(console.ws_url) as ws:
        await ws.send(json.dumps({"type": "login", "username": user, "password": "demo"}))
        assert (await recv(ws))["type"] == "welcome"
        snapshot = await recv(ws)
        assert snapshot["type"] == "snapshot"
        return snapshot
