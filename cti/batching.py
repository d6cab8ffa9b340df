"""The store writers' loop: write a batch when it is full or ``flush_interval`` after the first item
arrived; a failed write keeps the batch and is retried with backoff (cti/records.py, cti/agentstates.py)."""

from __future__ import annotations

import asyncio
import logging


class BatchWriter:
    """Subclasses keep the items, say how many wait (``pending``) and write the next batch
    (``_write_one_batch``, which clears ``_full`` and ``_arrived`` when they no longer hold)."""

    what = "items"  # for the log

    def __init__(self, batch_size: int, flush_interval: float, log: logging.Logger) -> None:
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._log = log
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self.batches = 0
        self.rows = 0
        self.errors = 0
        self.last_error = ""
        self.failing = False  # the latest write failed (and none succeeded since): /healthz is degraded

    @property
    def pending(self) -> int:
        raise NotImplementedError

    async def _write_one_batch(self) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        delay = 0.5
        while True:
            await self._arrived.wait()
            if self.pending < self.batch_size:
                try:
                    async with asyncio.timeout(self.flush_interval):
                        await self._full.wait()
                except TimeoutError:
                    pass
            try:
                await self._write_one_batch()
                delay = 0.5
            except Exception as e:
                self.errors += 1
                self.failing = True
                self.last_error = str(e)
                self._log.warning(
                    "writing %d %s failed: %s; retrying in %.1fs", self.pending, self.what, e, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
