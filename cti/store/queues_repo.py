"""Queues as the store knows them (``store.queues``): display name, required skill, service level."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cti.store.database import Repository, queues_t


class QueueRepository(Repository):
    async def upsert_queue(
        self,
        name: str,
        *,
        display_name: str = "",
        skill: str | None = None,
        service_level_seconds: float = 20.0,
    ) -> None:
        values = {
            "display_name": display_name,
            "skill": skill,
            "service_level_seconds": service_level_seconds,
        }
        async with self.db.writing() as conn:
            await conn.execute(self.db.upsert(queues_t, {"name": name}, values))

    async def queues(self) -> list[dict[str, Any]]:
        async with self.db.reader.connect() as conn:
            result = await conn.execute(select(queues_t).order_by(queues_t.c.name))
            return [dict(r) for r in result.mappings()]
