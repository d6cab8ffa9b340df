"""End to end, CTI mode: the simulated Asterisk holds the call, the daemon's router picks the agent by
skill and Redirects the call to ``deliver,<extension>``; the agent's console gets the pop before the
answer; the queue_log cti writes for the call agrees with what happened.

Real sockets throughout: AMI to ``cti sim`` in-process, websockets to the consoles.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

from cti.app import Daemon
from cti.core.ids import AgentId
from cti.reports.metrics import queue_stats
from cti.sim.scenario import Scenario, load_scenario
from cti.sim.server import SimServer
from cti.store import Store
from tests.conftest import ROOT
from tests.e2e.running import running_daemon
from tests.screenpop.console import recv, recv_until
from tests.waiting import eventually

ALICE = AgentId("Alice")
SKILLS = {
    "Alice": {"sales": 8},
    "Bob": {"sales": 3},
    "Carol": {"support": 7, "sales": 6},
    "Dave": {"support": 6},
    "Erin": {"support": 5},
    "Frank": {"sales": 9, "support": 9},
}


async def seed(url: str) -> None:
    store = await Store.open(url)
    try:
        for n, member in enumerate(SKILLS, start=1):
            await store.accounts.upsert_agent(
                member.lower(),
                "demo",
                "agent",
                member,
                f"Local/100{n}@agents/n",
                member,
                extension=f"100{n}",
                skills=SKILLS[member],
            )
        await store.accounts.upsert_agent("super", "demo", "supervisor", None, "", "Sam")
    finally:
        await store.close()


async def login(port: int, user: str) -> ClientConnection:
    ws = await connect(f"ws://127.0.0.1:{port}/ws", max_queue=None)
    await ws.send(json.dumps({"type": "login", "username": user, "password": "demo"}))
    assert (await recv(ws))["type"] == "welcome"
    assert (await recv(ws))["type"] == "snapshot"
    return ws


def routing_config(port: int, queue_log: Path) -> str:
    return (
        f'[[asterisk]]\nname = "sim"\nport = {port}\nusername = "cti"\nsecret = "ctisecret"\n'
        "ping_interval = 1.0\ndead_after = 5.0\n"
        f'[routing]\nenabled = true\ndefault_queue = "sales"\nqueue_log = "{queue_log}"\n'
        '[routing.queues.sales]\nskills = ["sales:5"]\nwrapup_seconds = 3\n'
        '[routing.queues.support]\nskills = ["support:5"]\n'
    )


@asynccontextmanager
async def routed_center(
    url: str, queue_log: Path, scenario: Scenario | None = None
) -> AsyncIterator[tuple[Daemon, SimServer]]:
    """The simulated Asterisk (config/sim/demo.toml unless given) and a daemon routing in CTI mode on it,
    once the router knows the seeded agents and Alice is available."""
    if scenario is None:
        scenario = load_scenario(ROOT / "config" / "sim" / "demo.toml")
    sim = SimServer(scenario, speed=1.0, seed=5, traffic=False)
    port = await sim.start("127.0.0.1", 0)
    try:
        async with running_daemon(url, routing_config(port, queue_log)) as daemon:
            assert daemon.server is not None and daemon.routing is not None
            router = daemon.routing.router
            await eventually(lambda: router.has_agent(ALICE) and router.state(ALICE).value == "available", 10)
            yield daemon, sim
    finally:
        await sim.stop()


async def test_a_held_call_is_redirected_to_the_best_skilled_agent_who_gets_the_pop_before_the_answer(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed(url)
    qlog = tmp_path / "cti_queue_log"
    lines: list[str] = []
    async with routed_center(url, qlog) as (daemon, sim):
        assert daemon.server is not None and daemon.routing is not None
        router = daemon.routing.router
        await eventually(lambda: router.skills(ALICE) == {"sales": 8}, 10, "Alice's skills")
        alice = await login(daemon.server.port, "alice")
        # Bob (sales 3) does not have the level; Carol (sales 6, support 7) has a skill the call does not
        # need; Frank is paused: Alice (sales 8, nothing else) is the best fit
        sim.place_call("13800138000", "张伟", "hold", patience=120, talk=20)
        pop = await recv_until(alice, lambda m: m["type"] in ("screenpop", "call"), 15)
        assert pop["type"] == "screenpop", f"the first message about the call must be the pop: {pop}"
        assert pop["agent"] == "Alice"
        lid = pop["call"]["linkedid"]
        answered = await recv_until(alice, lambda m: m["type"] == "call" and m["event"] == "answered", 15)
        assert answered["linkedid"] == lid and answered["seq"] > pop["seq"]
        stats = daemon.routing.stats
        assert stats.redirects == 1 and stats.served == 1
        await eventually(lambda: router.state(ALICE).value == "on_call", 10, "Alice on the call")
        await alice.close()
        lines.extend(qlog.read_text().splitlines())
    events = [line.split("|")[4] for line in lines]
    assert events[:2] == ["ENTERQUEUE", "CONNECT"], lines
    enter, connect_line = (line.split("|") for line in lines[:2])
    assert enter[2] == connect_line[2] == "sales" and connect_line[3] == "Alice"
    assert enter[1] == connect_line[1]  # the waiting channel's Uniqueid


async def test_a_supervisor_sees_the_waiting_calls_needs_and_changes_an_agents_skills_live(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed(url)
    async with routed_center(url, tmp_path / "qlog") as (daemon, sim):
        assert daemon.server is not None and daemon.routing is not None
        router = daemon.routing.router
        sup = await login(daemon.server.port, "super")
        bob = await login(daemon.server.port, "bob")
        # only Bob is ready, and his sales level (3) is under the queue's 5: the call waits
        for i, other in enumerate(("Alice", "Carol", "Dave", "Erin")):
            await sup.send(json.dumps({"ref": f"p{i}", "type": "pause", "agent": other, "reason": "meeting"}))
            await recv_until(sup, lambda m, i=i: m.get("ref") == f"p{i}", 10)
        await eventually(lambda: router.state(ALICE).value == "paused", 10, "Alice paused")
        sim.place_call("13800138001", "Wang Fang", "hold", patience=120, talk=20)
        board = await recv_until(sup, lambda m: m["type"] == "routing" and m["waiting"], 15)
        (waiting,) = board["waiting"]
        assert (waiting["queue"], waiting["needs"], waiting["status"], waiting["number"]) == (
            "sales",
            ["sales:5"],
            "waiting",
            "13800138001",
        )
        assert {a["agent"]: a["skills"] for a in board["agents"]}["Bob"] == {"sales": 3}
        # an agent may not change skills; a bad level is refused with the field named
        await bob.send(json.dumps({"ref": "x", "type": "set_skills", "agent": "Bob", "skills": {"sales": 9}}))
        refused = await recv_until(bob, lambda m: m.get("ref") == "x", 10)
        assert (refused["type"], refused["code"]) == ("error", "forbidden")
        await sup.send(
            json.dumps({"ref": "bad", "type": "set_skills", "agent": "Bob", "skills": {"sales": 11}})
        )
        bad = await recv_until(sup, lambda m: m.get("ref") == "bad", 10)
        assert (bad["type"], bad["code"]) == ("error", "bad_field")
        # the supervisor raises Bob to sales 7: the waiting call goes to him at once
        await sup.send(json.dumps({"ref": "s", "type": "set_skills", "agent": "Bob", "skills": {"sales": 7}}))
        ok = await recv_until(sup, lambda m: m.get("ref") == "s", 10)
        assert ok["type"] == "result" and ok["skills"] == {"sales": 7}
        pop = await recv_until(bob, lambda m: m["type"] == "screenpop", 15)
        assert pop["agent"] == "Bob" and pop["caller"]["number"] == "13800138001"
        for ws in (sup, bob):
            await ws.close()
    store = await Store.open(url)
    try:
        bob_account = await store.accounts.agent("bob")
        assert bob_account is not None and bob_account.skills == {"sales": 7}  # saved, survives a restart
    finally:
        await store.close()


async def test_a_ring_no_answer_goes_to_the_next_agent_and_cti_queue_log_agrees_with_the_stored_leg(
    tmp_path: Path,
) -> None:
    """Frank (the best fit) lets the call ring out; it comes back to the holding extension with its place
    and goes to Alice. The leg the store keeps and the queue_log cti wrote say the same thing."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed(url)
    store = await Store.open(url)
    try:  # Frank fits the call best (sales only); Alice also has a skill the call does not need
        await store.skills.replace("frank", {"sales": 9})
        await store.skills.replace("alice", {"sales": 9, "support": 2})
    finally:
        await store.close()
    scenario = load_scenario(ROOT / "config" / "sim" / "cti.toml")
    agents = tuple(
        dataclasses.replace(a, answer_probability=0.0) if a.name == "Frank" else a for a in scenario.agents
    )
    qlog = tmp_path / "cti_queue_log"
    async with routed_center(url, qlog, dataclasses.replace(scenario, agents=agents)) as (daemon, sim):
        assert daemon.server is not None and daemon.routing is not None and daemon.writer is not None
        router = daemon.routing.router
        sup = await login(daemon.server.port, "super")
        for i, other in enumerate(("Bob", "Carol", "Dave", "Erin")):
            await sup.send(json.dumps({"ref": f"p{i}", "type": "pause", "agent": other, "reason": "meeting"}))
            await recv_until(sup, lambda m, i=i: m.get("ref") == f"p{i}", 10)
        await eventually(lambda: router.state(AgentId("Frank")).value == "available", 10, "Frank ready")
        frank = await login(daemon.server.port, "frank")
        alice = await login(daemon.server.port, "alice")
        sim.place_call(
            "13800138003", "Zhou Min", "hold", patience=120, talk=4, variables={"DELIVER_TIMEOUT": "7"}
        )
        first = await recv_until(frank, lambda m: m["type"] == "screenpop", 20)
        second = await recv_until(alice, lambda m: m["type"] == "screenpop", 30)
        assert first["call"]["linkedid"] == second["call"]["linkedid"]
        assert second["call"]["queue"] == "sales"
        await recv_until(alice, lambda m: m["type"] == "call" and m["event"] == "answered", 15)
        await recv_until(alice, lambda m: m["type"] == "call" and m["event"] == "ended", 30)
        writer = daemon.writer
        await eventually(lambda: writer.rows >= 1, 10, "the journey written")
        for ws in (sup, frank, alice):
            await ws.close()
    store = await Store.open(url)
    try:
        (journey,) = await store.calls.journeys(time.time() - 3600, time.time() + 3600)
        (leg,) = journey.queue_legs
        legs = await store.calls.queue_legs(time.time() - 3600, time.time() + 3600)
    finally:
        await store.close()
    assert (leg.queue, leg.agent, leg.ring_no_answer) == ("sales", "Alice", ["Frank"])
    assert leg.outcome is not None and leg.outcome.value == "answered"
    assert journey.agents == ["Alice"] and journey.outcome is not None and journey.outcome.value == "answered"
    lines = [line.split("|") for line in qlog.read_text().splitlines()]
    assert [f[4] for f in lines] == ["ENTERQUEUE", "RINGNOANSWER", "CONNECT", "COMPLETECALLER"] or [
        f[4] for f in lines
    ] == ["ENTERQUEUE", "RINGNOANSWER", "CONNECT", "COMPLETEAGENT"], lines
    _enter, rna, connect_line, complete = lines
    assert {f[1] for f in lines} == {leg.uniqueid} and {f[2] for f in lines} == {"sales"}
    assert (
        rna[3] == "Frank" and 6000 <= int(rna[5]) <= 8000
    )  # DELIVER_TIMEOUT 7 s (Alice answers in 2-5 s), in ms
    assert connect_line[3] == complete[3] == "Alice"
    assert abs(int(connect_line[5]) - leg.wait_seconds) <= 1  # holdtime, as the stored wait
    assert abs(int(complete[6]) - leg.talk_seconds) <= 1  # calltime, as the stored talk
    # the reports count the CTI-routed leg as they count app_queue's
    stats = queue_stats("sales", legs, 20.0)
    assert (stats.offered, stats.answered, stats.abandoned) == (1, 1, 0)
