"""The reconnect delay after cuts of the AMI link, against the simulated Asterisk over real sockets.

The delays are the ones the connection chose (``reconnect_delays``), not wall-clock measurements."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from typing import Any

from cti.asterisk.connection import AmiConnection
from cti.config import AsteriskConfig
from cti.sim.server import SimServer
from tests.conftest import timeout
from tests.waiting import eventually


@contextlib.asynccontextmanager
async def linked(**overrides: Any) -> AsyncIterator[tuple[SimServer, AmiConnection]]:
    sim = SimServer(seed=1, traffic=False)
    port = await sim.start("127.0.0.1", 0)
    values: dict[str, Any] = {
        "name": "sim",
        "port": port,
        "username": "cti",
        "secret": "ctisecret",
        "ping_interval": 0.05,
        "dead_after": timeout(2.0),
        "stable_after": 0.3,
    }
    conn = AmiConnection(AsteriskConfig(**(values | overrides)), rng=random.Random(5))

    async def drain() -> None:
        while True:
            await conn.queue.get()

    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(conn.run()), tg.create_task(drain())]
            try:
                yield sim, conn
            finally:
                for task in tasks:
                    task.cancel()
    finally:
        await sim.stop()


async def test_a_link_cut_again_and_again_after_it_carried_traffic_reconnects_at_the_minimum_delay() -> None:
    """Issue 14: the delays grew 0.5, 0.7, 1.1, 2.2, 7.7, 15.9, 29.1 s because the backoff reset only
    after a link of max(dead_after, reconnect_max). With the default reconnect_min (0.5 s) and
    reconnect_max (30 s), every one of 8 cuts of a stable link is followed by a delay under 0.5 s."""
    cuts = 8
    async with linked() as (sim, conn):
        cfg = conn.config
        assert (cfg.reconnect_min, cfg.reconnect_max) == (0.5, 30.0)  # the defaults
        for n in range(cuts):
            await eventually(lambda: conn.stable, 5, f"link {n + 1} stable")
            assert sim.cut_links() == 1
            logins = n + 2
            await eventually(lambda: conn.stats.logins == logins, 5, f"login {logins} after a cut")  # noqa: B023
        delays = list(conn.reconnect_delays)
    assert len(delays) == cuts and conn.stats.stable_links == cuts and conn.stats.reconnects == cuts
    assert all(cfg.reconnect_min / 2 <= d <= cfg.reconnect_min < 1.0 for d in delays), delays


async def test_a_server_that_drops_every_link_right_after_the_login_still_gets_a_growing_delay() -> None:
    """No reset for links that never carried traffic for stable_after: no reconnect storm."""
    async with linked(reconnect_min=0.02, reconnect_max=0.64, stable_after=30.0) as (sim, conn):
        for n in range(6):
            logins = n + 1
            await eventually(lambda: conn.stats.logins == logins and conn.connected, 5, "a login")  # noqa: B023
            assert not conn.stable
            sim.cut_links()
        await eventually(lambda: len(conn.reconnect_delays) == 6, 5, "six reconnect delays")
        delays = list(conn.reconnect_delays)
    assert conn.stats.stable_links == 0
    for attempt, delay in enumerate(delays):
        base = min(0.64, 0.02 * 2**attempt)
        assert base / 2 <= delay <= base, (attempt, delays)
