"""Click-to-call end to end (issue 14): the agent's console dials a number through the simulated
Asterisk; the stored call is outbound, to the dialled number, with the agent and the answer time."""

from __future__ import annotations

import time
from pathlib import Path

from cti.sim.scenario import load_scenario
from cti.sim.server import SimServer
from cti.store import Store
from tests.conftest import ROOT
from tests.e2e.running import running_daemon, seed_accounts
from tests.e2e.test_call_flow import command, login
from tests.screenpop.console import recv_until
from tests.waiting import eventually

NUMBER = "13900139000"


async def test_a_click_to_call_is_stored_as_the_agents_outbound_call_to_the_dialled_number(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    # the demo centre, with a callee who always answers and talks for 2 s
    demo = (ROOT / "config" / "sim" / "demo.toml").read_text()
    head, pstn = demo.split("[pstn]\n", 1)
    rest = pstn.split("\n[", 1)[1] if "\n[" in pstn else ""
    answering = (
        "answer = 1.0\nbusy = 0\nno_answer = 0\ncongestion = 0\nmachine = 0\nring_time = 1\ntalk_time = 2\n"
    )
    scenario = tmp_path / "sim.toml"
    scenario.write_text(head + "[pstn]\n" + answering + ("\n[" + rest if rest else ""))
    sim = SimServer(load_scenario(scenario), speed=1.0, seed=3, traffic=False)
    port = await sim.start("127.0.0.1", 0)
    try:
        extra = (
            f'[[asterisk]]\nname = "sim"\nport = {port}\nusername = "cti"\nsecret = "ctisecret"\n'
            "ping_interval = 1.0\ndead_after = 5.0\n"
        )
        async with running_daemon(url, extra) as daemon:
            assert daemon.server is not None and daemon.hub is not None and daemon.writer is not None
            hub, writer = daemon.hub, daemon.writer
            await eventually(lambda: "Frank" in hub.seats, 10, "the resync")
            frank = await login(daemon.server.port, "frank")
            await command(frank, "dial", type="dial", number=NUMBER)
            result = await recv_until(frank, lambda m: m["type"] == "dial_result", 20)
            assert result["outcome"] == "answered"
            lid = result["linkedid"]
            await eventually(lambda: writer.rows >= 1 and writer.pending == 0, 15, "the call written")
            await frank.close()
    finally:
        await sim.stop()
    store = await Store.open(url)
    try:
        (journey,) = await store.calls.journeys(time.time() - 3600, time.time() + 3600)
        found = await store.customers.lookup_caller(NUMBER)
    finally:
        await store.close()
    print(journey.to_json())
    assert journey.linkedid == lid
    assert journey.direction.value == "outbound" and journey.did == NUMBER
    assert journey.agents == ["Frank"] and journey.answered_at is not None
    assert journey.outcome is not None and journey.outcome.value == "answered"
    assert [c.linkedid for c in found.recent_calls] == [lid]  # filed under the dialled number
