"""The agent state writer: every ``AgentStateChanged`` of this instance, written to the store in batches.

A bus subscriber (local events only, like the journey writer in cti/records.py) appends each change to a
buffer; the writer task writes a batch when ``batch_size`` are waiting or ``flush_interval`` seconds after
the first arrived. The bus callback only appends, so the event loop's single writer (the AMI pump that
publishes) never waits on the database. A failed write keeps the batch and retries with backoff
(``record`` folds the changes into the stored open intervals in one transaction: a retry is safe).

During a store outage at most ``max_pending`` changes wait in memory; beyond that the oldest are dropped
(counted in ``agent_states_dropped_total`` and logged): the interval they began is then merged into the
one before it, the history stays contiguous. ``flush()`` writes what is left and closes this instance's
open intervals at the shutdown time (``close_open``); the daemon calls it on shutdown.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterable, Sequence
from typing import Protocol

from cti.batching import BatchWriter
from cti.core.events import AgentStateChanged, DomainEvent
from cti.reports.states import StateChange
from cti.telemetry import Metric, counter, gauge

log = logging.getLogger("cti.agentstates")


class AgentStateStore(Protocol):
    async def record(self, changes: Sequence[StateChange]) -> int: ...

    async def close_open(self, server: str, at: float) -> int: ...


def change_of(ev: AgentStateChanged) -> StateChange:
    return StateChange(ev.server, str(ev.agent), ev.state.value, ev.at, ev.reason, tuple(map(str, ev.queues)))


class AgentStateWriter(BatchWriter):
    what = "agent state changes"

    def __init__(
        self,
        store: AgentStateStore,
        *,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_pending: int = 100_000,
    ) -> None:
        super().__init__(batch_size, flush_interval, log)
        self.store = store
        self.max_pending = max_pending
        self._pending: collections.deque[StateChange] = collections.deque()
        self._servers: set[str] = set()
        self._last_at = 0.0
        self.dropped = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def collect(self) -> Iterable[Metric]:
        yield counter("agent_states_batches_total", "agent state batches written", self.batches)
        yield counter("agent_states_changes_total", "agent state changes written", self.rows)
        yield counter("agent_states_errors_total", "failed agent state writes", self.errors)
        yield counter("agent_states_dropped_total", "agent state changes dropped (outage)", self.dropped)
        yield gauge("agent_states_pending", "agent state changes waiting to be written", self.pending)

    def on_events(self, events: Sequence[DomainEvent], origin: str = "") -> None:
        self.submit(change_of(e) for e in events if isinstance(e, AgentStateChanged))

    def submit(self, changes: Iterable[StateChange]) -> None:
        for c in changes:
            self._pending.append(c)
            self._servers.add(c.server)
            self._last_at = max(self._last_at, c.at)
        over = len(self._pending) - self.max_pending
        if over > 0:
            for _ in range(over):
                self._pending.popleft()
            self.dropped += over
            log.warning("the store is behind: dropped the %d oldest agent state changes", over)
        if self._pending:
            self._arrived.set()
            if len(self._pending) >= self.batch_size:
                self._full.set()

    async def _write_one_batch(self) -> None:
        batch = [self._pending[i] for i in range(min(self.batch_size, len(self._pending)))]
        if batch:
            await self.store.record(batch)
            for _ in batch:
                self._pending.popleft()
            self.batches += 1
            self.rows += len(batch)
            self.failing = False
        if len(self._pending) < self.batch_size:
            self._full.clear()
        if not self._pending:
            self._arrived.clear()

    async def flush(self, at: float | None = None) -> None:
        """Write everything pending, then close this instance's open intervals at ``at`` (default: the
        newest change seen). Raises if the store refuses (the caller logs what was lost)."""
        while self._pending:
            await self._write_one_batch()
        stop = self._last_at if at is None else at
        for server in sorted(self._servers):
            await self.store.close_open(server, stop)
