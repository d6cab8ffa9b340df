"""The in-process bus: every published batch of domain events goes to every subscriber, in order.

Subscribers are plain synchronous callables and must not block: they copy what they need into their own
bounded buffers (the websocket hub, the store writer, the live board) and return. That keeps the AMI pump
the single writer and keeps fan-out cost at one function call per subscriber per batch.

Each batch carries its origin: the name of the daemon instance whose AMI connection produced it. A
subscriber registered with ``local_only=True`` (the store writer) only sees this instance's events, so a
journey is written once however many instances share a Redis bus.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cti.core.events import DomainEvent
from cti.telemetry import Metric, counter, gauge

log = logging.getLogger("cti.bus")

Handler = Callable[[Sequence[DomainEvent], str], None]


@dataclass(slots=True)
class _Subscription:
    name: str
    handler: Handler
    local_only: bool


class LocalBus:
    """Fan-out inside one process. ``RedisBus`` extends it across instances."""

    def __init__(self, instance: str = "cti-1") -> None:
        self.instance = instance
        self._subs: list[_Subscription] = []
        self.published = 0  # events published by this instance
        self.received = 0  # events received from other instances
        self.handler_errors = 0

    def subscribe(self, name: str, handler: Handler, *, local_only: bool = False) -> None:
        self._subs.append(_Subscription(name, handler, local_only))

    def publish(self, events: Sequence[DomainEvent]) -> None:
        """Events from this instance's AMI pumps."""
        if not events:
            return
        self.published += len(events)
        self._deliver(events, self.instance)

    def deliver_remote(self, events: Sequence[DomainEvent], origin: str) -> None:
        """Events another instance published (the Redis reader calls this)."""
        if not events:
            return
        self.received += len(events)
        self._deliver(events, origin)

    def _deliver(self, events: Sequence[DomainEvent], origin: str) -> None:
        local = origin == self.instance
        for sub in self._subs:
            if sub.local_only and not local:
                continue
            try:
                sub.handler(events, origin)
            except Exception:
                # A bug in one consumer must not stop the pump nor starve the others.
                self.handler_errors += 1
                log.exception("bus subscriber %s failed on a batch of %d events", sub.name, len(events))

    @property
    def connected(self) -> bool:
        return True

    def collect(self) -> Iterable[Metric]:
        yield counter("bus_published_total", "events published by this instance", self.published)
        yield counter("bus_received_total", "events from other instances", self.received)
        yield gauge("bus_connected", "1 when the bus is up", self.connected)
        yield counter("bus_handler_errors_total", "subscriber failures", self.handler_errors)

    async def flush(self, within: float = 5.0) -> None:
        """Nothing is buffered in-process (the Redis bus writes its outbox here)."""

    async def run(self) -> None:
        """Nothing to drive in-process; returns at once (the Redis bus runs its reader and writer here)."""
        await asyncio.sleep(0)
