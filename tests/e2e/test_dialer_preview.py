"""End to end, preview dialling: ``cti sim`` and the daemon over real sockets.

A preview campaign reserves its idle agent and pushes the lead and the script to her console; she skips
one lead (recorded ``skipped``, the next one offered), dials the next (the customer is originated
straight to her: the pop has the lead), files the campaign call's disposition with a callback to
herself at a date and time; a card nobody answers is returned and its lead offered again.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from cti.core.ids import AgentId
from cti.sim.scenario import Dist, PstnSpec, load_scenario
from cti.sim.server import SimServer
from tests.conftest import ROOT
from tests.e2e.running import running_daemon
from tests.e2e.test_callbacks import CALLBACKS, command, pause
from tests.e2e.test_cti_routing import ALICE, login, routing_config, seed
from tests.e2e.test_dialer import DIALER, SCRIPT, seed_leads
from tests.screenpop.console import recv_until
from tests.waiting import eventually

PREVIEW = DIALER.replace('mode = "progressive"', 'mode = "preview"').replace(
    "poll_interval = 0.2\n", "poll_interval = 0.2\npreview_seconds = 3\n"
)


async def test_preview_skip_offers_the_next_lead_dial_connects_the_agent_and_the_disposition_books_a_callback(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed(url)
    numbers = await seed_leads(url)
    scenario = load_scenario(ROOT / "config" / "sim" / "demo.toml")
    pstn = PstnSpec(1.0, 0.0, 0.0, 0.0, 0.0, Dist("constant", 1.0), Dist("constant", 120.0))
    sim = SimServer(dataclasses.replace(scenario, pstn=pstn), speed=1.0, seed=5, traffic=False)
    port = await sim.start("127.0.0.1", 0)
    extra = routing_config(port, tmp_path / "qlog") + CALLBACKS + PREVIEW
    try:
        async with running_daemon(url, extra) as daemon:
            assert daemon.server is not None and daemon.routing is not None and daemon.dialer is not None
            router, dialer = daemon.routing.router, daemon.dialer
            dialer.paused.add("renewals")
            await eventually(lambda: router.has_agent(ALICE) and router.state(ALICE).value == "available", 10)
            sup = await login(daemon.server.port, "super")
            await pause(sup, "Bob", "Carol", "Frank")  # Alice is the only sales agent
            await eventually(lambda: router.state(AgentId("Frank")).value == "paused", 10, "others paused")
            dialer.paused.clear()
            rounds = dialer.stats.rounds  # no console open: no card offered to Alice
            await eventually(lambda: dialer.stats.rounds >= rounds + 3, 10, "pacing went on")
            assert dialer.stats.previews == 0 and not dialer.previews
            alice = await login(daemon.server.port, "alice")
            first = await recv_until(alice, lambda m: m["type"] == "preview", 10)
            assert first["agent"] == ALICE and first["campaign"] == "renewals" and first["script"] == SCRIPT
            assert first["lead"]["name"] in ("ok1", "ok2", "ok3")
            assert dialer.stats.originated == 0  # nothing is dialled before the agent says so
            # a card nobody answers is returned: its lead goes back and is offered again
            over = await recv_until(alice, lambda m: m["type"] == "preview_over", 10)
            assert (over["preview"], over["outcome"]) == (first["preview"], "expired")
            again = await recv_until(alice, lambda m: m["type"] == "preview", 10)
            assert dialer.stats.expired == 1 and again["preview"] != first["preview"]
            # a bad or foreign card id is refused with a clear error
            bad = await command(alice, "x", type="preview_dial", preview="nope")
            assert (bad["type"], bad["code"]) == ("error", "no_preview")
            skipped = await command(alice, "s", type="preview_skip", preview=again["preview"])
            assert skipped["type"] == "result" and skipped["lead"] == again["lead"]["id"], skipped
            card = await recv_until(alice, lambda m: m["type"] == "preview", 10)
            assert card["lead"]["id"] != again["lead"]["id"]
            dialled = await command(alice, "d", type="preview_dial", preview=card["preview"])
            assert dialled["type"] == "result" and dialled["number"] == card["lead"]["number"], dialled
            pop = await recv_until(alice, lambda m: m["type"] == "screenpop", 20)
            assert pop["agent"] == ALICE and pop["script"] == SCRIPT
            assert pop["lead"]["leadid"] == str(card["lead"]["id"]) and pop["lead"]["campaign"] == "renewals"
            lid = pop["call"]["linkedid"]
            assert pop["lead"]["leadnumber"] == card["lead"]["number"]  # what the form's callback calls
            await recv_until(alice, lambda m: m["type"] == "call" and m["event"] == "answered", 15)
            records = dialer.sink.records  # type: ignore[attr-defined]
            await eventually(lambda: any(r.outcome == "connected" for r in records), 10, "connected")
            (connected,) = [r for r in records if r.outcome == "connected"]
            assert connected.agent == ALICE and connected.number == card["lead"]["number"]
            assert [r.lead_id for r in records if r.outcome == "skipped"] == [again["lead"]["id"]]
            assert dialer.stats.originated == 1
            # the campaign call's disposition, with a callback to Alice at a date and time
            disp = await command(alice, "dp", type="disposition", linkedid=lid, disposition="callback")
            assert disp["type"] == "result", disp
            at = time.time() + 86400
            cb = await command(
                alice, "cb", type="schedule_callback", number=pop["lead"]["leadnumber"], at=at, note="renewal"
            )
            assert cb["type"] == "result", cb
            assert (cb["callback"]["agent"], cb["callback"]["number"]) == (ALICE, card["lead"]["number"])
            listed = await command(alice, "l", type="callbacks")
            assert [c["id"] for c in listed["callbacks"]] == [cb["callback"]["id"]]
            assert abs(listed["callbacks"][0]["due_at"] - at) < 1
            assert card["lead"]["number"] in numbers.values()
            for ws in (sup, alice):
                await ws.close()
    finally:
        await sim.stop()
