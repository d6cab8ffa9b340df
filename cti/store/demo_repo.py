"""The demo data set (``store.demo``): seed it once, say whether it is there, export its callers.

Seeding goes through the other repositories (agents, queues, customers, call records, do-not-call,
tiers), so the demo database is written exactly as the daemon and the CSV import write theirs.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cti.store.accounts_repo import AccountRepository
from cti.store.calls_repo import CallRepository
from cti.store.customers_repo import CustomerRepository
from cti.store.database import (
    Database,
    Repository,
    chunks,
    customers_t,
    dispositions_t,
    meta_t,
    orders_t,
    phones_t,
    tickets_t,
)
from cti.store.dnc_repo import DoNotCallRepository
from cti.store.queues_repo import QueueRepository
from cti.store.tiers_repo import TierRepository

DEMO_SEED = "demo_seed"  # store_meta key: which demo data set was seeded


@dataclasses.dataclass(frozen=True, slots=True)
class DemoParts:
    """The repositories seeding writes through."""

    accounts: AccountRepository
    queues: QueueRepository
    customers: CustomerRepository
    calls: CallRepository
    dnc: DoNotCallRepository
    tiers: TierRepository


class DemoRepository(Repository):
    def __init__(self, db: Database, parts: DemoParts) -> None:
        super().__init__(db)
        self.parts = parts

    async def seed(self, *, customers: int = 5000, seed: int = 42, now: float | None = None) -> None:
        """The demo agents, queues and (once) the generated customers with their history. Idempotent."""
        from cti.store import demo_data

        p = self.parts
        existing = {a.username for a in await p.accounts.agents()}
        for spec in demo_data.AGENTS:
            if spec.username not in existing:
                await p.accounts.upsert_agent(
                    spec.username,
                    demo_data.PASSWORD,
                    spec.role,
                    spec.member_name,
                    spec.interface,
                    spec.display_name,
                    extension=spec.extension,
                    skills=dict(spec.skills),
                )
        for queue in demo_data.QUEUES:
            await p.queues.upsert_queue(queue.name, display_name=queue.display_name, skill=queue.skill)
        at = float(int(time.time() if now is None else now))
        data = await asyncio.to_thread(demo_data.generate, seed, customers, at)
        marker = f"seed={seed} customers={customers}"
        try:
            async with self.db.writing() as conn:
                await conn.execute(meta_t.insert().values(key=DEMO_SEED, value=marker))
                ids = await p.customers.insert_customers(conn, data.customers, now=at)
                by_ref = {c.external_ref: cid for c, cid in zip(data.customers, ids, strict=True)}
                for table, items in ((orders_t, data.orders), (tickets_t, data.tickets)):
                    if items:
                        await conn.execute(table.insert(), [_owned_row(x, by_ref) for x in items])
                dispositions = [
                    {
                        "linkedid": call.journey.linkedid,
                        "agent": call.journey.agents[-1],
                        "disposition": call.disposition,
                        "notes": call.notes,
                        "saved_at": call.journey.ended_at or call.journey.started_at,
                    }
                    for call in data.calls
                    if call.disposition and call.journey.agents
                ]
                if dispositions:
                    await conn.execute(dispositions_t.insert(), dispositions)
        except IntegrityError:
            return  # already seeded (by us earlier, or by another process just now)
        for part in chunks([c.journey for c in data.calls], 2000):
            await p.calls.record_journeys(part)
        if data.dnc_numbers:
            await p.dnc.add_numbers(
                data.dnc_numbers, source="national", reason="demo national DNC list", at=at
            )
        await p.tiers.recompute(now=at)

    async def seeded(self) -> str | None:
        """Which demo data set was seeded (``seed=42 customers=5000``), or None."""
        return await self.db.meta(DEMO_SEED)

    async def export_callers_csv(self, path: str | Path, *, limit: int | None = None) -> int:
        """Write ``number,name`` (E.164, primary phone) of the customers, for the call simulator."""
        query = (
            select(phones_t.c.e164, customers_t.c.name)
            .join(customers_t, customers_t.c.id == phones_t.c.customer_id)
            .where(phones_t.c.is_primary)
            .order_by(customers_t.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        async with self.db.reader.connect() as conn:
            rows = [(str(r[0]), str(r[1])) for r in await conn.execute(query)]
        return await asyncio.to_thread(_write_csv, Path(path), ["number", "name"], rows)


def _write_csv(path: Path, header: list[str], rows: list[tuple[str, str]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return len(rows)


def _owned_row(item: Any, by_ref: Mapping[str | None, int]) -> dict[str, Any]:
    """A demo record as a row: its fields, with ``customer_ref`` turned into ``customer_id``."""
    values = {f.name: getattr(item, f.name) for f in dataclasses.fields(item)}
    values["customer_id"] = by_ref[values.pop("customer_ref")]
    return values
