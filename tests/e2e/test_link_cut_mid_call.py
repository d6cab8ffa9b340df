"""The AMI link cut in the middle of calls, on the simulated Asterisk over real sockets (issue 14): the
daemon reconnects at once, and the stored calls keep their answered queue legs, agents and numbers;
the legs that spanned the cut are flagged repaired."""

from __future__ import annotations

from pathlib import Path

from cti.asterisk.connection import AmiConnection
from cti.sim.scenario import load_scenario
from cti.sim.server import SimServer
from cti.store import Store
from tests.conftest import ROOT
from tests.e2e.running import running_daemon, seed_accounts
from tests.waiting import eventually

START = 1_900_000_000.0


async def test_calls_cut_while_waiting_and_while_talking_are_stored_answered_and_marked_repaired(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    sim = SimServer(
        load_scenario(ROOT / "config" / "sim" / "demo.toml"), speed=4.0, seed=5, start=START, traffic=False
    )
    port = await sim.start("127.0.0.1", 0)
    try:
        extra = (
            f'[[asterisk]]\nname = "sim"\nport = {port}\nusername = "cti"\nsecret = "ctisecret"\n'
            "ping_interval = 1.0\ndead_after = 5.0\nstable_after = 0.2\n"
        )
        async with running_daemon(url, extra) as daemon:
            assert daemon.hub is not None and daemon.writer is not None
            hub, writer = daemon.hub, daemon.writer
            (server,) = daemon.servers.values()
            link = server.link
            assert isinstance(link, AmiConnection)
            await eventually(lambda: "Alice" in hub.seats and link.stable, 10, "the resync, a stable link")
            talking = sim.place_call("13800138001", "talking", "sales", patience=60, talk=20)
            assert talking is not None
            await eventually(lambda: talking.answered, 20, "the first call answered")
            assert sim.cut_links() == 1  # cut while the first call talks
            await eventually(lambda: link.stats.reconnects == 1 and link.stable, 10, "back")
            waiting = sim.place_call("13800138002", "waiting", "support", patience=60, talk=2)
            assert waiting is not None
            sim.cut_links()  # cut while the second one waits or rings
            await eventually(lambda: writer.rows >= 2 and writer.pending == 0, 60, "both calls written")
            assert max(link.reconnect_delays) <= link.config.reconnect_min  # every cut: straight back
    finally:
        await sim.stop()
    store = await Store.open(url)
    try:
        stored = {j.caller_number: j for j in await store.calls.journeys(0, 4e9)}
    finally:
        await store.close()
    assert set(stored) == {"13800138001", "13800138002"}
    first = stored["13800138001"]
    (leg,) = first.queue_legs
    assert leg.outcome is not None and leg.outcome.value == "answered" and leg.agent is not None
    assert leg.repaired and first.direction.value == "inbound" and first.agents == [leg.agent]
    second = stored["13800138002"]
    assert [x.queue for x in second.queue_legs] == ["support"] and second.direction.value == "inbound"
