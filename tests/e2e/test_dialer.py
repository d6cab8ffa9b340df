"""End to end, the outbound dialer: ``cti sim`` (its trunk PSTN and AMD) and the daemon over real sockets.

A campaign dials its eligible leads (not the do-not-call one, not the open complaint, not the one whose
local time is 22:00); the live answer an agent is free for reaches her with the pop (lead and script)
within 2 s; the live answers no agent is free for are dropped with the safe-harbour message and counted;
after a forced AMI drop with an attempt under way, nothing is originated again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import zoneinfo
from datetime import datetime
from pathlib import Path

from cti.core.ids import AgentId
from cti.sim.scenario import Dist, PstnSpec, load_scenario
from cti.sim.server import SimServer
from cti.store import NewCustomer, Store
from tests.conftest import ROOT
from tests.e2e.faults import TcpProxy
from tests.e2e.running import running_daemon
from tests.e2e.test_callbacks import command, pause
from tests.e2e.test_cti_routing import ALICE, login, routing_config, seed
from tests.screenpop.console import recv_until
from tests.waiting import eventually

SCRIPT = "Hello, this is ACME about your renewal."
DIALER = (
    "[dialer]\nenabled = true\npoll_interval = 0.2\n[[dialer.campaign]]\n"
    'name = "renewals"\nmode = "progressive"\nqueue = "sales"\nchannel = "PJSIP/{number}@trunk"\n'
    f'caller_id = "+12125550000"\nmax_lines = 3\nring_timeout = 20\nscript = "{SCRIPT}"\n'
)


def zone_at(hours: range) -> str:
    """An IANA zone whose local hour now is in ``hours``."""
    now = time.time()
    for name in sorted(zoneinfo.available_timezones()):
        if datetime.fromtimestamp(now, zoneinfo.ZoneInfo(name)).hour in hours:
            return name
    raise AssertionError("no zone")


class Overdial:
    """A Pacer (cti.delivery.dialer) that dials every free line while an agent is idle: more live
    answers than agents, so that some are dropped; ``more`` lines once released."""

    def __init__(self) -> None:
        self.more = 0

    def lines(self, campaign: str, idle_agents: int, soon_free: int, ringing: int, free_lines: int) -> int:
        if self.more:
            n, self.more = self.more, 0
            return n
        return free_lines if idle_agents and not ringing else 0


async def seed_leads(url: str) -> dict[str, str]:
    day, night = zone_at(range(10, 19)), zone_at(range(22, 23))
    store = await Store.open(url)
    try:
        await store.campaigns.upsert_campaign("renewals", queue="sales", call_from_hour=8, call_to_hour=21)
        list_id = await store.campaigns.lead_list("renewals", "spring")
        rows = {
            "ok1": ("+12125550110", day),
            "ok2": ("+12125550120", day),
            "ok3": ("+12125550130", day),
            "dnc": ("+12125550140", day),
            "complaint": ("+12125550150", day),
            "night": ("+12125550160", night),
            "later": ("+12125550170", day),
        }
        await store.dnc.add_numbers([rows["dnc"][0]])
        cid = await store.customers.add_customer(NewCustomer("Cora Plaint", phones=[rows["complaint"][0]]))
        await store.customers.add_ticket(cid, "complaint", "still broken")
        leads = [
            {"name": k, "raw": n, "e164": n, "timezone": tz} for k, (n, tz) in rows.items() if k != "later"
        ]
        assert await store.campaigns.add_leads(list_id, leads) == {}
        return {k: n for k, (n, _) in rows.items()}
    finally:
        await store.close()


async def test_a_campaign_connects_drops_with_the_message_skips_the_ineligible_and_never_redials(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed(url)
    numbers = await seed_leads(url)
    scenario = load_scenario(ROOT / "config" / "sim" / "demo.toml")
    pstn = PstnSpec(1.0, 0.0, 0.0, 0.0, 0.0, Dist("constant", 1.0), Dist("constant", 120.0))
    sim = SimServer(dataclasses.replace(scenario, pstn=pstn), speed=1.0, seed=5, traffic=False)
    proxy = TcpProxy("127.0.0.1", await sim.start("127.0.0.1", 0))
    port = await proxy.start()
    try:
        async with running_daemon(url, routing_config(port, tmp_path / "qlog") + DIALER) as daemon:
            assert daemon.server is not None and daemon.routing is not None and daemon.dialer is not None
            router, dialer = daemon.routing.router, daemon.dialer
            pacer = Overdial()
            dialer.pacer = pacer
            dialer.paused.add("renewals")
            await eventually(lambda: router.has_agent(ALICE) and router.state(ALICE).value == "available", 10)
            sup = await login(daemon.server.port, "super")
            await pause(sup, "Bob", "Carol", "Frank")  # Alice is the only sales agent
            await eventually(lambda: router.state(AgentId("Frank")).value == "paused", 10, "others paused")
            alice = await login(daemon.server.port, "alice")
            dialer.paused.clear()
            pop = await recv_until(alice, lambda m: m["type"] == "screenpop", 20)
            assert pop["lead"]["campaign"] == "renewals" and pop["script"] == SCRIPT
            assert pop["lead"]["leadname"] in ("ok1", "ok2", "ok3")
            await eventually(lambda: dialer.stats.abandoned == 2, 10, "two drops")
            st = dialer.stats
            assert (st.originated, st.answered, st.connected, st.abandoned) == (3, 3, 1, 2)
            sink = dialer.sink
            records = sink.records  # type: ignore[attr-defined]
            done = ("connected", "abandoned")
            await eventually(lambda: sum(r.outcome in done for r in records) == 3, 5, "outcomes stored")
            dialled = {r.number for r in records}
            assert dialled == {numbers["ok1"], numbers["ok2"], numbers["ok3"]}  # not dnc, complaint, night
            (connected,) = [r for r in records if r.outcome == "connected"]
            assert connected.agent == ALICE and connected.connected_after is not None
            assert connected.connected_after <= 2.0
            dropped = {r.channel_id for r in records if r.outcome == "abandoned"}
            await eventually(
                lambda: {u for u, c in sim.pbx.played if c == "cti-dialer-message"} == dropped, 10, "messages"
            )
            # the compliance records: every ended attempt, the two drops counted in each window
            store = await Store.open(url)
            try:
                for _ in range(100):  # the attempts are stored as they end, in the background
                    windows = await store.dial_attempts.windows("renewals", time.time())
                    if all(w.live_answers == 3 for w in windows):
                        break
                    await asyncio.sleep(0.1)
                assert windows and all((w.live_answers, w.abandons) == (3, 2) for w in windows), windows
            finally:
                await store.close()
            # a forced AMI drop with an attempt ringing: it is never originated again
            store = await Store.open(url)
            try:
                list_id = await store.campaigns.lead_list("renewals", "spring")
                await store.campaigns.add_leads(
                    list_id,
                    [
                        {
                            "name": "later",
                            "raw": numbers["later"],
                            "e164": numbers["later"],
                            "timezone": zone_at(range(10, 19)),
                        }
                    ],
                )
            finally:
                await store.close()
            pacer.more = 1
            await eventually(lambda: dialer.stats.originated == 4, 10, "the fourth attempt")
            proxy.cut()
            await eventually(lambda: dialer.stats.unknown >= 1, 20, "the open attempts unknown")
            rounds = dialer.stats.rounds
            pacer.more = 1  # the pacer asks for a line again: no eligible lead is left to take
            await eventually(lambda: dialer.stats.rounds >= rounds + 5, 10, "pacing went on")
            assert dialer.stats.originated == 4
            assert [r.number for r in records].count(numbers["later"]) <= 1
            await command(sup, "r", type="ready", agent="Bob")
            for ws in (sup, alice):
                await ws.close()
    finally:
        await proxy.stop()
        await sim.stop()


async def test_answering_machines_get_the_campaigns_message_and_no_agent(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed(url)
    numbers = await seed_leads(url)
    scenario = load_scenario(ROOT / "config" / "sim" / "demo.toml")
    pstn = PstnSpec(0.0, 0.0, 0.0, 0.0, 1.0, Dist("constant", 1.0), Dist("constant", 60.0))
    sim = SimServer(dataclasses.replace(scenario, pstn=pstn), speed=1.0, seed=5, traffic=False)
    port = await sim.start("127.0.0.1", 0)
    extra = DIALER.replace("max_lines = 3\n", 'max_lines = 3\namd_machine = "message"\n')
    try:
        async with running_daemon(url, routing_config(port, tmp_path / "qlog") + extra) as daemon:
            assert daemon.dialer is not None
            dialer = daemon.dialer
            await eventually(lambda: dialer.stats.machines == 3, 20, "three machines")
            await eventually(lambda: len(sim.pbx.played) == 3, 10, "three messages left")
            assert {c for _, c in sim.pbx.played} == {"cti-dialer-machine"}
            assert dialer.stats.connected == 0 and dialer.stats.abandoned == 0
            records = dialer.sink.records  # type: ignore[attr-defined]
            await eventually(lambda: len(records) == 3, 5, "outcomes stored")
            assert {r.number for r in records if r.outcome == "machine"} == {
                numbers["ok1"],
                numbers["ok2"],
                numbers["ok3"],
            }
    finally:
        await sim.stop()


async def test_a_callback_disposition_on_a_campaign_call_books_the_same_agent_and_the_lead_waits(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed(url)
    number = "+12125550190"
    store = await Store.open(url)
    try:
        await store.campaigns.upsert_campaign("renewals", queue="sales", call_from_hour=0, call_to_hour=24)
        list_id = await store.campaigns.lead_list("renewals", "one")
        await store.campaigns.add_leads(list_id, [{"name": "Wei", "raw": number, "e164": number}])
    finally:
        await store.close()
    codes = (
        '[[dialer.campaign.disposition]]\ncode = "sale"\nsale = true\n'
        '[[dialer.campaign.disposition]]\ncode = "call back"\nfinal = false\ncallback = true\n'
    )
    scenario = load_scenario(ROOT / "config" / "sim" / "demo.toml")
    pstn = PstnSpec(1.0, 0.0, 0.0, 0.0, 0.0, Dist("constant", 1.0), Dist("constant", 120.0))
    sim = SimServer(dataclasses.replace(scenario, pstn=pstn), speed=1.0, seed=5, traffic=False)
    port = await sim.start("127.0.0.1", 0)
    try:
        async with running_daemon(url, routing_config(port, tmp_path / "qlog") + DIALER + codes) as daemon:
            assert daemon.server is not None and daemon.routing is not None and daemon.dialer is not None
            router, dialer = daemon.routing.router, daemon.dialer
            dialer.paused.add("renewals")
            await eventually(lambda: router.has_agent(ALICE) and router.state(ALICE).value == "available", 10)
            sup = await login(daemon.server.port, "super")
            await pause(sup, "Bob", "Carol", "Frank")
            await eventually(lambda: router.state(AgentId("Frank")).value == "paused", 10, "others paused")
            alice = await login(daemon.server.port, "alice")
            dialer.paused.clear()
            pop = await recv_until(alice, lambda m: m["type"] == "screenpop", 20)
            offered = json.loads(pop["lead"]["dispositions"])  # the console offers the campaign's codes
            assert {d["code"]: d["callback"] for d in offered} == {"call back": True, "sale": False}
            lid, when = pop["call"]["linkedid"], time.time() + 3600
            bad = await command(
                alice, "d0", type="disposition", linkedid=lid, disposition="call back", notes=""
            )
            assert bad["type"] == "error" and "callback time" in bad["message"]  # nothing lost: try again
            reply = await command(
                alice,
                "d1",
                type="disposition",
                linkedid=lid,
                disposition="call back",
                notes="",
                callback_at=when,
            )
            assert reply["type"] == "result" and reply["lead_callback"], reply
            rounds = dialer.stats.rounds
            await eventually(lambda: dialer.stats.rounds >= rounds + 5, 10, "pacing went on")
            assert dialer.stats.originated == 1  # the lead waits for its callback: not redialled
            store = await Store.open(url)
            try:
                callback = await store.callbacks.get(reply["lead_callback"])
                assert callback is not None and (callback.agent, callback.e164) == (ALICE, number)
                assert callback.due_at == when
                (lead,) = await store.campaigns.lead_records(list_id)
                assert (lead["disposition"], lead["agent"], lead["status"]) == ("call back", ALICE, "done")
                assert await store.campaigns.callable_leads("renewals", now=time.time() + 7200) == []
            finally:
                await store.close()
            for ws in (sup, alice):
                await ws.close()
    finally:
        await sim.stop()
