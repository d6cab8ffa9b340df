"""The store writer: finished call journeys, written in batches, never lost on a hiccup or at shutdown.

A bus subscriber (this instance's events only) appends every ``CallEnded`` journey to a buffer. The
writer task writes a batch when ``batch_size`` journeys are waiting or ``flush_interval`` seconds after
the first one arrived, whichever comes first. A failed write keeps the batch and retries with backoff
(``record_journeys`` is idempotent by server and linkedid, so a retry after a half-done write is safe).
``flush()`` writes everything left; the daemon calls it on shutdown.

The customer's number of each journey is normalized when the call ends, by the store's own
``normalize`` (libphonenumber behind an LRU cache): the screen pop already normalized the same number
while the phone rang, so this is a cache hit, and the batch write itself parses nothing.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from cti.core.events import CallEnded, DomainEvent
from cti.core.journey import CallJourney
from cti.store.callrecords import CallKey, call_key, remote_number
from cti.telemetry import Metric, counter, gauge

log = logging.getLogger("cti.records")


class JourneyStore(Protocol):
    async def record_journeys(
        self, journeys: Sequence[CallJourney], *, normalized: Mapping[CallKey, str | None] | None = None
    ) -> Any: ...

    def normalize(self, number: str | None) -> str | None: ...


class JourneyWriter:
    def __init__(self, store: JourneyStore, *, batch_size: int = 500, flush_interval: float = 1.0) -> None:
        self.store = store
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        # each finished journey with the customer's number in E.164
        self._pending: collections.deque[tuple[CallJourney, str | None]] = collections.deque()
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self.batches = 0
        self.rows = 0
        self.errors = 0
        self.last_error = ""
        self.failing = False  # the latest write failed (and none succeeded since): /healthz is degraded

    @property
    def pending(self) -> int:
        return len(self._pending)

    def collect(self) -> Iterable[Metric]:
        yield counter("store_batches_total", "call record batches written", self.batches)
        yield counter("store_rows_total", "call records written", self.rows)
        yield counter("store_errors_total", "failed batch writes", self.errors)
        yield gauge("store_pending", "finished calls waiting to be written", self.pending)
        yield gauge("store_failing", "1 while the latest call record write failed", self.failing)

    def on_events(self, events: Sequence[DomainEvent], origin: str = "") -> None:
        self.submit(event.journey for event in events if isinstance(event, CallEnded))

    def pending_journey(self, server: str, linkedid: str) -> CallJourney | None:
        """The newest journey of ``server``'s ``linkedid`` waiting to be written (the repair reads it)."""
        for journey, _ in reversed(self._pending):
            if journey.linkedid == linkedid and journey.server == server:
                return journey
        return None

    def submit(self, journeys: Iterable[CallJourney]) -> None:
        """Queue journeys for writing behind everything already pending (the repair's corrections)."""
        for journey in journeys:
            self._pending.append((journey, self.store.normalize(remote_number(journey))))
        if self._pending:
            self._arrived.set()
            if len(self._pending) >= self.batch_size:
                self._full.set()

    def discard(self, server: str, linkedids: Iterable[str]) -> None:
        """Drops pending journeys of these Linkedids of ``server`` (duplicates the repair removed)."""
        gone = {(server, lid) for lid in linkedids}
        if gone and any((j.server, j.linkedid) in gone for j, _ in self._pending):
            self._pending = collections.deque(
                (j, e) for j, e in self._pending if (j.server, j.linkedid) not in gone
            )

    async def run(self) -> None:
        delay = 0.5
        while True:
            await self._arrived.wait()
            if len(self._pending) < self.batch_size:
                try:
                    async with asyncio.timeout(self.flush_interval):
                        await self._full.wait()
                except TimeoutError:
                    pass
            try:
                await self._write_one_batch()
                delay = 0.5
            except Exception as e:
                self.errors += 1
                self.failing = True
                self.last_error = str(e)
                log.warning("writing %d call records failed: %s; retrying in %.1fs", self.pending, e, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _write_one_batch(self) -> None:
        batch = [self._pending[i] for i in range(min(self.batch_size, len(self._pending)))]
        if batch:
            journeys = [j for j, _ in batch]
            await self.store.record_journeys(journeys, normalized={call_key(j): e164 for j, e164 in batch})
            for _ in batch:
                self._pending.popleft()
            self.batches += 1
            self.rows += len(batch)
            self.failing = False
        if len(self._pending) < self.batch_size:
            self._full.clear()
        if not self._pending:
            self._arrived.clear()

    async def flush(self) -> None:
        """Write everything pending (raises if the store refuses: the caller logs what was lost)."""
        while self._pending:
            await self._write_one_batch()
