"""Call records (``store.calls``): finished call journeys, their queue legs, and agents' dispositions.

Bulk writes of journeys go to the driver as plain executemany of tuples, pipelined with the row building
(in worker threads) of the next part; on PostgreSQL a deadlock or serialization failure is retried.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

from sqlalchemy import ColumnElement, and_, delete, exists, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from cti.core.errors import UsageError
from cti.core.journey import CallJourney, QueueLeg
from cti.reports.metrics import ANSWERED_OUTCOMES
from cti.store.callrecords import (
    INTERACTION_PARAM_COLUMNS,
    JOURNEY_COLUMNS,
    LEG_PARAM_COLUMNS,
    CallKey,
    call_key,
    interaction_params,
    journey_from_row,
    leg_from_row,
    leg_params,
    remote_number,
)
from cti.store.database import (
    Database,
    Params,
    Repository,
    chunks,
    dispositions_t,
    fit,
    fit_params,
    interactions_t,
    legs_t,
    orders_t,
)
from cti.store.rollups_repo import RollupRepository, leg_of_params

PIPELINE_CHUNK = 250  # journeys prepared (in a thread) while the previous ones are written
_RETRY_SQLSTATES = ("40P01", "40001")  # PostgreSQL deadlock_detected, serialization_failure
_LINKEDID = INTERACTION_PARAM_COLUMNS.index("linkedid")
_SERVER = INTERACTION_PARAM_COLUMNS.index("server")
_E164 = INTERACTION_PARAM_COLUMNS.index("remote_e164")
Prepared = tuple[list[Params], list[Params]]  # interaction rows, queue-leg rows, as driver parameters


def bulk_sql(dialect: str) -> tuple[str, str, str]:
    """The interaction upsert, the queue-leg insert and delete, in the driver's own parameter style.

    A call is identified by (server, linkedid): another server's call with the same Linkedid is another
    row. A new interaction takes the latest disposition already saved for its call (agents often save theirs
    before the batch with the call record is written); a rewritten one keeps the disposition it has.
    """

    def mark(i: int) -> str:
        return f"?{i}" if dialect == "sqlite" else f"${i}"

    def marks(n: int) -> str:
        return ", ".join(mark(i) for i in range(1, n + 1))

    n = len(INTERACTION_PARAM_COLUMNS)
    key = mark(n + 1)  # the linkedid again (asyncpg: one type per parameter)
    e164 = mark(n + 2)  # the number again, for the same reason
    server = mark(n + 3)  # and the server
    # the customer a call is filed under: the number's primary holder, then its oldest (shared numbers)
    owner = (
        f"(SELECT p.customer_id FROM customer_phones p WHERE p.e164 = {e164} "
        "ORDER BY p.is_primary DESC, p.customer_id LIMIT 1)"
    )

    def latest(column: str) -> str:
        return (
            f"(SELECT d.{column} FROM dispositions d WHERE d.server = {server} AND d.linkedid = {key} "
            "ORDER BY d.saved_at DESC, d.agent DESC LIMIT 1)"
        )

    changes = [f"{c} = excluded.{c}" for c in JOURNEY_COLUMNS if c != "customer_id"]
    changes.append("customer_id = coalesce(excluded.customer_id, interactions.customer_id)")
    columns = ", ".join(INTERACTION_PARAM_COLUMNS)
    values = f"{marks(len(INTERACTION_PARAM_COLUMNS))}, {owner}, {latest('disposition')}, {latest('notes')}"
    upsert = (
        f"INSERT INTO interactions ({columns}, customer_id, disposition, notes) VALUES ({values}) "
        f"ON CONFLICT (server, linkedid) DO UPDATE SET {', '.join(changes)}"
    )
    legs = f"INSERT INTO queue_legs ({', '.join(LEG_PARAM_COLUMNS)}) VALUES ({marks(len(LEG_PARAM_COLUMNS))})"
    return upsert, legs, f"DELETE FROM queue_legs WHERE server = {mark(1)} AND linkedid = {mark(2)}"


class CallRepository(Repository):
    def __init__(self, db: Database, rollups: RollupRepository | None = None) -> None:
        super().__init__(db)
        self._bulk_sql = bulk_sql(db.dialect)
        self.rollups = rollups or RollupRepository(db)

    async def record_journeys(
        self, journeys: Sequence[CallJourney], *, normalized: Mapping[CallKey, str | None] | None = None
    ) -> int:
        """Write interactions and queue legs for ``journeys`` in one transaction; returns how many.

        ``normalized``: the customer's number of some journeys already in E.164 (``None``: no usable
        number), by (server, linkedid), as the daemon found it for the screen pop; the others are
        normalized here. Idempotent by (server, Linkedid): a journey written again replaces its earlier
        record (its legs too), another server's call with the same Linkedid is another record, and
        dispositions saved before the record existed are attached now.
        """
        latest: dict[CallKey, CallJourney] = {}
        for journey in journeys:
            latest[call_key(journey)] = journey  # the same call twice in one batch: the last state wins
        if not latest:
            return 0
        ordered = [latest[k] for k in sorted(latest)]
        parts = [list(p) for p in chunks(ordered, PIPELINE_CHUNK)]
        known = normalized or {}
        # number parsing and row building are CPU work: off the event loop, in a worker thread
        first = await asyncio.to_thread(self._record_rows, parts[0], known)
        for attempt in range(5):
            try:
                async with self.db.writing() as conn:
                    # the rollups move in the same transaction: the intervals of any legs replaced are
                    # recomputed, new legs are added (cti/store/rollups_repo.py)
                    replaced = await self.rollups.buckets_of_calls(conn, sorted(latest))
                    written: list[Params] = []
                    await self._write_pipelined(conn, first, parts[1:], known, written)
                    await self.rollups.apply(conn, replaced, [leg_of_params(p) for p in written])
                self.db.checkpoint_soon(len(ordered))
                return len(ordered)
            except DBAPIError as e:
                if attempt == 4 or getattr(e.orig, "sqlstate", None) not in _RETRY_SQLSTATES:
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _write_pipelined(
        self,
        conn: AsyncConnection,
        first: Prepared,
        rest: list[list[CallJourney]],
        known: Mapping[CallKey, str | None],
        written: list[Params],
    ) -> None:
        """Write prepared rows while the next part is prepared: SQLite and asyncpg work without the GIL."""
        async with asyncio.TaskGroup() as tg:
            prepared = first
            for k in range(len(rest) + 1):
                following = (
                    tg.create_task(asyncio.to_thread(self._record_rows, rest[k], known))
                    if k < len(rest)
                    else None
                )
                await self._write_records(conn, *prepared)
                written.extend(prepared[1])
                if following is not None:
                    prepared = await following

    def _record_rows(self, journeys: list[CallJourney], known: Mapping[CallKey, str | None]) -> Prepared:
        normalize = self.normalize
        rows = []
        for j in journeys:
            key = call_key(j)
            e164 = known[key] if key in known else normalize(remote_number(j))
            rows.append(fit_params(interactions_t, INTERACTION_PARAM_COLUMNS, interaction_params(j, e164)))
        legs = [fit_params(legs_t, LEG_PARAM_COLUMNS, leg) for j in journeys for leg in leg_params(j)]
        return rows, legs

    async def _write_records(self, conn: AsyncConnection, rows: list[Params], legs: list[Params]) -> None:
        # The bulk statements go to the driver as plain executemany of tuples: SQLAlchemy's per-row
        # parameter processing would cost more than SQLite's own work (docs/design/store.md).
        upsert, insert_legs, delete_legs = self._bulk_sql
        await conn.exec_driver_sql(upsert, [(*r, r[_LINKEDID], r[_E164], r[_SERVER]) for r in rows])
        # One indexed delete per call: an IN list of hundreds gets a sequential scan from PostgreSQL's
        # generic plan while the table has no statistics yet, i.e. on every new database.
        await conn.exec_driver_sql(delete_legs, [(r[_SERVER], r[_LINKEDID]) for r in rows])
        if legs:
            await conn.exec_driver_sql(insert_legs, legs)

    async def save_disposition(
        self,
        linkedid: str,
        agent: str,
        disposition: str,
        notes: str,
        *,
        server: str = "",
        at: float | None = None,
    ) -> None:
        """What ``agent`` recorded about call ``linkedid`` of Asterisk ``server``; kept, and attached
        when the call is stored.

        The interaction shows the latest disposition saved for it; every agent's is kept.
        """
        if not linkedid or not agent:
            raise UsageError("a disposition needs the call's linkedid and the agent")
        saved_at = time.time() if at is None else at
        values = fit(dispositions_t, {"disposition": disposition, "notes": notes, "saved_at": saved_at})
        disposition = values["disposition"]
        key = fit(dispositions_t, {"server": server, "linkedid": linkedid, "agent": agent})
        async with self.db.writing() as conn:
            await conn.execute(self.db.upsert(dispositions_t, key, values))
            await conn.execute(
                update(interactions_t)
                .where(interactions_t.c.server == key["server"], interactions_t.c.linkedid == linkedid)
                .values(disposition=disposition, notes=notes)
            )

    async def set_recording(self, linkedid: str, ref: str, *, server: str = "") -> bool:
        i = interactions_t.c
        async with self.db.writing() as conn:
            result = await conn.execute(
                update(interactions_t)
                .where(i.server == server, i.linkedid == linkedid)
                .values(recording_ref=ref)
            )
        return bool(getattr(result, "rowcount", 0))

    async def queue_legs(self, start: float, end: float) -> list[QueueLeg]:
        """Every queue visit that began in ``[start, end)``, in order (what ``cti report`` reads)."""
        async with self.db.reader.connect() as conn:
            result = await conn.execute(
                select(legs_t)
                .where(legs_t.c.entered_at >= start, legs_t.c.entered_at < end)
                .order_by(legs_t.c.entered_at, legs_t.c.server, legs_t.c.linkedid, legs_t.c.seq)
            )
            return [leg_from_row(r) for r in result.mappings()]

    async def answered_dispositions(self, start: float, end: float) -> list[tuple[str, str, str]]:
        """(linkedid, agent, disposition) for each call an agent answered in a queue visit that began in
        ``[start, end)`` and dispositioned: the outcomes behind ``cti report --by agent``. A call the
        agent answered twice (transferred back) counts once."""
        d, leg = dispositions_t.c, legs_t.c
        async with self.db.reader.connect() as conn:
            result = await conn.execute(
                select(d.linkedid, d.agent, d.disposition)
                .where(
                    exists()
                    .where(leg.server == d.server, leg.linkedid == d.linkedid, leg.agent == d.agent)
                    .where(leg.entered_at >= start, leg.entered_at < end)
                    .where(leg.outcome.in_([o.value for o in ANSWERED_OUTCOMES]))
                )
                .order_by(d.linkedid, d.agent)
            )
            return [(str(r[0]), str(r[1]), str(r[2])) for r in result]

    async def call_customers(self, start: float, end: float) -> dict[str, int]:
        """linkedid -> the customer each call that started in ``[start, end)`` is filed under (reports)."""
        i = interactions_t.c
        async with self.db.reader.connect() as conn:
            result = await conn.execute(
                select(i.linkedid, i.customer_id).where(
                    i.started_at >= start, i.started_at < end, i.customer_id.is_not(None)
                )
            )
            return {str(r[0]): int(r[1]) for r in result}

    async def call_dispositions(self, start: float, end: float) -> dict[str, str]:
        """linkedid -> the latest disposition of each call that started in ``[start, end)`` and has one
        (campaign conversions: a dialler call has no queue leg)."""
        i = interactions_t.c
        async with self.db.reader.connect() as conn:
            result = await conn.execute(
                select(i.linkedid, i.disposition).where(
                    i.started_at >= start, i.started_at < end, i.disposition.is_not(None)
                )
            )
            return {str(r[0]): str(r[1]) for r in result}

    async def orders_between(self, start: float, end: float) -> list[tuple[int, float, int]]:
        """(customer, placed_at, amount in cents) of the orders placed in ``[start, end)``, oldest first."""
        o = orders_t.c
        async with self.db.reader.connect() as conn:
            result = await conn.execute(
                select(o.customer_id, o.placed_at, o.amount_cents)
                .where(o.placed_at >= start, o.placed_at < end)
                .order_by(o.placed_at, o.id)
            )
            return [(int(r[0]), float(r[1]), int(r[2])) for r in result]

    async def journeys(self, start: float, end: float) -> list[CallJourney]:
        """Every call that started in ``[start, end)``, with its queue legs, oldest first."""
        return await self._journeys_where(
            and_(interactions_t.c.started_at >= start, interactions_t.c.started_at < end)
        )

    async def journeys_of(self, linkedids: Sequence[str], server: str | None = None) -> list[CallJourney]:
        """The stored journeys of these Linkedids (of ``server``, when given), oldest first."""
        if not linkedids:
            return []
        where: ColumnElement[bool] = interactions_t.c.linkedid.in_(list(linkedids))
        if server is not None:
            where = and_(where, interactions_t.c.server == server)
        return await self._journeys_where(where)

    async def latest_end(self, server: str) -> float | None:
        """When the newest stored call of ``server`` ended (where the repair after a restart begins)."""
        async with self.db.reader.connect() as conn:
            value = (
                await conn.execute(
                    select(func.max(interactions_t.c.ended_at)).where(interactions_t.c.server == server)
                )
            ).scalar_one()
        return None if value is None else float(value)

    async def delete_journeys(self, linkedids: Sequence[str], server: str) -> int:
        """Removes duplicate call records of ``server`` (the repair folds them into the call's own)."""
        if not linkedids:
            return 0
        ids = list(linkedids)
        i, leg = interactions_t.c, legs_t.c
        async with self.db.writing() as conn:
            replaced = await self.rollups.buckets_of_calls(conn, [(server, x) for x in ids])
            await conn.execute(delete(legs_t).where(leg.server == server, leg.linkedid.in_(ids)))
            result = await conn.execute(delete(interactions_t).where(i.server == server, i.linkedid.in_(ids)))
            await self.rollups.recompute(conn, replaced)
        return int(getattr(result, "rowcount", 0) or 0)

    async def _journeys_where(self, window: ColumnElement[bool]) -> list[CallJourney]:
        async with self.db.reader.connect() as conn:
            legs: dict[CallKey, list[QueueLeg]] = {}
            i, leg = interactions_t.c, legs_t.c
            result = await conn.execute(
                select(legs_t)
                .join(interactions_t, and_(i.server == leg.server, i.linkedid == leg.linkedid))
                .where(window)
                .order_by(leg.server, leg.linkedid, leg.seq)
            )
            for r in result.mappings():
                legs.setdefault((r["server"], r["linkedid"]), []).append(leg_from_row(r))
            result = await conn.execute(
                select(interactions_t)
                .where(window)
                .order_by(interactions_t.c.started_at, interactions_t.c.id)
            )
            return [
                journey_from_row(r, legs.get((r["server"], r["linkedid"]), [])) for r in result.mappings()
            ]

    async def interaction_count(self) -> int:
        async with self.db.reader.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(interactions_t))).scalar_one())
