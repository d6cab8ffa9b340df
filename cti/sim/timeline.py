"""Virtual time for the simulator: a deterministic timer heap, and a clock tying it to the event loop.

The model never reads the wall clock. Everything it does happens either in a timer callback run by
``Timeline.advance_to`` (``now`` is then exactly the timer's due time) or in an AMI action applied at
the current virtual time. Timers due at the same instant run in the order they were scheduled. So,
given the same seed and the same actions at the same virtual times, the model emits the same events.

``VirtualClock`` maps the asyncio loop's monotonic time to virtual epoch seconds with a speed-up factor:
``virtual = start + (loop.time() - t0) * speed``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any


class Timer:
    """A scheduled callback; ``cancel()`` makes it a no-op."""

    __slots__ = ("args", "cancelled", "fn", "when")

    def __init__(self, when: float, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self.fn = fn
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Timeline:
    """A heap of timers over virtual epoch seconds. Pure: no I/O, no wall clock."""

    def __init__(self, start: float) -> None:
        self.now = start
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = 0
        self.on_schedule: Callable[[float], None] | None = None  # the driver's wake-up hook

    def call_at(self, when: float, fn: Callable[..., Any], *args: Any) -> Timer:
        when = round(max(when, self.now), 6)  # microseconds, as Asterisk's timestamps: equal instants tie
        t = Timer(when, fn, args)
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, t))
        if self.on_schedule is not None:
            self.on_schedule(when)
        return t

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        return self.call_at(self.now + max(0.0, delay), fn, *args)

    def next_time(self) -> float | None:
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pending(self) -> int:
        return sum(1 for _, _, t in self._heap if not t.cancelled)

    def advance_to(self, when: float) -> int:
        """Run every timer due at or before ``when``, in order; then set ``now = when``."""
        heap = self._heap
        ran = 0
        while heap and heap[0][0] <= when:
            due, _, t = heapq.heappop(heap)
            if t.cancelled:
                continue
            self.now = due
            ran += 1
            t.fn(*t.args)
        if when > self.now:
            self.now = when
        return ran


class VirtualClock:
    """Virtual epoch seconds as a linear function of a monotonic real clock."""

    def __init__(self, start: float, speed: float, real_now: Callable[[], float]) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start
        self.speed = speed
        self._real_now = real_now
        self._t0 = real_now()

    def now(self) -> float:
        return self.start + (self._real_now() - self._t0) * self.speed

    def real_delay(self, virtual_when: float) -> float:
        """Real seconds until the virtual instant ``virtual_when``."""
        return max(0.0, (virtual_when - self.now()) / self.speed)
