"""The inbound disposition codes (``store.dispositions``, issue #12; cti.core.dispositions).

``cti store dispositions add|list|remove`` and the supervisors' ``dispositions`` websocket command edit
them; the daemon seeds the table from ``[[disposition]]`` (or ``[reports]``) when it is empty, so what a
supervisor changed survives a restart. The reports read the list for the outcome of each code.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, delete, func, select, update

from cti.core.dispositions import Code, ordered
from cti.store.database import Repository
from cti.store.models import DispositionCode

codes_t: Table = DispositionCode.__table__  # type: ignore[assignment]


def _code(r: Any) -> Code:
    return Code(
        r.code,
        r.label,
        r.outcome,
        tuple(str(q) for q in r.queues or ()),
        bool(r.callback),
        bool(r.active),
        int(r.position),
    )


def _values(c: Code, at: float) -> dict[str, Any]:
    return {
        "code": c.code,
        "label": c.label,
        "outcome": c.outcome,
        "queues": list(c.queues),
        "callback": c.callback,
        "active": c.active,
        "position": c.position,
        "updated_at": at,
    }


class DispositionRepository(Repository):
    async def codes(self, *, active_only: bool = False) -> list[Code]:
        """The list, in its order (``position``, then code)."""
        query = select(codes_t)
        if active_only:
            query = query.where(codes_t.c.active.is_(True))
        async with self.db.reader.connect() as conn:
            return ordered(_code(r) for r in await conn.execute(query))

    async def put(self, code: Code, *, at: float | None = None) -> bool:
        """Add ``code``, or replace the one of the same name; True when it is new."""
        values = _values(code, time.time() if at is None else at)
        async with self.db.writing() as conn:
            old = (await conn.execute(select(codes_t.c.id).where(codes_t.c.code == code.code))).scalar()
            if old is None:
                await conn.execute(codes_t.insert().values(values))
                return True
            await conn.execute(update(codes_t).where(codes_t.c.id == old).values(values))
            return False

    async def remove(self, code: str) -> bool:
        """Out of the list: the reports judge it by ``[reports]`` again."""
        async with self.db.writing() as conn:
            res = await conn.execute(delete(codes_t).where(codes_t.c.code == code))
            return bool(res.rowcount)

    async def seed(self, codes: Iterable[Code], *, at: float | None = None) -> int:
        """The configured list, when the table is empty (what supervisors edited since is kept); how
        many codes were added."""
        when = time.time() if at is None else at
        rows = [_values(c, when) for c in codes]
        async with self.db.writing() as conn:
            have = (await conn.execute(select(func.count()).select_from(codes_t))).scalar_one()
            if have or not rows:
                return 0
            await conn.execute(codes_t.insert(), rows)
            return len(rows)
