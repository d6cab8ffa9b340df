"""End to end over FastAGI: the simulated Asterisk's sample dialplan asks cti where a DID's call goes
(``AGI(agi://cti/route,${EXTEN})``), then holds it for cti's routing; when cti is absent or too slow it
falls back to a plain ``Queue()``. Real sockets: AMI and FastAGI."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Mapping
from pathlib import Path

from cti.core.ids import AgentId
from cti.delivery.agi import AgiServer
from cti.sim.scenario import Scenario, load_scenario
from cti.sim.server import SimServer
from tests.conftest import ROOT
from tests.e2e.running import running_daemon
from tests.e2e.test_cti_routing import routing_config, seed
from tests.waiting import eventually

RULES = """
[[routing.rules]]
name = "support line"
dids = ["8005550400"]
queue = "support"
priority = 5
[agi]
enabled = true
port = 0
deadline = 0.5
"""


def scenario() -> Scenario:
    sc = load_scenario(ROOT / "config" / "sim" / "cti.toml")
    return dataclasses.replace(sc, agi_fallback="sales")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_dialplan_asks_cti_and_the_call_is_routed_by_the_answer(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed(url)
    sim = SimServer(scenario(), speed=1.0, seed=5, traffic=False)
    port = await sim.start("127.0.0.1", 0)
    try:
        async with running_daemon(url, routing_config(port, tmp_path / "qlog") + RULES) as daemon:
            assert daemon.agi is not None and daemon.routing is not None
            routing = daemon.routing
            await eventually(lambda: routing.router.has_agent(AgentId("Dave")), 10, "the agents")
            sim.agi_target = f"127.0.0.1:{daemon.agi.port}"
            leg = sim.place_call("13800138000", "Li Na", "8005550400", patience=120, talk=20)
            assert leg is not None
            await eventually(lambda: leg.ch.variable("AGISTATUS") == "SUCCESS", 10, "the AGI answered")
            assert leg.ch.variable("CTI_QUEUE") == "support"
            assert leg.ch.variable("CTI_RULE") == "support line"
            assert leg.ch.variable("CTI_PRIORITY") == "5"
            assert leg.ch.variable("CTI_CLOSED") == ""
            assert leg.ch.variable("CTI_EWT") == "0"  # support agents are free: no wait
            # then the holding extension: cti routes it to a support agent (Redirect to deliver)
            await eventually(lambda: routing.stats.redirects >= 1, 15, "the held call delivered")
            assert routing.stats.by_queue == {"support": 1}
            assert leg.entry is None  # never in app_queue
            assert daemon.agi.app is not None and daemon.agi.app.served == 1
    finally:
        await sim.stop()


async def test_an_absent_cti_leaves_the_call_to_the_dialplans_queue() -> None:
    sim = SimServer(scenario(), speed=1.0, seed=5, traffic=False)
    await sim.start("127.0.0.1", 0)
    try:
        sim.agi_target = f"127.0.0.1:{closed_port()}"
        leg = sim.place_call("13800138000", "Li Na", "8005550400", patience=120, talk=20)
        assert leg is not None
        await eventually(lambda: leg.ch.variable("AGISTATUS") == "FAILURE", 10, "AGI failed")
        assert leg.entry is not None and leg.entry.queue.spec.name == "sales"  # Queue(sales): the fallback
        assert any("|sales|NONE|ENTERQUEUE|" in line for line in sim.queue_log_lines())
    finally:
        await sim.stop()


async def test_a_cti_too_slow_for_its_deadline_leaves_the_call_to_the_dialplans_queue() -> None:
    never = asyncio.Event()

    async def stuck(did: str, number: str, choice: str) -> Mapping[str, str]:
        await never.wait()
        return {"CTI_QUEUE": "support"}

    agi = AgiServer(stuck, port=0, deadline=0.1)
    agi_task = asyncio.create_task(agi.run())
    await agi.ready.wait()
    sim = SimServer(scenario(), speed=1.0, seed=5, traffic=False)
    await sim.start("127.0.0.1", 0)
    try:
        sim.agi_target = f"127.0.0.1:{agi.port}"
        leg = sim.place_call("13800138000", "Li Na", "8005550400", patience=120, talk=20)
        assert leg is not None
        await eventually(lambda: leg.entry is not None, 10, "the fallback Queue()")
        assert leg.ch.variable("AGISTATUS") == "SUCCESS" and leg.ch.variable("CTI_QUEUE") in (None, "")
        assert agi.late == 1
    finally:
        await sim.stop()
        agi_task.cancel()
        await asyncio.gather(agi_task, return_exceptions=True)
