"""Redis calls that a cancellation cannot strand.

redis-py can swallow the cancellation of a task whose command is in flight when the reply arrives: the
command returns normally, the task goes on as if nothing had happened, and a ``while True`` loop around
it never ends (seen here with redis-py 8.1 on Python 3.11: a cancelled ``XREAD BLOCK`` on a busy stream
on the first try; ``SET``/``GET`` within a few hundred tries; upstream redis-py #2028, #2579). A daemon
whose bus reader loops on like that never shuts down; CI once hung on it for an hour and a half.

So every Redis call of a long-lived loop runs through ``shielded``: the call runs in a task of its own,
shielded; the cancelled caller leaves at once, and the call ends by itself (a blocking read within its
block time). What it returns then goes to ``leftover`` (push a request back for another owner) or is
dropped (nobody waits for it any more; nothing is lost: a stream reader restarts from the last id it
took, and a lease it may have taken expires by its TTL).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def shielded(call: Awaitable[T], leftover: Callable[[T], None] | None = None) -> T:
    task: asyncio.Future[T] = asyncio.ensure_future(call)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(lambda done: _settle(done, leftover))
        raise


def _settle(done: asyncio.Future[T], leftover: Callable[[T], None] | None) -> None:
    if done.cancelled() or done.exception() is not None:  # retrieves it: no "never retrieved" warning
        return
    if leftover is not None:
        leftover(done.result())
