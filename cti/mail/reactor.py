"""Twisted's asyncio reactor bound to the running asyncio loop: the one loop, no second loop or thread.

Installing a Twisted reactor is process-global. The daemon has one loop for its life; tests get a new
loop per test. ``reactor_for(loop)`` installs the asyncio reactor on first use and, when a new loop
comes, replaces the reactor bound to the old (finished) loop. Any other reactor already installed is
an error. Import ``twisted.mail`` modules only after calling it (they import the global reactor).
"""

from __future__ import annotations

import asyncio
import sys

from twisted.internet.asyncioreactor import AsyncioSelectorReactor


def reactor_for(loop: asyncio.AbstractEventLoop) -> AsyncioSelectorReactor:
    import twisted.internet
    from twisted.internet.main import installReactor

    current = sys.modules.get("twisted.internet.reactor")
    if current is not None:
        if not isinstance(current, AsyncioSelectorReactor):
            raise RuntimeError(f"another Twisted reactor is installed: {type(current).__name__}")
        if current._asyncioEventloop is loop:
            return current
        del sys.modules["twisted.internet.reactor"]
        if hasattr(twisted.internet, "reactor"):
            delattr(twisted.internet, "reactor")
    reactor = AsyncioSelectorReactor(loop)
    installReactor(reactor)  # type: ignore[no-untyped-call]
    return reactor
