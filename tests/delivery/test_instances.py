"""Two daemons on one Asterisk, sharing the real Redis: both see every held call and every agent, and
both route; the leases make sure no call is delivered twice and no agent rings for two calls at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from cti.app import Daemon
from cti.sim.scenario import load_scenario
from cti.sim.server import SimServer
from tests.conftest import ROOT
from tests.e2e.running import instance
from tests.e2e.test_cti_routing import seed
from tests.waiting import eventually


def routed_instance(url: str, redis_url: str, name: str, port: int, qlog: Path) -> Daemon:
    return instance(
        url,
        redis_url,
        name,
        f'[[asterisk]]\nname = "sim"\nport = {port}\nusername = "cti"\nsecret = "ctisecret"\n'
        "ping_interval = 1.0\ndead_after = 5.0\n"
        f'[routing]\nenabled = true\ndefault_queue = "any"\nqueue_log = "{qlog}"\n'
        "[routing.queues.any]\nreservation_timeout = 3\n",
    )


@pytest.mark.redis
async def test_two_instances_on_one_asterisk_never_deliver_a_call_twice_nor_two_calls_to_one_agent(
    redis_url: str, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed(url)
    sim = SimServer(load_scenario(ROOT / "config" / "sim" / "demo.toml"), speed=1.0, seed=11, traffic=False)
    port = await sim.start("127.0.0.1", 0)
    legs: dict[str, set[str]] = {}  # agent extension -> its deliver legs, from DialBegin to their end
    worst: Counter[str] = Counter()
    delivered: Counter[str] = Counter()  # caller channel -> dials from deliver
    # A ring-no-answer (reservation_timeout 3 s; the sim's agents ring 1-5 s, miss 2-10%) offers the call to
    # the next agent: a call may be dialled again, but never while a dial of it rings, never after an answer.
    ringing: dict[str, int] = {}  # caller channel -> its deliver dials still ringing
    answered: set[str] = set()
    overlaps: list[str] = []

    def tap(category: str, headers: object, data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        fields = dict(line.split(": ", 1) for line in text.split("\r\n") if ": " in line)
        event = fields.get("Event")
        if event == "Hangup":
            for active in legs.values():
                active.discard(fields.get("Channel", ""))
            return
        dest = fields.get("DestChannel", "")
        if (
            event not in ("DialBegin", "DialEnd")
            or "@agents" not in dest
            or fields.get("Context") != "deliver"
        ):
            return
        ext = dest.split("/", 1)[1].split("@", 1)[0]
        active = legs.setdefault(ext, set())
        caller = fields.get("Channel", "")
        if event == "DialBegin":
            active.add(dest)
            worst[ext] = max(worst[ext], len(active))
            delivered[caller] += 1
            if ringing.get(caller, 0) or caller in answered:
                overlaps.append(f"{caller} dialled {dest} while ringing or after its answer")
            ringing[caller] = ringing.get(caller, 0) + 1
        else:
            ringing[caller] = max(0, ringing.get(caller, 0) - 1)
            if fields.get("DialStatus") == "ANSWER":
                answered.add(caller)
            else:
                active.discard(dest)

    sim.taps.append(tap)
    try:
        a = routed_instance(url, redis_url, "a", port, tmp_path / "a.log")
        b = routed_instance(url, redis_url, "b", port, tmp_path / "b.log")
        await a.open()
        await b.open()
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(a.run()), tg.create_task(b.run())]
            assert a.routing is not None and b.routing is not None
            ra, rb = a.routing, b.routing
            await eventually(lambda: ra.router.agents() and rb.router.agents(), 10, "both routers' agents")
            await eventually(
                lambda: (
                    sum(v.state.value == "available" for v in ra.router.agents()) >= 5
                    and sum(v.state.value == "available" for v in rb.router.agents()) >= 5
                ),
                10,
                "agents available on both",
            )
            for n in range(8):  # more calls than agents: they queue, and both instances race for each
                sim.place_call(f"1390000000{n}", f"Caller {n}", "hold", patience=120, talk=3)
            await eventually(
                lambda: ra.stats.served + rb.stats.served >= 8,
                40,
                "every call answered",
            )
            for d in (a, b):
                d.stopping.set()
            for t in tasks:
                await t
    finally:
        await sim.stop()
    assert max(worst.values()) == 1, f"an agent rang for two calls at once: {dict(worst)}"
    assert len(delivered) == 8 and not overlaps, (overlaps, dict(delivered))
    assert answered == set(delivered)
    misses = ra.stats.missed + rb.stats.missed
    assert sum(delivered.values()) == 8 + misses  # every second dial of a call follows a ring-no-answer
    assert ra.stats.served + rb.stats.served == 8
    assert ra.stats.lease_refusals + rb.stats.lease_refusals > 0  # they did compete
