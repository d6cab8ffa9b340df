"""Who is calling: the store lookup behind the screen pop, cached, asynchronous and bounded.

The hub never awaits the store. It asks ``cached(number)``; on a miss it calls ``request(number,
done)`` and carries on with other calls. A fixed pool of worker tasks runs the lookups (so a slow
database cannot pile up unbounded tasks), with a timeout; concurrent requests for one number share one
lookup. Results are cached for ``ttl`` seconds in an LRU of ``size`` numbers; failures are not cached.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from cti.core.clock import Clock, SystemClock
from cti.telemetry import Metric, counter

log = logging.getLogger("cti.screenpop.directory")


class _Lookup(Protocol):
    def to_json(self) -> dict[str, Any]: ...


class CallerStore(Protocol):
    async def lookup_caller(self, number: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class CallerCard:
    status: str  # "found", "not_found" or "unavailable" (the store failed or was too slow)
    data: dict[str, Any]


Done = Callable[[CallerCard], None]


class CallerDirectory:
    def __init__(
        self,
        store: CallerStore,
        *,
        ttl: float = 30.0,
        size: int = 10_000,
        workers: int = 4,
        lookup_timeout: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._size = size
        self._workers = workers
        self._timeout = lookup_timeout
        self._clock = clock or SystemClock()  # the cache's time to live
        self._cache: collections.OrderedDict[str, tuple[float, CallerCard]] = collections.OrderedDict()
        self._waiting: dict[str, list[Done]] = {}
        self._todo: asyncio.Queue[str] = asyncio.Queue()
        self.hits = 0
        self.misses = 0
        self.failures = 0

    def collect(self) -> Iterable[Metric]:
        yield counter("lookup_cache_hits_total", "caller lookups from cache", self.hits)
        yield counter("lookup_misses_total", "caller lookups sent to the store", self.misses)
        yield counter("lookup_failures_total", "caller lookups failed or timed out", self.failures)

    def cached(self, number: str) -> CallerCard | None:
        entry = self._cache.get(number)
        if entry is None:
            return None
        if self._clock.now() - entry[0] > self._ttl:
            del self._cache[number]
            return None
        self._cache.move_to_end(number)
        self.hits += 1
        return entry[1]

    def request(self, number: str, done: Done) -> None:
        self.misses += 1
        waiters = self._waiting.get(number)
        if waiters is not None:
            waiters.append(done)
            return
        self._waiting[number] = [done]
        self._todo.put_nowait(number)

    async def lookup(self, number: str) -> CallerCard:
        """The card of ``number`` now: from the cache, else from the store (a console's click-to-call
        checks the do-not-call list with it)."""
        card = self.cached(number)
        if card is None:
            self.misses += 1
            card = await self._lookup(number)
            if card.status != "unavailable":
                self._cache[number] = (self._clock.now(), card)
        return card

    def forget(self, number: str) -> None:
        """Drop a cached card (after a disposition changed the customer's history)."""
        self._cache.pop(number, None)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for _ in range(self._workers):
                tg.create_task(self._work())

    async def _work(self) -> None:
        while True:
            number = await self._todo.get()
            card = await self._lookup(number)
            if card.status != "unavailable":
                self._cache[number] = (self._clock.now(), card)
                self._cache.move_to_end(number)
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
            for done in self._waiting.pop(number, []):
                try:
                    done(card)
                except Exception:
                    log.exception("screen pop callback failed")

    async def _lookup(self, number: str) -> CallerCard:
        try:
            async with asyncio.timeout(self._timeout):
                result: _Lookup = await self._store.lookup_caller(number)
            data = result.to_json()
        except TimeoutError:
            self.failures += 1
            log.warning("caller lookup for a number timed out after %.1fs", self._timeout)
            return CallerCard("unavailable", {})
        except Exception as e:
            self.failures += 1
            log.warning("caller lookup failed: %s", e)
            return CallerCard("unavailable", {})
        customers = data.get("customers") or []
        return CallerCard("found" if customers else "not_found", data)
