"""Identity across Asterisk servers (issue 14): one daemon connected to two simulated Asterisk servers
whose Linkedids collide (same scenario, same start, one clock) stores both calls, nothing overwritten."""

from __future__ import annotations

from pathlib import Path

from cti.sim.scenario import load_scenario
from cti.sim.server import SimServer
from cti.store import Store
from tests.conftest import ROOT
from tests.e2e.running import running_daemon, seed_accounts
from tests.waiting import eventually

START = 1_900_000_000.0


def asterisk(name: str, port: int) -> str:
    return (
        f'[[asterisk]]\nname = "{name}"\nport = {port}\nusername = "cti"\nsecret = "ctisecret"\n'
        "ping_interval = 1.0\ndead_after = 5.0\n"
    )


async def test_two_servers_with_colliding_linkedids_both_get_their_call_record(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    scenario = ROOT / "config" / "sim" / "demo.toml"
    sims = [SimServer(load_scenario(scenario), speed=4.0, seed=3, start=START, traffic=False) for _ in "ab"]
    ports = [await sim.start("127.0.0.1", 0) for sim in sims]
    # one clock for both: the same events at the same virtual instants hand out the same Uniqueids
    assert sims[0].clock is not None
    sims[1].clock = sims[0].clock
    try:
        async with running_daemon(url, asterisk("pbx1", ports[0]) + asterisk("pbx2", ports[1])) as daemon:
            assert daemon.writer is not None and daemon.hub is not None
            links = [srv.link for srv in daemon.servers.values()]
            await eventually(lambda: all(link.connected for link in links), 10, "both links up")
            hub = daemon.hub
            await eventually(lambda: "Alice" in hub.seats, 10, "the resync")
            legs = [
                sim.place_call(number, "caller", "sales", patience=60, talk=2)
                for sim, number in zip(sims, ("13800138001", "13800138002"), strict=True)
            ]
            assert all(legs)
            writer = daemon.writer
            await eventually(lambda: writer.rows >= 2 and writer.pending == 0, 30, "both calls written")
    finally:
        for sim in sims:
            await sim.stop()
    store = await Store.open(url)
    try:
        stored = await store.calls.journeys(START - 60, START + 3600)
    finally:
        await store.close()
    by_server = {j.server: j for j in stored}
    assert sorted(by_server) == ["pbx1", "pbx2"] and len(stored) == 2
    assert by_server["pbx1"].linkedid == by_server["pbx2"].linkedid, "the test needs colliding Linkedids"
    assert by_server["pbx1"].caller_number == "13800138001"
    assert by_server["pbx2"].caller_number == "13800138002"
    for journey in stored:
        (leg,) = journey.queue_legs
        assert leg.queue == "sales" and leg.outcome is not None and leg.outcome.value == "answered"
        assert leg.agent is not None and journey.outcome is not None
