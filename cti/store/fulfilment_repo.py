"""The fulfilment catalogue and the documents e-mailed to customers (``store.fulfilment``, issue #13).

``documents`` is the catalogue (``cti store documents add|list|remove``); ``fulfilments`` holds one row per
request an agent made from a call's disposition: pending (with ``next_attempt``), sent, or failed after
the last attempt (``last_error`` is the reason). The daemon (cti/mail/fulfilment.py) picks the due rows,
so a retry survives a restart. A customer's fulfilments are part of their contact history.
"""

from __future__ import annotations

import mimetypes
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Table, and_, select, update

from cti.core.errors import UsageError
from cti.store.database import Repository, customers_t, fit
from cti.store.models import Document, Fulfilment

documents_t: Table = Document.__table__  # type: ignore[assignment]
fulfilments_t: Table = Fulfilment.__table__  # type: ignore[assignment]
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class DocumentRow:
    id: int
    name: str
    filename: str
    mime_type: str
    path: str | None
    size: int | None  # stored bytes (None: read from ``path`` when sent)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "filename": self.filename, "mime_type": self.mime_type}


@dataclass(frozen=True, slots=True)
class FulfilmentRow:
    id: int
    customer_id: int | None
    address: str
    linkedid: str
    agent: str
    documents: list[int]
    names: str
    status: str
    attempts: int
    next_attempt: float | None
    last_error: str
    requested_at: float
    sent_at: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "customer_id": self.customer_id,
            "address": self.address,
            "linkedid": self.linkedid,
            "agent": self.agent,
            "documents": self.names,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt": self.next_attempt,
            "last_error": self.last_error,
            "requested_at": self.requested_at,
            "sent_at": self.sent_at,
        }


def _doc(r: Any) -> DocumentRow:
    return DocumentRow(
        r.id, r.name, r.filename, r.mime_type, r.path, None if r.content is None else len(r.content)
    )


def _ful(r: Any) -> FulfilmentRow:
    return FulfilmentRow(
        r.id,
        r.customer_id,
        r.address,
        r.linkedid,
        r.agent,
        [int(d) for d in r.documents or []],
        r.names,
        r.status,
        r.attempts,
        r.next_attempt,
        r.last_error,
        r.requested_at,
        r.sent_at,
    )


class FulfilmentRepository(Repository):
    # ---- the catalogue ---------------------------------------------------------------------------
    async def add_document(
        self,
        name: str,
        *,
        path: str | None = None,
        content: bytes | None = None,
        mime_type: str = "",
        filename: str = "",
        at: float | None = None,
    ) -> DocumentRow:
        """Add or replace the document ``name``: its bytes (``content``) or a file read when sent."""
        name = name.strip()
        if not name:
            raise UsageError("a document needs a name")
        if (path is None) == (content is None):
            raise UsageError("give a document either a file path or its content")
        if content is not None and len(content) > MAX_DOCUMENT_BYTES:
            raise UsageError(f"{name!r} is {len(content)} bytes: over {MAX_DOCUMENT_BYTES}")
        shown = filename or (Path(path).name if path else name)
        mime = mime_type or mimetypes.guess_type(shown)[0] or "application/octet-stream"
        if "/" not in mime:
            raise UsageError(f"not a MIME type: {mime!r}")
        values = fit(
            documents_t,
            {
                "name": name,
                "filename": shown,
                "mime_type": mime,
                "path": path,
                "active": True,
                "added_at": time.time() if at is None else at,
            },
        )
        values["content"] = content
        async with self.db.writing() as conn:
            old = (await conn.execute(select(documents_t.c.id).where(documents_t.c.name == name))).scalar()
            if old is None:
                await conn.execute(documents_t.insert().values(values))
            else:
                await conn.execute(update(documents_t).where(documents_t.c.id == old).values(values))
        found = [d for d in await self.documents() if d.name == name]
        return found[0]

    async def remove_document(self, name: str) -> bool:
        """Out of the catalogue (kept for the requests that name it)."""
        async with self.db.writing() as conn:
            res = await conn.execute(
                update(documents_t)
                .where(documents_t.c.name == name.strip(), documents_t.c.active.is_(True))
                .values(active=False)
            )
            return bool(res.rowcount)

    async def documents(self) -> list[DocumentRow]:
        """The catalogue, by name."""
        async with self.db.reader.connect() as conn:
            rows = await conn.execute(
                select(documents_t).where(documents_t.c.active.is_(True)).order_by(documents_t.c.name)
            )
            return [_doc(r) for r in rows]

    async def document_bytes(self, ids: list[int]) -> list[tuple[DocumentRow, bytes | None]]:
        """The documents of ``ids`` (in that order) with their stored bytes (None: read ``path``)."""
        async with self.db.reader.connect() as conn:
            rows = {r.id: r for r in await conn.execute(select(documents_t).where(documents_t.c.id.in_(ids)))}
        return [(_doc(rows[i]), rows[i].content) for i in ids if i in rows]

    # ---- requests ----------------------------------------------------------------------------------
    async def request(
        self, customer_id: int, document_ids: list[int], *, agent: str, linkedid: str = "", at: float
    ) -> FulfilmentRow:
        """A pending request to e-mail ``document_ids`` to the customer's address, due now."""
        ids = list(dict.fromkeys(int(i) for i in document_ids))
        if not ids:
            raise UsageError("pick at least one document")
        async with self.db.reader.connect() as conn:
            email = (
                await conn.execute(select(customers_t.c.email).where(customers_t.c.id == customer_id))
            ).scalar()
            docs = {
                r.id: r.name
                for r in await conn.execute(
                    select(documents_t.c.id, documents_t.c.name).where(
                        documents_t.c.id.in_(ids), documents_t.c.active.is_(True)
                    )
                )
            }
        if email is None:
            raise UsageError(f"no customer {customer_id}")
        if "@" not in email:
            raise UsageError(f"customer {customer_id} has no e-mail address")
        unknown = [i for i in ids if i not in docs]
        if unknown:
            raise UsageError(f"no such document: {unknown[0]}")
        values = fit(
            fulfilments_t,
            {
                "customer_id": customer_id,
                "address": email,
                "linkedid": linkedid,
                "agent": agent,
                "documents": ids,
                "names": ", ".join(docs[i] for i in ids),
                "status": "pending",
                "attempts": 0,
                "next_attempt": at,
                "last_error": "",
                "requested_at": at,
                "message_id": "",
            },
        )
        async with self.db.writing() as conn:
            res = await conn.execute(fulfilments_t.insert().values(values).returning(fulfilments_t.c.id))
            new_id = int(res.scalar_one())
        row = await self.fulfilment(new_id)
        assert row is not None
        return row

    async def fulfilment(self, fulfilment_id: int) -> FulfilmentRow | None:
        async with self.db.reader.connect() as conn:
            r = (await conn.execute(select(fulfilments_t).where(fulfilments_t.c.id == fulfilment_id))).first()
        return None if r is None else _ful(r)

    async def pending(self) -> list[FulfilmentRow]:
        """Every request not yet sent nor given up, the earliest due first."""
        f = fulfilments_t.c
        async with self.db.reader.connect() as conn:
            rows = await conn.execute(
                select(fulfilments_t).where(f.status == "pending").order_by(f.next_attempt, f.id)
            )
            return [_ful(r) for r in rows]

    async def attempted(
        self,
        fulfilment_id: int,
        *,
        error: str = "",
        next_attempt: float | None = None,
        message_id: str = "",
        at: float,
    ) -> bool:
        """One attempt's outcome: sent (no ``error``), retried at ``next_attempt``, or given up (an
        ``error`` and no next attempt)."""
        f = fulfilments_t.c
        values: dict[str, Any] = {"attempts": f.attempts + 1}
        if not error:
            values.update(status="sent", sent_at=at, next_attempt=None, message_id=message_id[:998])
        elif next_attempt is None:
            values.update(status="failed", next_attempt=None, last_error=error[:2000])
        else:
            values.update(next_attempt=next_attempt, last_error=error[:2000])
        async with self.db.writing() as conn:
            res = await conn.execute(
                update(fulfilments_t)
                .where(and_(f.id == fulfilment_id, f.status == "pending"))
                .values(**values)
            )
            return bool(res.rowcount)

    async def customer_fulfilments(self, customer_id: int, *, limit: int = 20) -> list[FulfilmentRow]:
        """The customer's document sendings, newest first."""
        f = fulfilments_t.c
        async with self.db.reader.connect() as conn:
            rows = await conn.execute(
                select(fulfilments_t)
                .where(f.customer_id == customer_id)
                .order_by(f.requested_at.desc(), f.id.desc())
                .limit(max(0, limit))
            )
            return [_ful(r) for r in rows]
