"""The garbage collector of a long-running daemon: what is loaded at start-up is frozen, and the young
generations are collected in larger steps, so a burst of new objects (500 consoles reconnecting at
once) does not run full passes over everything.

Why (docs/design/gc.md): a full (generation 2) pass of CPython's collector stops the
event loop for as long as it takes to visit every tracked object. The modules, classes and functions
loaded at start-up are about 35,000 of them, 7-10 ms of every full pass, and never garbage; a
reconnect storm adds about 180 tracked objects per connection. With the default thresholds
(700, 10, 10) the storm's allocations run two or three full passes of 40-55 ms while it lasts.

``settle()`` (called once by ``cti run`` when the daemon is up):

1. collects what start-up left behind, then ``gc.freeze()``: every object alive now moves to the
   permanent generation, which no pass visits (nothing of it is garbage: modules, configuration,
   the caches filled at start);
2. sets the thresholds to ``THRESHOLDS``: a young pass every 2,000 net allocations (about 1 ms), a
   middle pass every 10 of them (at most about 20,000 objects, a few ms), and a full pass considered
   only after 25 middle passes (and, as always, only when the objects that survived since the last full
   pass are over a quarter of those it kept): a reconnect storm of 500 consoles (about 90,000 new
   objects) runs none.

Cycles of garbage are still found (by the young and middle passes, and by the full passes that still
run, less often); the cost is memory: cyclic garbage that reached the oldest generation waits longer.
"""

from __future__ import annotations

import gc
from typing import Final

THRESHOLDS: Final = (2000, 10, 25)


def settle(thresholds: tuple[int, int, int] = THRESHOLDS) -> int:
    """Freeze what is alive now and set the collector's thresholds; the number of objects frozen."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    return gc.get_freeze_count()
