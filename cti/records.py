"""The store writer: finished call journeys, written in batches, never lost on a hiccup or at shutdown.

A bus subscriber (this instance's events only) appends every ``CallEnded`` journey to a buffer. The
writer task writes a batch when ``batch_size`` journeys are waiting or ``flush_interval`` seconds after
the first one arrived, whichever comes first. A failed write keeps the batch and retries with backoff
(``record_journeys`` is idempotent by server and linkedid, so a retry after a half-done write is safe).
``flush()`` writes everything left; the daemon calls it on shutdown.

The customer's number of each journey is normalized when the call ends, by the store's own
``normalize`` (libphonenumber behind an LRU cache): the screen pop already normalized the same number
while the phone rang, so this is a cache hit, and the batch write itself parses nothing.

During a store outage the buffer is bounded: at most ``max_pending`` journeys wait in memory; the rest
go, in arrival order, to a local spill file (``spill_path``, JSON lines), and once the file holds
anything every new journey goes there too, so the order of writes is the order of arrival. When the
store is back, the writer writes what is in memory, then reads the file back batch by batch; the file
is emptied when all it held has been written. The file survives a crash or a shutdown during the
outage (``flush`` puts what is still in memory in front of it) and is replayed on the next start; a
journey written twice is harmless (``record_journeys`` is idempotent by linkedid). Nothing is dropped.
"""

from __future__ import annotations

import collections
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from cti.batching import BatchWriter
from cti.core.events import CallEnded, DomainEvent
from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import CallJourney, Direction, JourneyOutcome, LegOutcome, QueueLeg
from cti.store.callrecords import CallKey, call_key, remote_number
from cti.telemetry import Metric, counter, gauge

log = logging.getLogger("cti.records")


class JourneyStore(Protocol):
    async def record_journeys(
        self, journeys: Sequence[CallJourney], *, normalized: Mapping[CallKey, str | None] | None = None
    ) -> Any: ...

    def normalize(self, number: str | None) -> str | None: ...


Item = tuple[CallJourney, str | None]  # a finished journey with the customer's number in E.164


def dump_item(item: Item) -> str:
    """One spill-file line: every field of the journey (``to_json`` leaves some out) and the number."""
    journey, e164 = item
    data = asdict(journey)
    data["direction"] = journey.direction.value
    data["outcome"] = journey.outcome.value if journey.outcome else None
    for leg, raw in zip(journey.queue_legs, data["queue_legs"], strict=True):
        raw["outcome"] = leg.outcome.value if leg.outcome else None
    return json.dumps({"j": data, "n": e164}, ensure_ascii=False, separators=(",", ":"))


def load_item(line: str) -> Item:
    raw = json.loads(line)
    data = dict(raw["j"])
    legs = []
    for leg in data.pop("queue_legs"):
        legs.append(
            QueueLeg(
                **{
                    **leg,
                    "queue": QueueName(leg["queue"]),
                    "uniqueid": UniqueId(leg["uniqueid"]),
                    "outcome": LegOutcome(leg["outcome"]) if leg["outcome"] else None,
                    "agent": AgentId(leg["agent"]) if leg["agent"] else None,
                    "ring_no_answer": [AgentId(a) for a in leg["ring_no_answer"]],
                }
            )
        )
    journey = CallJourney(
        **{
            **data,
            "linkedid": LinkedId(data["linkedid"]),
            "direction": Direction(data["direction"]),
            "outcome": JourneyOutcome(data["outcome"]) if data["outcome"] else None,
            "agents": [AgentId(a) for a in data["agents"]],
            "queue_legs": legs,
        }
    )
    return journey, raw["n"]


class SpillFile:
    """Journeys beyond the memory bound, in arrival order: appended at the end, read from ``read_at``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.read_at = 0  # byte offset of the first line not yet read back
        self.unread = 0
        if path.exists():
            with path.open("rb") as f:
                self.unread = sum(1 for line in f if line.strip())  # a previous run's: replayed

    def append(self, items: Sequence[Item]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.writelines(dump_item(item) + "\n" for item in items)
        self.unread += len(items)

    def read(self, n: int) -> list[Item]:
        out: list[Item] = []
        with self.path.open("rb") as f:
            f.seek(self.read_at)
            while len(out) < n:
                line = f.readline()
                if not line:
                    break
                if line.strip():
                    out.append(load_item(line.decode("utf-8")))
            self.read_at = f.tell()
        self.unread = max(0, self.unread - len(out))
        if not out:
            self.unread = 0
        return out

    def reset(self) -> None:
        """Everything it held has been written."""
        with self.path.open("w"):
            pass
        self.read_at = 0
        self.unread = 0

    def keep(self, front: Sequence[Item]) -> None:
        """Shutdown during an outage: the file becomes ``front`` then what was not read back yet."""
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as out:
            out.writelines((dump_item(item) + "\n").encode() for item in front)
            if self.path.exists():
                with self.path.open("rb") as f:
                    f.seek(self.read_at)
                    while chunk := f.read(1 << 20):
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        self.unread += len(front)
        self.read_at = 0


class JourneyWriter(BatchWriter):
    what = "call records"

    def __init__(
        self,
        store: JourneyStore,
        *,
        batch_size: int = 500,
        flush_interval: float = 1.0,
        max_pending: int = 10_000,
        spill_path: Path | None = None,
    ) -> None:
        super().__init__(batch_size, flush_interval, log)
        self.store = store
        self.max_pending = max_pending  # in memory; beyond: the spill file (without one: memory)
        self._pending: collections.deque[Item] = collections.deque()
        self._spill = SpillFile(spill_path) if spill_path is not None else None
        self._file_tail = 0  # journeys at the front of _pending that came from the spill file
        if self._spill is not None and self._spill.unread:
            log.info("replaying %d call records from %s", self._spill.unread, spill_path)
            self._arrived.set()
        self.spilled = 0

    @property
    def pending(self) -> int:
        return len(self._pending) + (self._spill.unread if self._spill is not None else 0)

    @property
    def in_memory(self) -> int:
        return len(self._pending)

    def collect(self) -> Iterable[Metric]:
        yield counter("store_batches_total", "call record batches written", self.batches)
        yield counter("store_rows_total", "call records written", self.rows)
        yield counter("store_errors_total", "failed batch writes", self.errors)
        yield gauge("store_pending", "finished calls waiting to be written", self.pending)
        yield counter("store_spilled_total", "finished calls put in the spill file", self.spilled)
        yield gauge("store_failing", "1 while the latest call record write failed", self.failing)

    def on_events(self, events: Sequence[DomainEvent], origin: str = "") -> None:
        self.submit(event.journey for event in events if isinstance(event, CallEnded))

    def pending_journey(self, server: str, linkedid: str) -> CallJourney | None:
        """The newest journey of ``server``'s ``linkedid`` waiting in memory to be written (the repair reads
        it; one spilled to disk during a store outage is not seen, and the repair's correction, written
        after it, wins)."""
        for journey, _ in reversed(self._pending):
            if journey.linkedid == linkedid and journey.server == server:
                return journey
        return None

    def submit(self, journeys: Iterable[CallJourney]) -> None:
        """Queue journeys for writing behind everything already pending (finished calls and the repair's
        corrections); beyond ``max_pending`` in memory, they go to the spill file, in order."""
        spill: list[Item] = []
        spill_file = self._spill
        for journey in journeys:
            item = (journey, self.store.normalize(remote_number(journey)))
            if spill_file is not None and (
                spill or spill_file.unread or len(self._pending) >= self.max_pending
            ):
                spill.append(item)  # behind everything already in the file: the order is kept
            else:
                self._pending.append(item)
        if spill and spill_file is not None:
            spill_file.append(spill)
            self.spilled += len(spill)
        if self.pending:
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

    async def _write_one_batch(self) -> None:
        self._refill()
        batch = [self._pending[i] for i in range(min(self.batch_size, len(self._pending)))]
        if batch:
            journeys = [j for j, _ in batch]
            await self.store.record_journeys(journeys, normalized={call_key(j): e164 for j, e164 in batch})
            for _ in batch:
                self._pending.popleft()
            self._file_tail = max(0, self._file_tail - len(batch))
            self.batches += 1
            self.rows += len(batch)
            self.failing = False
        self._refill()
        if len(self._pending) < self.batch_size:
            self._full.clear()
        if not self.pending:
            self._arrived.clear()

    def _refill(self) -> None:
        """Bring the spill file's next journeys into memory (behind what is there: they came later)."""
        spill = self._spill
        if spill is None:
            return
        room = self.max_pending - len(self._pending)
        if spill.unread and room > 0:
            self._pending.extend(spill.read(min(room, self.batch_size)))
            self._file_tail = len(self._pending)
        if not spill.unread and not self._file_tail and spill.read_at:
            spill.reset()

    async def flush(self) -> None:
        """Write everything pending. When the store refuses and there is a spill file, what is left is
        kept there for the next start; without one, this raises (the caller logs what was lost)."""
        try:
            while self.pending:
                await self._write_one_batch()
        except Exception as e:
            if self._spill is None:
                raise
            # memory holds what came before the file's unread lines, in order (read-back lines included)
            self._spill.keep(list(self._pending))
            self._pending.clear()
            self._file_tail = 0
            log.warning(
                "the store refused the last call records (%s): %d kept in %s",
                e,
                self.pending,
                self._spill.path,
            )
