"""Waiting for a condition another task makes true, with a scaled timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.conftest import timeout


async def eventually(cond: Callable[[], object], seconds: float = 5.0, what: str = "condition") -> None:
    try:
        async with asyncio.timeout(timeout(seconds)):
            while not cond():  # noqa: ASYNC110 - the condition is plain state, not an awaitable
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"{what} not reached within {seconds}s") from None
