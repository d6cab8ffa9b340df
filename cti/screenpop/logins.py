"""Login attempt limits: failures per address and per user name, and a cap on password checks at once.

Pure bookkeeping (the time is passed in) plus one asyncio semaphore.

1. Failures are counted in a sliding window, per client address (``per_address`` in ``address_window``
   seconds) and per user name (``per_user`` in ``user_window`` seconds). Over either limit, a login is
   refused without checking the password (so the right password is refused too until the window
   slides: an attacker learns nothing). A successful login forgets the user name's failures.
2. At most ``concurrent`` password checks run at once (scrypt is CPU and memory on purpose); at most
   ``waiting`` more wait for a slot; beyond that a login is refused at once as ``busy``.
3. Memory stays bounded: a key holds at most its limit of timestamps, and keys whose window has passed
   are swept out.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LoginLimits:
    per_address: int = 20
    address_window: float = 60.0
    per_user: int = 10
    user_window: float = 300.0
    concurrent: int = 2
    waiting: int = 32


class Busy(Exception):
    """Too many password checks running and waiting."""


class _Window:
    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.hits: dict[str, collections.deque[float]] = {}
        self._sweep_at = 0.0

    def _trim(self, key: str, now: float) -> collections.deque[float] | None:
        hits = self.hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.seconds:
            hits.popleft()
        if not hits:
            del self.hits[key]
            return None
        return hits

    def full(self, key: str, now: float) -> float | None:
        """Seconds until ``key`` may try again, or None when it may now."""
        hits = self._trim(key, now)
        if hits is None or len(hits) < self.limit:
            return None
        return hits[0] + self.seconds - now

    def hit(self, key: str, now: float) -> None:
        if now >= self._sweep_at:
            self._sweep_at = now + self.seconds
            for k in list(self.hits):
                self._trim(k, now)
        hits = self.hits.setdefault(key, collections.deque(maxlen=self.limit))
        hits.append(now)

    def forget(self, key: str) -> None:
        self.hits.pop(key, None)


class LoginGuard:
    def __init__(self, limits: LoginLimits | None = None) -> None:
        self.limits = limits or LoginLimits()
        self._addresses = _Window(self.limits.per_address, self.limits.address_window)
        self._users = _Window(self.limits.per_user, self.limits.user_window)
        self._slots = asyncio.Semaphore(self.limits.concurrent)
        self._waiting = 0
        self.running = 0  # password checks in progress (a gauge; a test reads its peak)
        self.peak = 0

    def refused(self, address: str, username: str, now: float) -> float | None:
        """Seconds to wait when this address or user name is over its limit, else None."""
        waits = [w for w in (self._addresses.full(address, now), self._users.full(username, now)) if w]
        return max(waits) if waits else None

    def failed(self, address: str, username: str, now: float) -> None:
        self._addresses.hit(address, now)
        self._users.hit(username, now)

    def succeeded(self, username: str) -> None:
        self._users.forget(username)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """A turn to check a password; ``Busy`` when too many are already waiting."""
        if self._slots.locked() and self._waiting >= self.limits.waiting:
            raise Busy
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            yield
        finally:
            self.running -= 1
            self._slots.release()
