"""Do-not-call (``store.dnc``): the national or internal list by number, and a customer's own flag."""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import delete, func, select

from cti.store.database import Repository, chunks, dnc_t, prefs_t


class DoNotCallRepository(Repository):
    async def set_do_not_call(
        self, customer_id: int, flag: bool, *, source: str, at: float | None = None
    ) -> None:
        """Flag (or clear) customer ``customer_id`` as not to be called, whatever number they use."""
        values = {
            "do_not_call": flag,
            "dnc_source": source if flag else "",
            "dnc_at": (at or time.time()) if flag else None,
        }
        async with self.db.writing() as conn:
            await conn.execute(self.db.upsert(prefs_t, {"customer_id": customer_id}, values))

    async def add_numbers(
        self,
        numbers: Iterable[str],
        *,
        source: str = "internal",
        reason: str = "",
        at: float | None = None,
        list_date: str = "",
    ) -> int:
        """Put numbers on the do-not-call list (any format); returns how many were usable numbers."""
        stamp = time.time() if at is None else at
        normalized = sorted({n for n in (self.normalize(x) for x in numbers) if n})
        if not normalized:
            return 0
        ins = self.db.insert(dnc_t)
        async with self.db.writing() as conn:
            await conn.execute(
                ins.on_conflict_do_update(
                    index_elements=["e164"],
                    set_={
                        "source": ins.excluded.source,
                        "reason": ins.excluded.reason,
                        "list_date": ins.excluded.list_date,
                    },
                ),
                [
                    {"e164": n, "source": source, "reason": reason, "added_at": stamp, "list_date": list_date}
                    for n in normalized
                ],
            )
        return len(normalized)

    async def set_consent(
        self,
        customer_id: int,
        *,
        call: bool | None = None,
        sms: bool | None = None,
        email: bool | None = None,
    ) -> None:
        """Record customer ``customer_id``'s consent per channel (None: leave that channel as it is).

        A refused call consent keeps every lead with their number from being dialled; a campaign that
        requires consent dials only those who gave it (docs/design/leads.md)."""
        values = {
            f"consent_{name}": flag
            for name, flag in (("call", call), ("sms", sms), ("email", email))
            if flag is not None
        }
        if not values:
            return
        async with self.db.writing() as conn:
            await conn.execute(self.db.upsert(prefs_t, {"customer_id": customer_id}, values))

    async def remove_numbers(self, numbers: Iterable[str]) -> int:
        """Take numbers off the do-not-call list; returns how many were on it."""
        normalized = sorted({n for n in (self.normalize(x) for x in numbers) if n})
        removed = 0
        async with self.db.writing() as conn:
            for part in chunks(normalized):
                result = await conn.execute(delete(dnc_t).where(dnc_t.c.e164.in_(part)))
                removed += result.rowcount or 0
        return removed

    async def sources(self) -> list[tuple[str, int, float]]:
        """Each source: how many numbers and when it was last added to."""
        async with self.db.reader.connect() as conn:
            rows = await conn.execute(
                select(dnc_t.c.source, func.count(), func.max(dnc_t.c.added_at))
                .group_by(dnc_t.c.source)
                .order_by(dnc_t.c.source)
            )
            return [(r[0], int(r[1]), float(r[2])) for r in rows]
