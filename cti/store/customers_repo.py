"""Customers (``store.customers``): who is calling (the screen pop), adding customers, orders, tickets.

The lookup is one statement per number (cti/store/popsql.py), sent straight to the driver: it is on the
critical path of every ringing phone.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cti.core.errors import UsageError
from cti.store import popsql
from cti.store.caller import CallerLookup
from cti.store.customers import NewCustomer
from cti.store.database import (
    Database,
    Repository,
    bind,
    chunks,
    customers_t,
    fit,
    interactions_t,
    orders_t,
    phones_t,
    prefs_t,
    tickets_t,
)
from cti.store.models import OPEN_TICKET_STATUSES

MAX_SHARED = 20  # a number shared by more customers than this (a switchboard) shows the first 20


async def number_owners(conn: AsyncConnection, numbers: Sequence[str]) -> dict[str, int]:
    """number -> the customer its calls are filed under (primary phone first, then the oldest)."""
    owner: dict[str, int] = {}
    for part in chunks(numbers):
        result = await conn.execute(
            select(phones_t.c.e164, phones_t.c.customer_id)
            .where(phones_t.c.e164.in_(part))
            .order_by(phones_t.c.e164, phones_t.c.is_primary.desc(), phones_t.c.customer_id)
        )
        for e164, cid in result:
            owner.setdefault(e164, cid)
    return owner


class CustomerRepository(Repository):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        dialect = db.engine.dialect
        self._known = popsql.DriverStatement.compile(popsql.customers_sql(db.dialect), dialect)
        self._unknown = popsql.DriverStatement.compile(popsql.unknown_sql(db.dialect), dialect)

    # ---- caller lookup (the screen pop) ------------------------------------------------------------

    async def lookup_caller(self, number: str, *, history: int = 5) -> CallerLookup:
        """Who is calling from ``number`` (any format): the screen pop's payload, in one round trip.

        Several customers when the number is shared (at most 20, primary holders first); none for an
        unknown or withheld number, with the number's own recent calls and do-not-call entry instead.
        """
        e164 = self.normalize(number)
        if e164 is None:
            return CallerLookup(dialled=number, normalized=None)
        params = {"e164": e164, "history": max(0, history), "shared": MAX_SHARED}
        async with self.db.reader.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            rows = await self._fetch(driver, self._known, params)
            if rows:
                return popsql.known(number, e164, rows)
            (row,) = await self._fetch(driver, self._unknown, params)
            return popsql.unknown(number, e164, row)

    async def _fetch(
        self, driver: Any, statement: popsql.DriverStatement, params: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """The rows as column name -> value (names as the driver reports them)."""
        args = statement.args(params)
        if self.db.dialect == "postgresql":
            return [dict(r.items()) for r in await driver.fetch(statement.sql, *args)]
        # two thread hops (execute, fetchall); a fetched-out sqlite3 cursor holds nothing, so it is left
        # to the garbage collector rather than closed in a third hop
        cursor = await driver.execute(statement.sql, args)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in await cursor.fetchall()]

    async def customers_by_number(self, number: str) -> list[int]:
        e164 = self.normalize(number)
        if e164 is None:
            return []
        async with self.db.reader.connect() as conn:
            result = await conn.execute(
                select(phones_t.c.customer_id).where(phones_t.c.e164 == e164).order_by(phones_t.c.customer_id)
            )
            return [int(r[0]) for r in result]

    # ---- adding customers --------------------------------------------------------------------------

    async def add_customers(self, customers: Sequence[NewCustomer], *, now: float | None = None) -> list[int]:
        """Insert customers with their phones and contact preferences in one transaction; their ids."""
        async with self.db.writing() as conn:
            return await self.insert_customers(conn, customers, now=now)

    async def add_customer(self, customer: NewCustomer) -> int:
        return (await self.add_customers([customer]))[0]

    async def insert_customers(
        self, conn: AsyncConnection, customers: Sequence[NewCustomer], *, now: float | None = None
    ) -> list[int]:
        """:meth:`add_customers` inside the caller's transaction ``conn``."""
        stamp = time.time() if now is None else now
        ids: list[int] = []
        for part in chunks(customers):
            result = await conn.execute(
                customers_t.insert().returning(customers_t.c.id, sort_by_parameter_order=True),
                [
                    fit(
                        customers_t,
                        {
                            "external_ref": c.external_ref,
                            "name": c.name,
                            "company": c.company,
                            "email": c.email,
                            "owner": c.owner,
                            "language": c.language,
                            "tags": list(c.tags),
                            "lifecycle": c.lifecycle,
                            "notes": c.notes,
                            "created_at": stamp if c.created_at is None else c.created_at,
                        },
                    )
                    for c in part
                ],
            )
            ids.extend(int(r[0]) for r in result)
        phone_rows: list[dict[str, Any]] = []
        pref_rows: list[dict[str, Any]] = []
        for cid, c in zip(ids, customers, strict=True):
            seen: set[str] = set()
            for raw in c.phones:
                e164 = self.normalize(raw)
                if e164 is None or e164 in seen:
                    continue
                phone_rows.append(
                    {"customer_id": cid, "e164": e164, "raw": raw[:64], "label": "", "is_primary": not seen}
                )
                seen.add(e164)
            pref_rows.append(
                {
                    "customer_id": cid,
                    "channel": "phone",
                    "frequency": "any",
                    "do_not_call": c.do_not_call,
                    "dnc_source": c.dnc_source if c.do_not_call else "",
                    "dnc_at": stamp if c.do_not_call else None,
                }
            )
        if phone_rows:
            await conn.execute(phones_t.insert(), phone_rows)
            # earlier calls from these numbers, filed under no customer, now belong to the new customer
            await conn.execute(
                update(interactions_t)
                .where(interactions_t.c.remote_e164 == bind("n"), interactions_t.c.customer_id.is_(None))
                .values(customer_id=bind("c")),
                [{"n": p["e164"], "c": p["customer_id"]} for p in phone_rows],
            )
        if pref_rows:
            await conn.execute(prefs_t.insert(), pref_rows)
        return ids

    async def add_new_customers(
        self, customers: Sequence[NewCustomer], *, now: float | None = None
    ) -> tuple[list[int | None], dict[int, int]]:
        """Add the customers none of whose numbers is known yet, in one transaction (de-duplication).

        Returns each customer's new id (None when skipped) and, for the skipped ones, index -> the id of
        the customer already holding one of its numbers.
        """
        numbers = {
            i: [n for n in (self.normalize(p) for p in c.phones) if n] for i, c in enumerate(customers)
        }
        async with self.db.writing() as conn:
            owner = await number_owners(conn, sorted({n for ns in numbers.values() for n in ns}))
            known = {i: owner[n] for i, ns in numbers.items() for n in ns if n in owner}
            fresh = [c for i, c in enumerate(customers) if i not in known]
            ids = iter(await self.insert_customers(conn, fresh, now=now))
        return [None if i in known else next(ids) for i in range(len(customers))], known

    async def records(self) -> AsyncIterator[dict[str, Any]]:
        """Every customer as a flat record (phones in E.164, primary first), in id order, streamed.

        Streaming (a server-side cursor on PostgreSQL) needs a transaction: the writer engine, not the reader.
        """
        c = customers_t.c
        async with self.db.engine.connect() as conn:
            numbers: dict[int, list[str]] = {}
            for cid, e164 in await conn.execute(
                select(phones_t.c.customer_id, phones_t.c.e164).order_by(
                    phones_t.c.customer_id, phones_t.c.is_primary.desc(), phones_t.c.id
                )
            ):
                numbers.setdefault(cid, []).append(e164)
            result = await conn.stream(
                select(customers_t, prefs_t.c.do_not_call, prefs_t.c.dnc_source)
                .outerjoin(prefs_t, prefs_t.c.customer_id == c.id)
                .order_by(c.id)
            )
            async for row in result.mappings():
                record = dict(row)
                record["phones"] = numbers.get(row["id"], [])
                record["do_not_call"] = bool(row["do_not_call"])
                yield record

    # ---- orders and tickets ------------------------------------------------------------------------

    async def add_order(
        self,
        customer_id: int,
        amount_cents: int,
        placed_at: float,
        *,
        currency: str = "CNY",
        description: str = "",
    ) -> None:
        async with self.db.writing() as conn:
            await conn.execute(
                orders_t.insert().values(
                    customer_id=customer_id,
                    amount_cents=amount_cents,
                    placed_at=placed_at,
                    currency=currency,
                    description=description,
                )
            )

    async def add_ticket(
        self,
        customer_id: int,
        kind: str,
        subject: str,
        *,
        status: str = "open",
        category: str = "",
        priority: str = "normal",
        owner: str = "",
        due_at: float | None = None,
        escalation_level: int = 0,
        opened_at: float | None = None,
        linkedid: str | None = None,
    ) -> int:
        if kind not in ("complaint", "ticket"):
            raise UsageError(f"a ticket's kind is complaint or ticket, not {kind!r}")
        async with self.db.writing() as conn:
            result = await conn.execute(
                tickets_t.insert()
                .values(
                    customer_id=customer_id,
                    kind=kind,
                    subject=subject,
                    status=status,
                    category=category,
                    priority=priority,
                    owner=owner,
                    due_at=due_at,
                    escalation_level=escalation_level,
                    opened_at=time.time() if opened_at is None else opened_at,
                    closed_at=None,
                    linkedid=linkedid,
                )
                .returning(tickets_t.c.id)
            )
            return int(result.scalar_one())

    async def set_ticket_status(self, ticket_id: int, status: str, *, at: float | None = None) -> None:
        closed = None if status in OPEN_TICKET_STATUSES else (time.time() if at is None else at)
        async with self.db.writing() as conn:
            await conn.execute(
                update(tickets_t).where(tickets_t.c.id == ticket_id).values(status=status, closed_at=closed)
            )
