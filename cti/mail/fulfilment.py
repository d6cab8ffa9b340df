"""Fulfilment: the documents an agent picked at a call's disposition, e-mailed to the customer (issue #13).

The request is stored first (``store.fulfilment``, pending, due now); the sender e-mails the documents as
attachments to the customer's address through the relay (cti.mail.smtp_client.send_once, one attempt at
a time). A failed attempt is retried with bounded exponential backoff (cti.mail.outbound.retry_delays);
the next attempt's time is stored, so a retry survives a restart; after ``fulfilment_attempts`` tries the
request is failed with the last error, which the customer's history shows. Every attempt is its own
task: a request waiting for its retry never holds up another one, nor an agent's reply (which has its
own sender).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cti.config import EmailConfig
from cti.mail import outbound
from cti.mail.outbound import retry_delays

if TYPE_CHECKING:
    from cti.store.fulfilment_repo import DocumentRow, FulfilmentRow

log = logging.getLogger("cti.mail.fulfilment")

SendOnce = Callable[[EmailMessage], Awaitable[None]]


class FulfilmentStore(Protocol):
    """``store.fulfilment`` (cti.store.fulfilment_repo.FulfilmentRepository) as the sender uses it."""

    async def documents(self) -> list[DocumentRow]: ...

    async def document_bytes(self, ids: list[int]) -> list[tuple[DocumentRow, bytes | None]]: ...

    async def request(
        self, customer_id: int, document_ids: list[int], *, agent: str, linkedid: str = "", at: float
    ) -> FulfilmentRow: ...

    async def pending(self) -> list[FulfilmentRow]: ...

    async def attempted(
        self,
        fulfilment_id: int,
        *,
        error: str = "",
        next_attempt: float | None = None,
        message_id: str = "",
        at: float,
    ) -> bool: ...


class FulfilmentError(Exception):
    """A request refused (no such customer or document, no address): ``code`` and the reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def next_try(attempts_done: int, max_attempts: int, base: float, now: float) -> float | None:
    """When to try again after ``attempts_done`` failed attempts (None: give up)."""
    delays = retry_delays(max_attempts, base)
    if attempts_done >= max_attempts or attempts_done - 1 >= len(delays):
        return None
    return now + delays[attempts_done - 1]


class FulfilmentSender:
    def __init__(
        self,
        cfg: EmailConfig,
        store: FulfilmentStore,
        *,
        send: SendOnce | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.send: SendOnce = send or self._send
        self.clock = clock
        self._wake = asyncio.Event()
        self._busy: set[int] = set()  # requests with an attempt in flight
        self._tasks: set[asyncio.Task[None]] = set()
        self.sent = 0
        self.failed = 0

    async def _send(self, msg: EmailMessage) -> None:
        from cti.mail.smtp_client import send_once

        await send_once(msg, self.cfg.relay_host, self.cfg.relay_port)

    async def catalogue(self) -> list[dict[str, Any]]:
        return [d.to_json() for d in await self.store.documents()]

    async def request(
        self, agent: str, customer_id: int, document_ids: list[int], linkedid: str = ""
    ) -> dict[str, Any]:
        """Store the request (due now) and wake the sender; refused with FulfilmentError."""
        from cti.core.errors import UsageError

        try:
            row = await self.store.request(
                customer_id, document_ids, agent=agent, linkedid=linkedid, at=self.clock()
            )
        except UsageError as e:
            raise FulfilmentError("bad_fulfilment", str(e)) from None
        log.info("fulfilment %d: %s to %s (by %s)", row.id, row.names, row.address, agent)
        self._wake.set()
        return {"fulfilment": row.id, "status": row.status, "documents": row.names, "to": row.address}

    # ---- sending -----------------------------------------------------------------------------------
    async def _message(self, row: FulfilmentRow) -> EmailMessage:
        docs: list[outbound.Document] = []
        for doc, data in await self.store.document_bytes(row.documents):
            if data is None:
                assert doc.path is not None
                data = await asyncio.to_thread(Path(doc.path).read_bytes)
            docs.append(outbound.Document(doc.filename, doc.mime_type, data))
        if not docs:
            raise FileNotFoundError("none of the documents is in the catalogue any more")
        c = self.cfg
        body = c.fulfilment_body.replace("{documents}", row.names)
        return outbound.fulfilment(c.from_address, row.address, c.fulfilment_subject, body, docs)

    async def attempt(self, row: FulfilmentRow) -> bool:
        """One delivery attempt of ``row``, its outcome stored; True if sent."""
        try:
            msg = await self._message(row)
            await self.send(msg)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            done = row.attempts + 1
            again = next_try(
                done, self.cfg.fulfilment_attempts, self.cfg.fulfilment_retry_seconds, self.clock()
            )
            await self.store.attempted(row.id, error=error, next_attempt=again, at=self.clock())
            if again is None:
                self.failed += 1
                log.warning(
                    "fulfilment %d to %s failed after %d attempts: %s", row.id, row.address, done, error
                )
            else:
                log.info("fulfilment %d to %s: attempt %d failed (%s), again in %.0f s", row.id, row.address,
                         done, error, again - self.clock())  # fmt: skip
            return False
        await self.store.attempted(row.id, message_id=str(msg["Message-ID"]), at=self.clock())
        self.sent += 1
        log.info("fulfilment %d sent to %s (attempt %d)", row.id, row.address, row.attempts + 1)
        return True

    def _start(self, row: FulfilmentRow) -> None:
        self._busy.add(row.id)

        async def one() -> None:
            try:
                await self.attempt(row)
            finally:
                self._busy.discard(row.id)
                self._wake.set()

        t = asyncio.ensure_future(one())
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def tick(self) -> float | None:
        """Start an attempt for every due request; returns when the next one is due (None: none)."""
        now = self.clock()
        upcoming: float | None = None
        for row in await self.store.pending():
            if row.id in self._busy:
                continue
            due = row.next_attempt if row.next_attempt is not None else now
            if due <= now:
                self._start(row)
            elif upcoming is None or due < upcoming:
                upcoming = due
        return upcoming

    async def run(self) -> None:
        try:
            while True:
                self._wake.clear()
                try:
                    upcoming = await self.tick()
                except Exception:  # the store is down: look again shortly
                    log.exception("fulfilment: reading the pending requests failed")
                    upcoming = self.clock() + 5.0
                wait = 3600.0 if upcoming is None else max(0.0, upcoming - self.clock())
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)
                except TimeoutError:
                    pass
        finally:
            for t in list(self._tasks):
                t.cancel()
