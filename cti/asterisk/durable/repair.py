"""The repair: after every gap in the AMI feed, the calls of that window are reconciled with Asterisk's logs.

One ``RecordsRepair`` per Asterisk server, a daemon component (``run()``, ``collect()``) and a bus
subscriber of this instance's events (``on_events``):

1. **Gaps.** A ``Resynced`` of its server (every login: a reconnect, or the daemon's start) opens a gap
   from the time of the last event seen before the link went down (``links_lost``: the events a new
   link carries before its resync are already after the gap) to the log's clock at the next read, with
   ``pad`` seconds on both sides. The first ``Resynced`` of a process opens it from when the newest
   stored call of the server ended (``latest_end``), less ``restart_lookback``: what a process that died
   had not written is after that, and a repair it had not finished is inside the lookback.
2. **Reading.** Every ``poll`` seconds the source (files or PostgreSQL, ``cti.asterisk.durable.sources``)
   is read from where it stopped; rows that cannot be read are counted (``repair_bad_rows_total``) and
   logged, never fatal; a source that cannot be read is retried at the next poll.
3. **Which calls.** A call the log shows complete (CEL ``LINKEDID_END``, or its CDR rows when there is no
   CEL; no queue visit open) whose time span meets a gap is reconciled once it has been complete for
   ``settle`` seconds (the live feed's ``CallEnded`` is in the writer's buffer by then). When a gap opens,
   the calls already complete in its window are reconciled at once.
4. **Reconciling** (``cti.asterisk.durable.reconcile``): against the journey the writer still holds for
   it, else the store's; a correction is handed to the same ``JourneyWriter`` (behind any live write of
   the call, so it wins), duplicates are deleted. A live ``CallEnded`` of a call already reconciled sends
   it through rule 3 again (a late live write must not undo the repair).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cti.asterisk.durable.reconcile import DurableLog, LoggedCall, Verdict, reconcile
from cti.asterisk.durable.sources import LogSource
from cti.core.events import CallEnded, DomainEvent, Resynced
from cti.core.journey import CallJourney
from cti.telemetry import Metric, counter, gauge

log = logging.getLogger("cti.asterisk.durable")
DONE_MEMORY = 20000


class RepairStore(Protocol):
    async def journeys_of(self, linkedids: Sequence[str], server: str | None = None) -> list[CallJourney]: ...

    async def latest_end(self, server: str) -> float | None: ...

    async def delete_journeys(self, linkedids: Sequence[str], server: str) -> int: ...


class RepairWriter(Protocol):
    def pending_journey(self, server: str, linkedid: str) -> CallJourney | None: ...

    def submit(self, journeys: Iterable[CallJourney]) -> None: ...

    def discard(self, server: str, linkedids: Iterable[str]) -> None: ...


@dataclass(slots=True)
class Gap:
    start: float
    end: float = math.inf  # known at the first read after the login
    opened: float = 0.0  # monotonic time of the login
    repaired_in: float | None = None  # seconds from the login to its complete calls reconciled


@dataclass(slots=True)
class RepairStats:
    gaps: int = 0
    calls_checked: int = 0
    calls_added: int = 0
    calls_corrected: int = 0
    legs_added: int = 0
    legs_corrected: int = 0
    duplicates_removed: int = 0
    bad_rows: int = 0
    read_errors: int = 0
    write_errors: int = 0
    last_repair_seconds: float = 0.0
    slowest_repair_seconds: float = 0.0


class RecordsRepair:
    def __init__(
        self,
        server: str,
        source: LogSource,
        store: RepairStore,
        writer: RepairWriter,
        *,
        inbound_contexts: Collection[str],
        poll: float = 1.0,
        settle: float = 1.0,
        pad: float = 5.0,
        restart_lookback: float = 300.0,
        keep: float = 4 * 3600.0,
        links_lost: Callable[[], int] = lambda: 0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.server = server
        self.source = source
        self.store = store
        self.writer = writer
        self.inbound_contexts = frozenset(inbound_contexts)
        self.poll, self.settle, self.pad, self.keep = poll, settle, pad, keep
        self.restart_lookback = restart_lookback
        self._monotonic = monotonic
        self.log = DurableLog()
        self.gaps: list[Gap] = []
        self.stats = RepairStats()
        self._last_at: float | None = None  # the newest event time of this server seen live
        self._logins: list[tuple[float | None, float]] = []  # (last event time before it, monotonic)
        self._high_water: float | None = None
        self._started = False
        self._resynced = False
        self._links_lost = links_lost  # the AMI link's count of lost links (a gap starts at the drop)
        self._lost_seen = 0
        self._gap_from: float | None = None  # the last event time before the first drop since a login
        self._ready: dict[str, float] = {}  # linkedid -> monotonic time it was seen complete
        self._done: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.idle = asyncio.Event()  # set after each pass with nothing left to reconcile (tests)

    # ---- the bus ----------------------------------------------------------------------------------------
    def on_events(self, events: Sequence[DomainEvent], origin: str = "") -> None:
        lost = self._links_lost()
        if lost != self._lost_seen:  # the link went down since the last batch: the gap began before it
            self._lost_seen = lost
            if self._gap_from is None:
                self._gap_from = self._last_at
        for event in events:
            if event.server != self.server:
                continue
            if isinstance(event, Resynced):
                # the first one of this process covers everything since the store's newest call, even
                # when a link that dropped before its resync carried a few events (rule 1)
                before = (
                    (self._gap_from if self._gap_from is not None else self._last_at)
                    if self._resynced
                    else None
                )
                self._gap_from = None
                self._resynced = True
                self._logins.append((before, self._monotonic()))
                continue
            if isinstance(event, CallEnded) and event.journey.linkedid in self._done:  # (this server's)
                # a late live write of a call already reconciled: look again once it has settled
                self._ready[event.journey.linkedid] = self._monotonic()
            if self._last_at is None or event.at > self._last_at:
                self._last_at = event.at

    # ---- the task ---------------------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except Exception as e:  # a bad pass is logged; the next one starts from the same state
                log.exception("%s: records repair failed: %s", self.server, e)
            await asyncio.sleep(self.poll)

    async def step(self) -> None:
        """One pass: read what is new, open and close gaps, reconcile the calls that are due."""
        if not self._started:
            self._high_water = await self.store.latest_end(self.server)
            since = None if self._high_water is None else self._high_water - self.keep
            self._started = True
        else:
            since = None
        try:
            parsed = await self.source.read(since)
        except Exception as e:
            self.stats.read_errors += 1
            log.warning("%s: cannot read Asterisk's logs: %s", self.server, e)
            return
        if parsed.bad:
            self.stats.bad_rows += len(parsed.bad)
            for bad in parsed.bad[:5]:
                log.warning("%s: unreadable %s row %d: %s", self.server, bad.source, bad.line, bad.reason)
        now = self._monotonic()
        touched = self.log.add(parsed)
        for linkedid in touched:
            call = self.log.calls.get(linkedid)
            if call is not None and linkedid not in self._ready and self._complete(call):
                self._ready[linkedid] = now
        new_gaps = self._open_gaps(now)
        due = [lid for lid, t in self._ready.items() if now - t >= self.settle]
        for gap in new_gaps:  # the calls already complete in a new gap's window: now
            due += [lid for lid, c in self.log.calls.items() if self._complete(c) and self._meets(c, gap)]
        due = list(dict.fromkeys(due))
        for lid in due:
            self._ready.pop(lid, None)
        calls = [c for lid in due if (c := self.log.calls.get(lid)) is not None and self._in_a_gap(c)]
        if log.isEnabledFor(logging.DEBUG) and len(calls) < len(due):
            skipped = [lid for lid in due if lid not in {c.linkedid for c in calls}]
            log.debug(
                "%s: outside every gap %s: %s", self.server, [(g.start, g.end) for g in self.gaps], skipped
            )
        if calls:
            await self._reconcile(calls)
        for gap in new_gaps:
            gap.repaired_in = self._monotonic() - gap.opened
            self.stats.last_repair_seconds = gap.repaired_in
            self.stats.slowest_repair_seconds = max(self.stats.slowest_repair_seconds, gap.repaired_in)
        self._forget()
        if not self._ready and not self._logins:
            self.idle.set()
        else:
            self.idle.clear()

    def _complete(self, call: LoggedCall) -> bool:
        return self.log.complete(call, has_cel=self.source.has_cel)

    def _open_gaps(self, now: float) -> list[Gap]:
        clock = max(self.log.latest, self._last_at or 0.0) + self.pad
        for gap in self.gaps:
            if gap.end == math.inf:
                gap.end = clock
        new: list[Gap] = []
        for before, at in self._logins:
            if before is None:  # the first login of this process: from what the store last got
                start = -math.inf if self._high_water is None else self._high_water - self.restart_lookback
            else:
                start = before - self.pad
            gap = Gap(start, clock, opened=at)
            self.gaps.append(gap)
            new.append(gap)
            self.stats.gaps += 1
        self._logins.clear()
        return new

    @staticmethod
    def _meets(call: LoggedCall, gap: Gap) -> bool:
        start, end = call.started_at, call.ended_at
        if start is None or end is None:
            return False
        return start <= gap.end and end >= gap.start

    def _in_a_gap(self, call: LoggedCall) -> bool:
        return any(self._meets(call, gap) for gap in self.gaps)

    async def _reconcile(self, calls: list[LoggedCall]) -> None:
        ids = sorted({uid for c in calls for uid in (c.linkedid, *c.uniqueids)})
        try:
            stored = await self.store.journeys_of(ids, self.server)
        except Exception as e:
            self.stats.write_errors += 1
            log.warning("%s: cannot read the store for the repair: %s; retrying", self.server, e)
            now = self._monotonic()
            for c in calls:
                self._ready[c.linkedid] = now - self.settle  # due again at the next pass
            return
        by_id: dict[str, CallJourney] = {j.linkedid: j for j in stored}
        writes: list[CallJourney] = []
        removes: list[str] = []
        for call in calls:
            held = []
            for uid in sorted({call.linkedid, *call.uniqueids}, key=lambda u: u != call.linkedid):
                journey = self.writer.pending_journey(self.server, uid) or by_id.get(uid)
                if journey is not None:
                    held.append(journey)
            verdict = reconcile(
                self.log, call, held, server=self.server, inbound_contexts=self.inbound_contexts
            )
            self._count(verdict)
            log.debug(
                "%s: reconciled %s: %s",
                self.server,
                call.linkedid,
                "added" if verdict.added else "corrected" if verdict.journey is not None else "right",
            )
            if verdict.journey is not None:
                writes.append(verdict.journey)
            removes += verdict.remove
            self._done[call.linkedid] = None
            self._done.move_to_end(call.linkedid)
            while len(self._done) > DONE_MEMORY:
                self._done.popitem(last=False)
        if removes:
            self.writer.discard(self.server, removes)
            try:
                self.stats.duplicates_removed += await self.store.delete_journeys(removes, self.server)
            except Exception as e:
                self.stats.write_errors += 1
                log.warning("%s: cannot remove %d duplicate records: %s", self.server, len(removes), e)
        if writes:
            self.writer.submit(writes)
            log.info(
                "%s: repaired %d calls from Asterisk's logs",
                self.server,
                len(writes),
                extra={"calls": len(writes)},
            )

    def _count(self, v: Verdict) -> None:
        s = self.stats
        s.calls_checked += 1
        if v.added:
            s.calls_added += 1
        elif v.journey is not None:
            s.calls_corrected += 1
        s.legs_added += v.legs_added
        s.legs_corrected += v.legs_corrected

    def _forget(self) -> None:
        horizon = self.log.latest - self.keep
        self.log.forget_before(horizon)
        self.gaps = [g for g in self.gaps if g.end >= horizon]

    # ---- metrics ----------------------------------------------------------------------------------------
    def collect(self) -> Iterable[Metric]:
        s, server = self.stats, self.server
        for name, help_, value in (
            ("gaps", "AMI gaps (logins) whose window was reconciled", s.gaps),
            ("calls_checked", "calls reconciled with Asterisk's logs", s.calls_checked),
            ("calls_added", "calls missing from the store, added", s.calls_added),
            ("calls_corrected", "stored calls corrected from the logs", s.calls_corrected),
            ("legs_added", "queue legs missing from the store, added", s.legs_added),
            ("legs_corrected", "queue legs corrected from queue_log", s.legs_corrected),
            ("duplicates_removed", "duplicate call records removed", s.duplicates_removed),
            ("bad_rows", "rows of Asterisk's logs that could not be read", s.bad_rows),
            ("read_errors", "failed reads of Asterisk's logs", s.read_errors),
        ):
            yield counter(f"repair_{name}_total", help_, value, server=server)
        yield gauge(
            "repair_slowest_seconds",
            "the longest time from a login to its window reconciled",
            s.slowest_repair_seconds,
            server=server,
        )
        yield gauge(
            "repair_last_seconds",
            "seconds from the last login to its window reconciled",
            s.last_repair_seconds,
            server=server,
        )
