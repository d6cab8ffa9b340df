"""End to end, predictive and agentless campaigns: ``cti sim`` (its trunk PSTN and AMD) and the daemon.

A predictive campaign is paced by cti's pacing core (cti.dialer.pacing, through the dialer's Pacer
port): with two idle agents and a prior answer rate of 10 % it dials more lines than free agents; the
PSTN answers every line, so the live answers an agent is free for reach her within 2 s and the others
are dropped with the safe-harbour message and counted. An agentless campaign plays the message to every
live answer and needs no agent.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cti.core.ids import AgentId
from cti.delivery.dialer import PredictivePacer
from cti.sim.scenario import Dist, PstnSpec, load_scenario
from cti.sim.server import SimServer
from cti.store import Store
from tests.conftest import ROOT
from tests.e2e.running import running_daemon
from tests.e2e.test_callbacks import pause
from tests.e2e.test_cti_routing import ALICE, login, routing_config, seed
from tests.e2e.test_dialer import zone_at
from tests.waiting import eventually


def campaign(mode: str) -> str:
    return (
        "[dialer]\nenabled = true\npoll_interval = 0.2\n[[dialer.campaign]]\n"
        f'name = "renewals"\nmode = "{mode}"\nqueue = "sales"\nchannel = "PJSIP/{{number}}@trunk"\n'
        'caller_id = "+12125550000"\nmax_lines = 4\nring_timeout = 20\nanswer_rate = 0.1\n'
    )


async def seed_leads(url: str, n: int) -> None:
    day = zone_at(range(10, 19))
    store = await Store.open(url)
    try:
        await store.campaigns.upsert_campaign("renewals", queue="sales", call_from_hour=8, call_to_hour=21)
        list_id = await store.campaigns.lead_list("renewals", "spring")
        leads = [
            {"name": f"lead{i}", "raw": f"+1212555{i:04d}", "e164": f"+1212555{i:04d}", "timezone": day}
            for i in range(1, n + 1)
        ]
        assert await store.campaigns.add_leads(list_id, leads) == {}
    finally:
        await store.close()


def sim_all_live(talk: float) -> SimServer:
    scenario = load_scenario(ROOT / "config" / "sim" / "demo.toml")
    pstn = PstnSpec(1.0, 0.0, 0.0, 0.0, 0.0, Dist("constant", 1.0), Dist("constant", talk))
    return SimServer(dataclasses.replace(scenario, pstn=pstn), speed=1.0, seed=5, traffic=False)


async def test_a_predictive_campaign_dials_ahead_of_its_agents_connects_and_drops_with_the_message(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed(url)
    await seed_leads(url, 4)
    sim = sim_all_live(120.0)
    port = await sim.start("127.0.0.1", 0)
    try:
        config = routing_config(port, tmp_path / "qlog") + campaign("predictive")
        async with running_daemon(url, config) as daemon:
            assert daemon.server is not None and daemon.routing is not None and daemon.dialer is not None
            router, dialer = daemon.routing.router, daemon.dialer
            assert isinstance(dialer.pacer, PredictivePacer)  # the assembly binds cti's pacer
            dialer.paused.add("renewals")
            await eventually(lambda: router.has_agent(ALICE) and router.state(ALICE).value == "available", 10)
            sup = await login(daemon.server.port, "super")
            await pause(sup, "Carol", "Frank")  # Alice and Bob are the sales agents
            await eventually(lambda: router.state(AgentId("Frank")).value == "paused", 10, "others paused")
            await eventually(lambda: router.state(AgentId("Bob")).value == "available", 10, "Bob ready")
            view = await dialer.pace_view(dialer.campaigns["renewals"], 4)
            assert view.state.idle == 2 and view.budgets  # the store's windows (none dialled yet)
            dialer.paused.clear()
            await eventually(lambda: dialer.stats.originated == 4, 10, "four lines for two agents")
            await eventually(lambda: dialer.stats.connected + dialer.stats.abandoned == 4, 15, "all resolved")
            st = dialer.stats
            assert st.connected >= 1 and st.abandoned >= 2, st  # four live answers, two agents at most
            records = dialer.sink.records  # type: ignore[attr-defined]
            connected = [r for r in records if r.outcome == "connected"]
            assert len(connected) == st.connected and {r.agent for r in connected} <= {"Alice", "Bob"}
            assert all(r.connected_after is not None and r.connected_after <= 2.0 for r in connected)
            dropped = {r.channel_id for r in records if r.outcome == "abandoned"}
            await eventually(
                lambda: {u for u, c in sim.pbx.played if c == "cti-dialer-message"} == dropped, 10, "messages"
            )
            # counted: in the session's tally and in the pacer's estimates (four live answers heard)
            tally = dialer.budgets["renewals"].session
            assert (tally.live, tally.abandons) == (4, st.abandoned)
            est = dialer.pacer.campaigns["renewals"]
            assert est.rates.list_rate("renewals") > 0.1  # the prior moved towards what the PSTN did
            await sup.close()
    finally:
        await sim.stop()


async def test_an_agentless_campaign_plays_the_message_to_every_live_answer(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed(url)
    await seed_leads(url, 3)
    sim = sim_all_live(30.0)
    port = await sim.start("127.0.0.1", 0)
    try:
        config = routing_config(port, tmp_path / "qlog") + campaign("agentless")
        async with running_daemon(url, config) as daemon:
            assert daemon.dialer is not None
            dialer = daemon.dialer
            await eventually(lambda: dialer.stats.messages == 3, 20, "three messages")
            assert {c for _, c in sim.pbx.played} == {"cti-dialer-message"}
            assert dialer.stats.connected == 0 and dialer.stats.abandoned == 0
            records = dialer.sink.records  # type: ignore[attr-defined]
            await eventually(lambda: sum(r.outcome == "message" for r in records) == 3, 5, "recorded")
    finally:
        await sim.stop()
