"""The store the daemon codes against: caller lookups, call records, agents, campaigns, demo data.

Everything is async (SQLAlchemy asyncio over aiosqlite or asyncpg), so the daemon's loop never waits on
the database; CPU-heavy work (password hashing, demo generation) runs in worker threads.

Writes on SQLite go through one in-process lock: SQLite has one writer at a time anyway, and queuing
in asyncio instead of in SQLite's busy handler keeps writers fair and never fails on "database is
locked". Writes on PostgreSQL run concurrently; each batch touches rows in key order (no deadlocks
between two batches) and a deadlock or serialization failure is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import dataclasses
import functools
import logging
import time
import zoneinfo
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from phonenumbers import timezone as phone_timezone
from sqlalchemy import String, Table, and_, case, delete, exists, func, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cti.core.errors import UsageError
from cti.core.journey import CallJourney, QueueLeg
from cti.reports.metrics import ANSWERED_OUTCOMES
from cti.store import phones, popsql
from cti.store.accounts import AgentAccount, hash_password, verify_or_waste
from cti.store.caller import CallerLookup
from cti.store.callrecords import (
    INTERACTION_PARAM_COLUMNS,
    JOURNEY_COLUMNS,
    LEG_PARAM_COLUMNS,
    interaction_params,
    journey_from_row,
    leg_from_row,
    leg_params,
    remote_number,
)
from cti.store.customers import NewCustomer
from cti.store.models import (
    OPEN_TICKET_STATUSES,
    ROLES,
    Agent,
    AgentSkill,
    Campaign,
    ContactPreference,
    Customer,
    CustomerPhone,
    Disposition,
    DncEntry,
    Interaction,
    InteractionQueueLeg,
    Lead,
    LeadList,
    Meta,
    Order,
    Queue,
    Skill,
    Ticket,
)
from cti.store.schema import create_engine, dialect_of, upgrade
from cti.store.tiers import Activity, TierPolicy, assess

T = TypeVar("T")
CHUNK = 500  # keys per IN (...) list: far below SQLite's and asyncpg's parameter limits
MAX_SHARED = 20  # a number shared by more customers than this (a switchboard) shows the first 20
# SQLite: after this many call records the WAL is checkpointed by a background task on its own connection
# (SQLite's C code, off the GIL and outside the write lock) instead of inside a writer's COMMIT. Small on
# purpose: every page the writer reads is first looked up in the WAL's index, so a short WAL keeps the
# next batch fast (2,000 records: 20,600-21,800 rows/s; 500: 22,700-24,000; 250: 24,500-26,200 on the
# loaded benchmark store, docs/design/store.md).
CHECKPOINT_EVERY = 250
log = logging.getLogger(__name__)
TIERS_COMPUTED_AT = "tiers_computed_at"  # store_meta key: when tiers were last recomputed
_RETRY_SQLSTATES = ("40P01", "40001")  # PostgreSQL deadlock_detected, serialization_failure

customers_t: Table = Customer.__table__  # type: ignore[assignment]
phones_t: Table = CustomerPhone.__table__  # type: ignore[assignment]
prefs_t: Table = ContactPreference.__table__  # type: ignore[assignment]
dnc_t: Table = DncEntry.__table__  # type: ignore[assignment]
interactions_t: Table = Interaction.__table__  # type: ignore[assignment]
legs_t: Table = InteractionQueueLeg.__table__  # type: ignore[assignment]
dispositions_t: Table = Disposition.__table__  # type: ignore[assignment]
orders_t: Table = Order.__table__  # type: ignore[assignment]
tickets_t: Table = Ticket.__table__  # type: ignore[assignment]
agents_t: Table = Agent.__table__  # type: ignore[assignment]
skills_t: Table = Skill.__table__  # type: ignore[assignment]
agent_skills_t: Table = AgentSkill.__table__  # type: ignore[assignment]
queues_t: Table = Queue.__table__  # type: ignore[assignment]
campaigns_t: Table = Campaign.__table__  # type: ignore[assignment]
lists_t: Table = LeadList.__table__  # type: ignore[assignment]
leads_t: Table = Lead.__table__  # type: ignore[assignment]
meta_t: Table = Meta.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class LeadToCall:
    id: int
    campaign: str
    name: str
    number: str  # E.164
    raw: str  # as imported
    timezone: str
    attempts: int
    customer_id: int | None


PIPELINE_CHUNK = 250  # journeys prepared (in a thread) while the previous ones are written
Params = tuple[Any, ...]
_LINKEDID = INTERACTION_PARAM_COLUMNS.index("linkedid")
_E164 = INTERACTION_PARAM_COLUMNS.index("remote_e164")
Prepared = tuple[list[Params], list[Params]]  # interaction rows, queue-leg rows, as driver parameters


@functools.cache
def _limits(table: Table) -> tuple[tuple[str, int], ...]:
    return tuple(
        (c.name, c.type.length) for c in table.columns if isinstance(c.type, String) and c.type.length
    )


def fit(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """Cut over-long strings to their column's length (a 10 kB caller name is data, not a failed batch)."""
    for name, limit in _limits(table):
        value = row.get(name)
        if isinstance(value, str) and len(value) > limit:
            row[name] = value[:limit]
    return row


@functools.cache
def _param_limits(table: Table, columns: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    limits = dict(_limits(table))
    return tuple((i, limits[c]) for i, c in enumerate(columns) if c in limits)


def fit_params(table: Table, columns: tuple[str, ...], row: Params) -> Params:
    """:func:`fit` for a row of driver parameters in ``columns`` order."""
    limits = _param_limits(table, columns)
    for i, limit in limits:
        value = row[i]
        if isinstance(value, str) and len(value) > limit:
            cut = list(row)
            for j, n in limits:
                if isinstance(cut[j], str):
                    cut[j] = cut[j][:n]
            return tuple(cut)
    return row


def bulk_sql(dialect: str) -> tuple[str, str, str]:
    """The interaction upsert, the queue-leg insert and delete, in the driver's own parameter style.

    A new interaction takes the latest disposition already saved for its call (agents often save theirs
    before the batch with the call record is written); a rewritten one keeps the disposition it has.
    """

    def mark(i: int) -> str:
        return f"?{i}" if dialect == "sqlite" else f"${i}"

    def marks(n: int) -> str:
        return ", ".join(mark(i) for i in range(1, n + 1))

    key = mark(len(INTERACTION_PARAM_COLUMNS) + 1)  # the linkedid again (asyncpg: one type per parameter)
    e164 = mark(len(INTERACTION_PARAM_COLUMNS) + 2)  # the number again, for the same reason
    # the customer a call is filed under: the number's primary holder, then its oldest (shared numbers)
    owner = (
        f"(SELECT p.customer_id FROM customer_phones p WHERE p.e164 = {e164} "
        "ORDER BY p.is_primary DESC, p.customer_id LIMIT 1)"
    )

    def latest(column: str) -> str:
        return (
            f"(SELECT d.{column} FROM dispositions d WHERE d.linkedid = {key} "
            "ORDER BY d.saved_at DESC, d.agent DESC LIMIT 1)"
        )

    changes = [f"{c} = excluded.{c}" for c in JOURNEY_COLUMNS if c != "customer_id"]
    changes.append("customer_id = coalesce(excluded.customer_id, interactions.customer_id)")
    columns = ", ".join(INTERACTION_PARAM_COLUMNS)
    values = f"{marks(len(INTERACTION_PARAM_COLUMNS))}, {owner}, {latest('disposition')}, {latest('notes')}"
    upsert = (
        f"INSERT INTO interactions ({columns}, customer_id, disposition, notes) VALUES ({values}) "
        f"ON CONFLICT (linkedid) DO UPDATE SET {', '.join(changes)}"
    )
    legs = f"INSERT INTO queue_legs ({', '.join(LEG_PARAM_COLUMNS)}) VALUES ({marks(len(LEG_PARAM_COLUMNS))})"
    return upsert, legs, f"DELETE FROM queue_legs WHERE linkedid = {mark(1)}"


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class Store:
    """Open with ``await Store.open(url)``; close with ``await store.close()``."""

    def __init__(self, engine: AsyncEngine, *, default_country: str = "US", policy: TierPolicy | None = None):
        self.engine = engine
        self.dialect = engine.dialect.name
        self.default_country = default_country.upper()
        self.policy = policy or TierPolicy()
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.dialect == "sqlite" else None
        # Reads need no transaction: on PostgreSQL, autocommit saves the BEGIN and ROLLBACK round trips.
        self.reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if self.dialect == "postgresql" else engine
        )
        self._bulk_sql = bulk_sql(self.dialect)
        self._background_checkpoints = self.dialect == "sqlite" and (engine.url.database or ":memory:") != (
            ":memory:"
        )
        self._since_checkpoint = 0  # call records written since the last background checkpoint began
        self._checkpointer: asyncio.Task[None] | None = None
        self.background_checkpoints = 0  # completed so far (SQLite files)
        self.tier_runs = 0  # scheduled tier recomputations done, and failed (run_tier_schedule)
        self.tier_failures = 0
        self._sql = {
            "customers": popsql.for_driver(popsql.customers_sql(self.dialect), self.dialect),
            "unknown": popsql.for_driver(popsql.unknown_sql(self.dialect), self.dialect),
        }

    # ---- lifecycle -------------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        default_country: str = "US",
        migrate: bool = True,
        policy: TierPolicy | None = None,
    ) -> Store:
        if not phones.is_known_region(default_country):
            raise UsageError(f"unknown default country {default_country!r}: use an ISO code such as US or CN")
        dialect_of(url)
        engine = create_engine(url)
        store = cls(engine, default_country=default_country, policy=policy)
        if migrate:
            try:
                await store.migrate()
            except BaseException:
                await engine.dispose()
                raise
        return store

    async def migrate(self) -> None:
        async with self._writing() as conn:
            await conn.run_sync(upgrade)

    async def close(self) -> None:
        if self._checkpointer is not None:
            await self._checkpointer  # never fails: it logs
        await self.engine.dispose()

    def _checkpoint_soon(self, written: int) -> None:
        """Start a background WAL checkpoint every CHECKPOINT_EVERY call records (SQLite files only).

        Left to ``wal_autocheckpoint``, the writer copies the WAL back into the database inside a COMMIT,
        holding the write lock; a PASSIVE checkpoint on another connection copies the same pages while the
        next batch is prepared and written (readers and the writer are never blocked by it), and leaves
        the writer's own autocheckpoint almost nothing to do.
        """
        if not self._background_checkpoints:
            return
        self._since_checkpoint += written
        if self._since_checkpoint < CHECKPOINT_EVERY:
            return
        if self._checkpointer is not None and not self._checkpointer.done():
            return  # one at a time: the running one will take what was written since it began, or the next
        self._since_checkpoint = 0
        self._checkpointer = asyncio.get_running_loop().create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        try:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            self.background_checkpoints += 1
        except Exception:  # the writer's autocheckpoint is the backstop: never lose a write over this
            log.warning("background WAL checkpoint failed", exc_info=True)

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def normalize(self, number: str | None) -> str | None:
        return phones.normalize(number, self.default_country)

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction (serialized on SQLite)."""
        lock: contextlib.AbstractAsyncContextManager[Any] = self._write_lock or contextlib.nullcontext()
        async with lock, self.engine.begin() as conn:
            yield conn

    def _insert(self, table: Table) -> Any:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

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
        async with self.reader.connect() as conn:
            # the pop is on the critical path: straight to the driver (one thread hop on aiosqlite, one
            # round trip on asyncpg), skipping SQLAlchemy's result machinery
            driver = (await conn.get_raw_connection()).driver_connection
            rows = await self._fetch(driver, "customers", params)
            if rows:
                return popsql.known(
                    number, e164, [dict(zip(popsql.CUSTOMER_COLUMNS, r, strict=True)) for r in rows]
                )
            (row,) = await self._fetch(driver, "unknown", params)
            return popsql.unknown(number, e164, dict(zip(popsql.UNKNOWN_COLUMNS, row, strict=True)))

    async def _fetch(self, driver: Any, which: str, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        sql = self._sql[which]
        args = popsql.driver_args(sql, self.dialect, params)
        if self.dialect == "postgresql":
            return list(await driver.fetch(sql, *args))
        return list(await driver.execute_fetchall(sql, args))

    # ---- call records ------------------------------------------------------------------------------

    async def record_journeys(
        self, journeys: Sequence[CallJourney], *, normalized: Mapping[str, str | None] | None = None
    ) -> int:
        """Write interactions and queue legs for ``journeys`` in one transaction; returns how many.

        ``normalized``: the customer's number of some journeys already in E.164 (``None``: no usable
        number), by linkedid, as the daemon found it for the screen pop; the others are normalized here.
        Idempotent by Linkedid: a journey written again replaces its earlier record (its legs too), and
        dispositions saved before the record existed are attached now.
        """
        latest: dict[str, CallJourney] = {}
        for journey in journeys:
            latest[journey.linkedid] = journey  # the same call twice in one batch: the last state wins
        if not latest:
            return 0
        ordered = [latest[k] for k in sorted(latest)]
        parts = [list(p) for p in chunks(ordered, PIPELINE_CHUNK)]
        known = normalized or {}
        # number parsing and row building are CPU work: off the event loop, in a worker thread
        first = await asyncio.to_thread(self._record_rows, parts[0], known)
        for attempt in range(5):
            try:
                async with self._writing() as conn:
                    await self._write_pipelined(conn, first, parts[1:], known)
                self._checkpoint_soon(len(ordered))
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
        known: Mapping[str, str | None],
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
                if following is not None:
                    prepared = await following

    def _record_rows(self, journeys: list[CallJourney], known: Mapping[str, str | None]) -> Prepared:
        normalize = self.normalize
        rows = [
            fit_params(
                interactions_t,
                INTERACTION_PARAM_COLUMNS,
                interaction_params(
                    j, known[j.linkedid] if j.linkedid in known else normalize(remote_number(j))
                ),
            )
            for j in journeys
        ]
        legs = [fit_params(legs_t, LEG_PARAM_COLUMNS, leg) for j in journeys for leg in leg_params(j)]
        return rows, legs

    async def _write_records(self, conn: AsyncConnection, rows: list[Params], legs: list[Params]) -> None:
        # The bulk statements go to the driver as plain executemany of tuples: SQLAlchemy's per-row
        # parameter processing would cost more than SQLite's own work (docs/design/store.md).
        upsert, insert_legs, delete_legs = self._bulk_sql
        await conn.exec_driver_sql(upsert, [(*r, r[_LINKEDID], r[_E164]) for r in rows])
        # One indexed delete per call: an IN list of hundreds gets a sequential scan from PostgreSQL's
        # generic plan while the table has no statistics yet, i.e. on every new database.
        await conn.exec_driver_sql(delete_legs, [(r[_LINKEDID],) for r in rows])
        if legs:
            await conn.exec_driver_sql(insert_legs, legs)

    async def _owners(self, conn: AsyncConnection, numbers: Sequence[str]) -> dict[str, int]:
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

    async def save_disposition(
        self, linkedid: str, agent: str, disposition: str, notes: str, *, at: float | None = None
    ) -> None:
        """What ``agent`` recorded about call ``linkedid``; kept, and attached when the call is stored.

        The interaction shows the latest disposition saved for it; every agent's is kept.
        """
        if not linkedid or not agent:
            raise UsageError("a disposition needs the call's linkedid and the agent")
        saved_at = time.time() if at is None else at
        ins = self._insert(dispositions_t)
        values = fit(dispositions_t, {"disposition": disposition, "notes": notes, "saved_at": saved_at})
        disposition = values["disposition"]
        key = fit(dispositions_t, {"linkedid": linkedid, "agent": agent})
        async with self._writing() as conn:
            await conn.execute(
                ins.values(**key, **values).on_conflict_do_update(
                    index_elements=["linkedid", "agent"], set_=values
                )
            )
            await conn.execute(
                update(interactions_t)
                .where(interactions_t.c.linkedid == linkedid)
                .values(disposition=disposition, notes=notes)
            )

    async def set_recording(self, linkedid: str, ref: str) -> bool:
        async with self._writing() as conn:
            result = await conn.execute(
                update(interactions_t).where(interactions_t.c.linkedid == linkedid).values(recording_ref=ref)
            )
        return bool(getattr(result, "rowcount", 0))

    async def queue_legs(self, start: float, end: float) -> list[QueueLeg]:
        """Every queue visit that began in ``[start, end)``, in order (what ``cti report`` reads)."""
        async with self.reader.connect() as conn:
            result = await conn.execute(
                select(legs_t)
                .where(legs_t.c.entered_at >= start, legs_t.c.entered_at < end)
                .order_by(legs_t.c.entered_at, legs_t.c.linkedid, legs_t.c.seq)
            )
            return [leg_from_row(r) for r in result.mappings()]

    async def answered_dispositions(self, start: float, end: float) -> list[tuple[str, str, str]]:
        """(linkedid, agent, disposition) for each call an agent answered in a queue visit that began in
        ``[start, end)`` and dispositioned: the outcomes behind ``cti report --by agent``. A call the
        agent answered twice (transferred back) counts once."""
        d, leg = dispositions_t.c, legs_t.c
        async with self.reader.connect() as conn:
            result = await conn.execute(
                select(d.linkedid, d.agent, d.disposition)
                .where(
                    exists()
                    .where(leg.linkedid == d.linkedid, leg.agent == d.agent)
                    .where(leg.entered_at >= start, leg.entered_at < end)
                    .where(leg.outcome.in_([o.value for o in ANSWERED_OUTCOMES]))
                )
                .order_by(d.linkedid, d.agent)
            )
            return [(str(r[0]), str(r[1]), str(r[2])) for r in result]

    async def journeys(self, start: float, end: float) -> list[CallJourney]:
        """Every call that started in ``[start, end)``, with its queue legs, oldest first."""
        window = and_(interactions_t.c.started_at >= start, interactions_t.c.started_at < end)
        async with self.reader.connect() as conn:
            legs: dict[str, list[QueueLeg]] = {}
            result = await conn.execute(
                select(legs_t)
                .join(interactions_t, interactions_t.c.linkedid == legs_t.c.linkedid)
                .where(window)
                .order_by(legs_t.c.linkedid, legs_t.c.seq)
            )
            for r in result.mappings():
                legs.setdefault(r["linkedid"], []).append(leg_from_row(r))
            result = await conn.execute(
                select(interactions_t)
                .where(window)
                .order_by(interactions_t.c.started_at, interactions_t.c.id)
            )
            return [journey_from_row(r, legs.get(r["linkedid"], [])) for r in result.mappings()]

    async def interaction_count(self) -> int:
        async with self.reader.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(interactions_t))).scalar_one())

    # ---- agents, skills, queues --------------------------------------------------------------------

    async def upsert_agent(
        self,
        username: str,
        password: str | None,
        role: str,
        member_name: str | None,
        interface: str,
        display_name: str,
        *,
        extension: str = "",
        skills: Mapping[str, int] | None = None,
    ) -> None:
        """Create or update an agent. ``password=None`` keeps the current one (a new agent needs one)."""
        if role not in ROLES:
            raise UsageError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if not username:
            raise UsageError("an agent needs a username")
        for skill, level in (skills or {}).items():
            if not 1 <= level <= 10:
                raise UsageError(f"skill {skill!r}: level must be 1..10, not {level}")
        hashed = None if password is None else await asyncio.to_thread(hash_password, password)
        values: dict[str, Any] = {
            "role": role,
            "member_name": member_name or None,
            "interface": interface,
            "display_name": display_name,
            "extension": extension,
            "active": True,
        }
        if hashed is not None:
            values["password_hash"] = hashed
        async with self._writing() as conn:
            agent_id = (
                await conn.execute(select(agents_t.c.id).where(agents_t.c.username == username))
            ).scalar_one_or_none()
            if agent_id is None:
                if hashed is None:
                    raise UsageError(f"new agent {username!r} needs a password")
                agent_id = (
                    await conn.execute(
                        agents_t.insert().values(username=username, **values).returning(agents_t.c.id)
                    )
                ).scalar_one()
            else:
                await conn.execute(update(agents_t).where(agents_t.c.id == agent_id).values(**values))
            if skills is not None:
                await conn.execute(delete(agent_skills_t).where(agent_skills_t.c.agent_id == agent_id))
                for name, level in sorted(skills.items()):
                    skill_id = await self._skill_id(conn, name)
                    await conn.execute(
                        agent_skills_t.insert().values(agent_id=agent_id, skill_id=skill_id, level=level)
                    )

    async def _skill_id(self, conn: AsyncConnection, name: str) -> int:
        found = (
            await conn.execute(select(skills_t.c.id).where(skills_t.c.name == name))
        ).scalar_one_or_none()
        if found is not None:
            return int(found)
        return int(
            (await conn.execute(skills_t.insert().values(name=name).returning(skills_t.c.id))).scalar_one()
        )

    async def authenticate(self, username: str, password: str) -> AgentAccount | None:
        """The account when ``password`` is right, else None (same cost for an unknown username)."""
        async with self.reader.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(agents_t).where(agents_t.c.username == username, agents_t.c.active)
                    )
                )
                .mappings()
                .first()
            )
            ok = await asyncio.to_thread(verify_or_waste, password, row["password_hash"] if row else None)
            if not ok or row is None:
                return None
            return (await self._accounts(conn, agents_t.c.id == row["id"]))[0]

    async def agents(self) -> list[AgentAccount]:
        async with self.reader.connect() as conn:
            return await self._accounts(conn, agents_t.c.active)

    async def agent(self, username: str) -> AgentAccount | None:
        async with self.reader.connect() as conn:
            found = await self._accounts(conn, agents_t.c.username == username)
        return found[0] if found else None

    async def _accounts(self, conn: AsyncConnection, where: Any) -> list[AgentAccount]:
        rows = (
            (await conn.execute(select(agents_t).where(where).order_by(agents_t.c.username))).mappings().all()
        )
        skills: dict[int, dict[str, int]] = {r["id"]: {} for r in rows}
        if rows:
            result = await conn.execute(
                select(agent_skills_t.c.agent_id, skills_t.c.name, agent_skills_t.c.level)
                .join(skills_t, skills_t.c.id == agent_skills_t.c.skill_id)
                .where(agent_skills_t.c.agent_id.in_(list(skills)))
            )
            for agent_id, name, level in result:
                skills[agent_id][name] = level
        return [
            AgentAccount(
                id=r["id"],
                username=r["username"],
                role=r["role"],
                member_name=r["member_name"],
                interface=r["interface"],
                display_name=r["display_name"],
                extension=r["extension"],
                skills=skills[r["id"]],
            )
            for r in rows
        ]

    async def upsert_queue(
        self,
        name: str,
        *,
        display_name: str = "",
        skill: str | None = None,
        service_level_seconds: float = 20.0,
    ) -> None:
        ins = self._insert(queues_t)
        values = {
            "display_name": display_name,
            "skill": skill,
            "service_level_seconds": service_level_seconds,
        }
        async with self._writing() as conn:
            await conn.execute(
                ins.values(name=name, **values).on_conflict_do_update(index_elements=["name"], set_=values)
            )

    async def queues(self) -> list[dict[str, Any]]:
        async with self.reader.connect() as conn:
            result = await conn.execute(select(queues_t).order_by(queues_t.c.name))
            return [dict(r) for r in result.mappings()]

    # ---- customers ---------------------------------------------------------------------------------

    async def add_customers(self, customers: Sequence[NewCustomer], *, now: float | None = None) -> list[int]:
        """Insert customers with their phones and contact preferences in one transaction; their ids."""
        async with self._writing() as conn:
            return await self._add_customers(conn, customers, now=now)

    async def add_customer(self, customer: NewCustomer) -> int:
        return (await self.add_customers([customer]))[0]

    async def _add_customers(
        self, conn: AsyncConnection, customers: Sequence[NewCustomer], *, now: float | None = None
    ) -> list[int]:
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
                .where(interactions_t.c.remote_e164 == _bind("n"), interactions_t.c.customer_id.is_(None))
                .values(customer_id=_bind("c")),
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
        async with self._writing() as conn:
            owner = await self._owners(conn, sorted({n for ns in numbers.values() for n in ns}))
            known = {i: owner[n] for i, ns in numbers.items() for n in ns if n in owner}
            fresh = [c for i, c in enumerate(customers) if i not in known]
            ids = iter(await self._add_customers(conn, fresh, now=now))
        return [None if i in known else next(ids) for i in range(len(customers))], known

    async def customer_records(self) -> AsyncIterator[dict[str, Any]]:
        """Every customer as a flat record (phones in E.164, primary first), in id order, streamed.

        Streaming (a server-side cursor on PostgreSQL) needs a transaction: the writer engine, not the reader.
        """
        c = customers_t.c
        async with self.engine.connect() as conn:
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

    async def add_leads(self, list_id: int, leads: Sequence[Mapping[str, Any]]) -> dict[int, str]:
        """Add leads (``name``, ``raw``, ``e164``, ``timezone``) to a list in one transaction.

        A number already in the list is skipped: returns index -> that number for the skipped ones.
        Each lead is linked to the customer who holds its number, when there is one.
        """
        async with self._writing() as conn:
            existing: set[str] = set()
            numbers = sorted({str(lead["e164"]) for lead in leads})
            for part in chunks(numbers):
                result = await conn.execute(
                    select(leads_t.c.e164).where(leads_t.c.list_id == list_id, leads_t.c.e164.in_(part))
                )
                existing.update(r[0] for r in result)
            owner = await self._owners(conn, numbers)
            rows, skipped = [], {}
            for i, lead in enumerate(leads):
                if lead["e164"] in existing:
                    skipped[i] = str(lead["e164"])
                    continue
                existing.add(lead["e164"])
                rows.append(
                    fit(
                        leads_t,
                        {
                            "list_id": list_id,
                            "customer_id": owner.get(lead["e164"]),
                            "name": lead.get("name", ""),
                            "raw": lead.get("raw", ""),
                            "e164": lead["e164"],
                            "timezone": lead.get("timezone", ""),
                            "status": "new",
                            "attempts": 0,
                        },
                    )
                )
            if rows:
                await conn.execute(leads_t.insert(), rows)
        return skipped

    async def lead_records(self, list_id: int) -> list[dict[str, Any]]:
        async with self.reader.connect() as conn:
            result = await conn.execute(
                select(leads_t).where(leads_t.c.list_id == list_id).order_by(leads_t.c.id)
            )
            return [dict(r) for r in result.mappings()]

    async def customers_by_number(self, number: str) -> list[int]:
        e164 = self.normalize(number)
        if e164 is None:
            return []
        async with self.reader.connect() as conn:
            result = await conn.execute(
                select(phones_t.c.customer_id).where(phones_t.c.e164 == e164).order_by(phones_t.c.customer_id)
            )
            return [int(r[0]) for r in result]

    async def set_do_not_call(
        self, customer_id: int, flag: bool, *, source: str, at: float | None = None
    ) -> None:
        ins = self._insert(prefs_t)
        values = {
            "do_not_call": flag,
            "dnc_source": source if flag else "",
            "dnc_at": (at or time.time()) if flag else None,
        }
        async with self._writing() as conn:
            await conn.execute(
                ins.values(customer_id=customer_id, **values).on_conflict_do_update(
                    index_elements=["customer_id"], set_=values
                )
            )

    async def add_dnc_numbers(
        self, numbers: Iterable[str], *, source: str = "internal", reason: str = "", at: float | None = None
    ) -> int:
        """Put numbers on the do-not-call list (any format); returns how many were usable numbers."""
        stamp = time.time() if at is None else at
        normalized = sorted({n for n in (self.normalize(x) for x in numbers) if n})
        if not normalized:
            return 0
        ins = self._insert(dnc_t)
        async with self._writing() as conn:
            await conn.execute(
                ins.on_conflict_do_update(
                    index_elements=["e164"],
                    set_={"source": ins.excluded.source, "reason": ins.excluded.reason},
                ),
                [{"e164": n, "source": source, "reason": reason, "added_at": stamp} for n in normalized],
            )
        return len(normalized)

    async def add_order(
        self,
        customer_id: int,
        amount_cents: int,
        placed_at: float,
        *,
        currency: str = "CNY",
        description: str = "",
    ) -> None:
        async with self._writing() as conn:
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
        async with self._writing() as conn:
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
        async with self._writing() as conn:
            await conn.execute(
                update(tickets_t).where(tickets_t.c.id == ticket_id).values(status=status, closed_at=closed)
            )

    # ---- value tiers -------------------------------------------------------------------------------

    async def recompute_tiers(self, *, now: float | None = None) -> int:
        """Recompute every customer's tier, RFM and at-risk flag (see tiers.py); returns how many changed."""
        at = time.time() if now is None else now
        since = at - self.policy.window_days * 86400.0
        o = orders_t.c
        in_window = and_(o.placed_at >= since, o.placed_at <= at)
        async with self.reader.connect() as conn:
            current = {
                r.id: (
                    r.tier,
                    r.rfm_recency,
                    r.rfm_frequency,
                    r.rfm_monetary,
                    bool(r.at_risk),
                    r.window_spend_cents,
                )
                for r in await conn.execute(
                    select(
                        customers_t.c.id,
                        customers_t.c.tier,
                        customers_t.c.rfm_recency,
                        customers_t.c.rfm_frequency,
                        customers_t.c.rfm_monetary,
                        customers_t.c.at_risk,
                        customers_t.c.window_spend_cents,
                    )
                )
            }
            spend: dict[int, tuple[int, int, int, float | None]] = {}
            for r in await conn.execute(
                select(
                    o.customer_id,
                    func.sum(case((in_window, o.amount_cents), else_=0)),
                    func.sum(case((in_window, 1), else_=0)),
                    func.sum(o.amount_cents),
                    func.max(o.placed_at),
                )
                .where(o.placed_at <= at)
                .group_by(o.customer_id)
            ):
                spend[r[0]] = (int(r[1] or 0), int(r[2] or 0), int(r[3] or 0), r[4])
            complaints: dict[int, tuple[float | None, int]] = {}
            t = tickets_t.c
            for c in await conn.execute(
                select(
                    t.customer_id,
                    func.max(t.opened_at),
                    func.sum(case((t.status.in_(OPEN_TICKET_STATUSES), 1), else_=0)),
                )
                .where(t.kind == "complaint", t.opened_at <= at)
                .group_by(t.customer_id)
            ):
                complaints[c[0]] = (c[1], int(c[2] or 0))
        activity: dict[int, Activity] = {}
        for cid in current:
            w_spend, w_orders, life, last = spend.get(cid, (0, 0, 0, None))
            last_complaint, open_complaints = complaints.get(cid, (None, 0))
            activity[cid] = Activity(
                window_spend=w_spend / 100.0,
                window_orders=w_orders,
                lifetime_spend=life / 100.0,
                last_order_at=last,
                last_complaint_at=last_complaint,
                open_complaints=open_complaints,
            )
        values = await asyncio.to_thread(assess, activity, at, self.policy)
        changed = []
        for cid, v in values.items():
            cents = spend.get(cid, (0, 0, 0, None))[0]
            new = (v.tier.value, v.recency, v.frequency, v.monetary, v.at_risk, cents)
            if new != current[cid]:
                changed.append(
                    {
                        "i": cid,
                        "tier": new[0],
                        "rfm_recency": new[1],
                        "rfm_frequency": new[2],
                        "rfm_monetary": new[3],
                        "at_risk": new[4],
                        "window_spend_cents": new[5],
                        "value_at": at,
                    }
                )
        if changed:
            stmt = update(customers_t).where(customers_t.c.id == _bind("i"))
            for part in chunks(changed, 5000):  # a transaction per part: call records interleave
                async with self._writing() as conn:
                    await conn.execute(stmt, list(part))
        async with self._writing() as conn:
            ins = self._insert(meta_t)
            await conn.execute(
                ins.values(key=TIERS_COMPUTED_AT, value=repr(at)).on_conflict_do_update(
                    index_elements=["key"], set_={"value": repr(at)}
                )
            )
        return len(changed)

    async def tiers_computed_at(self) -> float | None:
        """When tiers were last recomputed (epoch seconds), or None if never."""
        async with self.reader.connect() as conn:
            found = (
                await conn.execute(select(meta_t.c.value).where(meta_t.c.key == TIERS_COMPUTED_AT))
            ).scalar()
        return None if found is None else float(found)

    async def tier_counts(self) -> dict[str, int]:
        """How many customers are in each tier (as last computed)."""
        async with self.reader.connect() as conn:
            result = await conn.execute(select(customers_t.c.tier, func.count()).group_by(customers_t.c.tier))
            return {str(tier): int(n) for tier, n in result}

    async def run_tier_schedule(self, interval: float) -> None:
        """Recompute tiers every ``interval`` seconds, forever (the daemon runs it in its TaskGroup).

        The first run comes when the last one (by any process: ``cti store tiers``, another daemon) is
        ``interval`` old, so a restart does not redo fresh work. A failed run is logged and retried at
        the next interval: the tiers shown meanwhile are the last ones computed.
        """
        if interval <= 0:
            raise UsageError("the tier schedule needs an interval > 0")
        while True:
            try:
                last = await self.tiers_computed_at()
                due = 0.0 if last is None else max(0.0, last + interval - time.time())
                await asyncio.sleep(due)
                changed = await self.recompute_tiers()
                self.tier_runs += 1
                log.info("value tiers recomputed", extra={"changed": changed})
                await asyncio.sleep(interval)
            except Exception as e:
                self.tier_failures += 1
                log.error("recomputing the value tiers failed: %s; next attempt in %.0f s", e, interval)
                await asyncio.sleep(interval)

    # ---- campaigns and leads -----------------------------------------------------------------------

    async def upsert_campaign(
        self,
        name: str,
        *,
        queue: str = "",
        max_attempts: int = 3,
        retry_seconds: float = 3600.0,
        call_from_hour: int = 9,
        call_to_hour: int = 21,
        active: bool = True,
    ) -> int:
        if not (0 <= call_from_hour <= 24 and 0 <= call_to_hour <= 24):
            raise UsageError("calling hours are 0..24")
        ins = self._insert(campaigns_t)
        values = {
            "queue": queue,
            "max_attempts": max_attempts,
            "retry_seconds": retry_seconds,
            "call_from_hour": call_from_hour,
            "call_to_hour": call_to_hour,
            "active": active,
        }
        async with self._writing() as conn:
            await conn.execute(
                ins.values(name=name, **values).on_conflict_do_update(index_elements=["name"], set_=values)
            )
            return int(
                (await conn.execute(select(campaigns_t.c.id).where(campaigns_t.c.name == name))).scalar_one()
            )

    async def upsert_campaign_if_missing(self, name: str) -> None:
        """Create campaign ``name`` with the default settings unless it exists (CSV import of leads)."""
        async with self._writing() as conn:
            await conn.execute(self._insert(campaigns_t).values(name=name).on_conflict_do_nothing())

    async def lead_list(self, campaign: str, name: str) -> int:
        """The id of lead list ``name`` in ``campaign`` (created if needed; the campaign must exist)."""
        async with self._writing() as conn:
            campaign_id = (
                await conn.execute(select(campaigns_t.c.id).where(campaigns_t.c.name == campaign))
            ).scalar_one_or_none()
            if campaign_id is None:
                raise UsageError(f"no campaign {campaign!r}")
            found = (
                await conn.execute(
                    select(lists_t.c.id).where(lists_t.c.campaign_id == campaign_id, lists_t.c.name == name)
                )
            ).scalar_one_or_none()
            if found is not None:
                return int(found)
            result = await conn.execute(
                lists_t.insert()
                .values(campaign_id=campaign_id, name=name, active=True)
                .returning(lists_t.c.id)
            )
            return int(result.scalar_one())

    async def callable_leads(
        self, campaign: str, *, now: float | None = None, limit: int = 100
    ) -> list[LeadToCall]:
        """Leads of ``campaign`` that may be dialled now, oldest due first.

        Never: a number on the do-not-call list, a customer flagged do-not-call, a customer with an open
        complaint (whether the lead is linked to the customer or only shares their number), a lead out
        of attempts or not due yet, or a lead whose local time is outside the campaign's calling hours.
        """
        at = time.time() if now is None else now
        ld = leads_t.c
        phone_owner = select(phones_t.c.customer_id).where(phones_t.c.e164 == ld.e164).correlate(leads_t)
        customer = or_(
            prefs_t.c.customer_id == ld.customer_id, prefs_t.c.customer_id.in_(phone_owner.scalar_subquery())
        )
        complaint_customer = or_(
            tickets_t.c.customer_id == ld.customer_id,
            tickets_t.c.customer_id.in_(phone_owner.scalar_subquery()),
        )
        query = (
            select(ld.id, ld.name, ld.e164, ld.raw, ld.timezone, ld.attempts, ld.customer_id, campaigns_t)
            .select_from(
                leads_t.join(lists_t, lists_t.c.id == ld.list_id).join(
                    campaigns_t, campaigns_t.c.id == lists_t.c.campaign_id
                )
            )
            .where(
                campaigns_t.c.name == campaign,
                campaigns_t.c.active,
                lists_t.c.active,
                ld.status.in_(("new", "retry")),
                ld.attempts < campaigns_t.c.max_attempts,
                or_(ld.next_attempt_at.is_(None), ld.next_attempt_at <= at),
                ~exists().where(dnc_t.c.e164 == ld.e164),
                ~exists().where(customer, prefs_t.c.do_not_call),
                ~exists().where(
                    complaint_customer,
                    tickets_t.c.kind == "complaint",
                    tickets_t.c.status.in_(OPEN_TICKET_STATUSES),
                ),
            )
            .order_by(func.coalesce(ld.next_attempt_at, 0), ld.id)
        )
        found: list[LeadToCall] = []
        offset = 0
        page = max(limit * 2, 100)
        async with self.reader.connect() as conn:
            while len(found) < limit:
                rows = (await conn.execute(query.limit(page).offset(offset))).mappings().all()
                for r in rows:
                    if not _in_calling_hours(
                        r["e164"], r["timezone"], at, r["call_from_hour"], r["call_to_hour"]
                    ):
                        continue
                    found.append(
                        LeadToCall(
                            id=r["id"],
                            campaign=campaign,
                            name=r["name"],
                            number=r["e164"],
                            raw=r["raw"],
                            timezone=r["timezone"],
                            attempts=r["attempts"],
                            customer_id=r["customer_id"],
                        )
                    )
                    if len(found) == limit:
                        break
                if len(rows) < page:
                    break
                offset += page
        return found

    async def record_lead_attempt(self, lead_id: int, outcome: str, *, at: float | None = None) -> str:
        """Count one dial of ``lead_id``; returns the lead's new status (done, retry or failed)."""
        stamp = time.time() if at is None else at
        async with self._writing() as conn:
            row = (
                await conn.execute(
                    select(leads_t.c.attempts, campaigns_t.c.max_attempts, campaigns_t.c.retry_seconds)
                    .select_from(
                        leads_t.join(lists_t, lists_t.c.id == leads_t.c.list_id).join(
                            campaigns_t, campaigns_t.c.id == lists_t.c.campaign_id
                        )
                    )
                    .where(leads_t.c.id == lead_id)
                )
            ).first()
            if row is None:
                raise UsageError(f"no lead {lead_id}")
            attempts = row.attempts + 1
            if outcome == "answered":
                status, next_at = "done", None
            elif attempts >= row.max_attempts:
                status, next_at = "failed", None
            else:
                status, next_at = "retry", stamp + row.retry_seconds
            await conn.execute(
                update(leads_t)
                .where(leads_t.c.id == lead_id)
                .values(
                    attempts=attempts,
                    status=status,
                    next_attempt_at=next_at,
                    last_attempt_at=stamp,
                    last_outcome=outcome,
                )
            )
        return status

    # ---- demo data ---------------------------------------------------------------------------------

    async def seed_demo(self, *, customers: int = 5000, seed: int = 42, now: float | None = None) -> None:
        """The demo agents, queues and (once) the generated customers with their history. Idempotent."""
        from cti.store import demo_data

        existing = {a.username for a in await self.agents()}
        for spec in demo_data.AGENTS:
            if spec.username not in existing:
                await self.upsert_agent(
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
            await self.upsert_queue(queue.name, display_name=queue.display_name, skill=queue.skill)
        at = float(int(time.time() if now is None else now))
        data = await asyncio.to_thread(demo_data.generate, seed, customers, at)
        marker = f"seed={seed} customers={customers}"
        try:
            async with self._writing() as conn:
                await conn.execute(meta_t.insert().values(key="demo_seed", value=marker))
                ids = await self._add_customers(conn, data.customers, now=at)
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
            await self.record_journeys(part)
        if data.dnc_numbers:
            await self.add_dnc_numbers(
                data.dnc_numbers, source="national", reason="demo national DNC list", at=at
            )
        await self.recompute_tiers(now=at)

    async def demo_seeded(self) -> str | None:
        async with self.reader.connect() as conn:
            found = await conn.execute(select(meta_t.c.value).where(meta_t.c.key == "demo_seed"))
            value = found.scalar_one_or_none()
        return None if value is None else str(value)

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
        async with self.reader.connect() as conn:
            rows = [(r[0], r[1]) for r in await conn.execute(query)]
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


def _bind(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name)


def _in_calling_hours(e164: str, tz: str, at: float, start_hour: int, end_hour: int) -> bool:
    """Whether the lead's local time is in [start_hour, end_hour); no timezone: the number's region's."""
    zone = _zone(tz) or _number_zone(e164)
    if zone is None:
        return True  # no way to know; documented in docs/store.md
    hour = datetime.fromtimestamp(at, zone).hour
    if start_hour <= end_hour:
        return start_hour <= hour < end_hour
    return hour >= start_hour or hour < end_hour  # a window across midnight


def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _number_zone(e164: str) -> zoneinfo.ZoneInfo | None:
    import phonenumbers

    try:
        zones = phone_timezone.time_zones_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None
    if len(zones) != 1:
        return None
    return _zone(zones[0])
