"""The pump: the ONE task that drains a connection's queue into the call tracker, in order.

It is the single writer of the tracker's state. Each queue item becomes domain events:

* ``Received`` -> ``tracker.feed(message, received_at)``;
* ``ResyncSnapshot`` -> ``tracker.resync(snapshot)``; a ``Resynced`` event always follows (the pump adds
  one when the tracker did not), so every gap in the stream is visible downstream;
* ``StreamProblem`` -> published as is.

Whatever is already waiting in the queue is applied before publishing, up to ``batch`` items, so a burst
costs one ``publish`` call instead of one per event; order is kept. A tracker that raises on one message
is reported (``StreamProblem``) and the pump goes on with the next: one bad event never kills the loop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from cti.asterisk.ami import Message
from cti.asterisk.connection import AmiConnection, QueueItem, Received
from cti.asterisk.snapshot import ResyncSnapshot
from cti.core.events import DomainEvent, Resynced, StreamProblem
from cti.telemetry import Metric, counter

log = logging.getLogger("cti.asterisk.pump")


class Tracker(Protocol):
    """The CallTracker contract (cti/asterisk/calls.py)."""

    def feed(self, msg: Message, received_at: float) -> Sequence[DomainEvent]: ...

    def resync(self, snapshot: ResyncSnapshot) -> Sequence[DomainEvent]: ...


Publish = Callable[[Sequence[DomainEvent]], Awaitable[None] | None]


class EventPump:
    def __init__(
        self,
        queue: asyncio.Queue[QueueItem],
        tracker: Tracker,
        publish: Publish,
        *,
        server: str,
        batch: int = 256,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``clock``: the wall clock; with it, a wrap-up the tracker knows the end of is ended on time,
        not at the next event from Asterisk (which may come minutes later)."""
        self.clock = clock
        self.queue = queue
        self.tracker = tracker
        self.publish = publish
        self.server = server
        self.batch = max(1, batch)
        self.applied = 0  # queue items applied
        self.published = 0  # domain events published
        self.tracker_errors = 0

    def collect(self) -> Iterable[Metric]:
        yield counter("domain_events_total", "domain events published", self.published, server=self.server)

    def _due(self) -> float | None:
        """When the tracker has something to do without an event (a wrap-up ends), if we keep time."""
        next_due = getattr(self.tracker, "next_due", None)
        if self.clock is None or next_due is None:
            return None
        due = float(next_due())
        return None if due == float("inf") else due

    async def _next(self) -> QueueItem | None:
        """The next queue item, or None when a wrap-up came due first."""
        due = self._due()
        if due is None:
            return await self.queue.get()
        assert self.clock is not None
        wait = due - self.clock()
        if wait > 0:
            try:
                async with asyncio.timeout(wait + 0.01):
                    return await self.queue.get()
            except TimeoutError:
                pass
        return self.queue.get_nowait() if not self.queue.empty() else None

    async def run(self) -> None:
        while True:
            item = await self._next()
            events: list[DomainEvent] = []
            if item is None:
                assert self.clock is not None
                advance = getattr(self.tracker, "advance", None)
                if advance is not None:
                    events.extend(advance(self.clock()))
                if events:
                    self.published += len(events)
                    result = self.publish(events)
                    if inspect.isawaitable(result):
                        await result
                continue
            self._apply(item, events)
            for _ in range(self.batch - 1):
                try:
                    item = self.queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                self._apply(item, events)
            if events:
                self.published += len(events)
                result = self.publish(events)
                if inspect.isawaitable(result):
                    await result

    def _apply(self, item: QueueItem, out: list[DomainEvent]) -> None:
        self.applied += 1
        try:
            if isinstance(item, Received):
                out.extend(self.tracker.feed(item.message, item.at))
            elif isinstance(item, ResyncSnapshot):
                produced = list(self.tracker.resync(item))
                if not any(isinstance(e, Resynced) for e in produced):
                    produced.append(resynced_for(item, self.server))
                out.extend(produced)
            else:
                out.append(item)
        except Exception as exc:
            self.tracker_errors += 1
            what = item.message.event if isinstance(item, Received) else type(item).__name__
            log.exception("%s: tracker failed on %s", self.server, what)
            at = item.at
            out.append(StreamProblem(at=at, server=self.server, problem=f"tracker failed on {what}: {exc!r}"))


def resynced_for(snapshot: ResyncSnapshot, server: str) -> Resynced:
    queues = sum(1 for m in snapshot.queue_status if m.event == "QueueParams")
    return Resynced(
        at=snapshot.at, server=server, reason=snapshot.reason, channels=len(snapshot.channels), queues=queues
    )


async def serve(connection: AmiConnection, tracker: Tracker, publish: Publish) -> None:
    """Run one Asterisk connection and its pump together, until cancelled (or one of them fails)."""
    pump = EventPump(connection.queue, tracker, publish, server=connection.server)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(connection.run(), name=f"ami-link-{connection.server}")
        tg.create_task(pump.run(), name=f"ami-pump-{connection.server}")
