"""The daemon keeps the agents' state history: its own AgentStateChanged events, written in batches and
closed at shutdown."""

from __future__ import annotations

import asyncio
import time

from cti.app import Daemon
from cti.config import parse_config
from cti.core.events import AgentState, AgentStateChanged
from cti.core.ids import AgentId, QueueName
from cti.store import Store
from tests.e2e.running import config_text, seed_accounts
from tests.waiting import eventually


async def test_the_daemon_writes_state_changes_and_closes_them_at_shutdown(db_url: str) -> None:
    await seed_accounts(db_url)
    daemon = Daemon(parse_config(config_text(db_url)))
    await daemon.open()
    t0 = time.time() - 100
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(daemon.run())
        q = (QueueName("sales"),)
        daemon.publish(
            [
                AgentStateChanged(t0, "pbx1", AgentId("Alice"), "PJSIP/1", AgentState.AVAILABLE, "", q),
                AgentStateChanged(
                    t0 + 20, "pbx1", AgentId("Alice"), "PJSIP/1", AgentState.PAUSED, "lunch", q
                ),
            ]
        )
        writer = daemon.state_writer
        assert writer is not None
        await eventually(lambda: writer.rows == 2 and writer.pending == 0, what="the changes written")
        daemon.stopping.set()
        await task
    store = await Store.open(db_url)
    try:
        ivs = await store.agent_states.intervals(t0, time.time() + 1)
    finally:
        await store.close()
    assert [(i.state, i.reason, i.started_at - t0, i.queues) for i in ivs] == [
        ("available", "", 0.0, ("sales",)),
        ("paused", "lunch", 20.0, ("sales",)),
    ]
    assert ivs[0].ended_at == t0 + 20
    assert ivs[1].ended_at is not None and ivs[1].ended_at >= t0 + 100  # closed at the shutdown
