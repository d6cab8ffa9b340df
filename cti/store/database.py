"""The one engine every repository of the store shares, and what they all need to write through it.

Writes on SQLite go through one in-process lock: SQLite has one writer at a time anyway, and queuing
in asyncio instead of in SQLite's busy handler keeps writers fair and never fails on "database is
locked". Writes on PostgreSQL run concurrently; each batch touches rows in key order (no deadlocks
between two batches) and a deadlock or serialization failure is retried (cti/store/calls_repo.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import String, Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import BindParameter

from cti.store import phones
from cti.store.models import (
    Agent,
    AgentDay,
    AgentHour,
    AgentInterval,
    AgentLanguage,
    AgentSkill,
    AgentStateInterval,
    Callback,
    Campaign,
    CampaignDisposition,
    ContactPreference,
    Customer,
    CustomerPhone,
    DialAttempt,
    Disposition,
    DncEntry,
    EmailQuarantine,
    EmailTask,
    Interaction,
    InteractionQueueLeg,
    Lead,
    LeadList,
    Meta,
    Order,
    Queue,
    QueueDay,
    QueueHour,
    QueueInterval,
    Skill,
    Ticket,
)

T = TypeVar("T")
Params = tuple[Any, ...]
CHUNK = 500  # keys per IN (...) list: far below SQLite's and asyncpg's parameter limits
# SQLite: after this many call records the WAL is checkpointed by a background task on its own connection
# (SQLite's C code, off the GIL and outside the write lock) instead of inside a writer's COMMIT. Small on
# purpose: every page the writer reads is first looked up in the WAL's index, so a short WAL keeps the
# next batch fast (2,000 records: 20,600-21,800 rows/s; 500: 22,700-24,000; 250: 24,500-26,200 on the
# loaded benchmark store, docs/design/store.md).
CHECKPOINT_EVERY = 250
log = logging.getLogger(__name__)


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


customers_t = _table(Customer)
phones_t = _table(CustomerPhone)
prefs_t = _table(ContactPreference)
dnc_t = _table(DncEntry)
interactions_t = _table(Interaction)
legs_t = _table(InteractionQueueLeg)
dispositions_t = _table(Disposition)
orders_t = _table(Order)
tickets_t = _table(Ticket)
agents_t = _table(Agent)
skills_t = _table(Skill)
agent_skills_t = _table(AgentSkill)
agent_languages_t = _table(AgentLanguage)
queues_t = _table(Queue)
campaigns_t = _table(Campaign)
lists_t = _table(LeadList)
leads_t = _table(Lead)
campaign_dispositions_t = _table(CampaignDisposition)
meta_t = _table(Meta)
callbacks_t = _table(Callback)
dial_attempts_t = _table(DialAttempt)
queue_intervals_t = _table(QueueInterval)
agent_intervals_t = _table(AgentInterval)
queue_hours_t = _table(QueueHour)
queue_days_t = _table(QueueDay)
agent_hours_t = _table(AgentHour)
agent_days_t = _table(AgentDay)
agent_states_t = _table(AgentStateInterval)
email_tasks_t = _table(EmailTask)
email_quarantine_t = _table(EmailQuarantine)


class Database:
    """The shared engine: a reader (no transaction), serialized writes, upserts, background checkpoints."""

    def __init__(self, engine: AsyncEngine, *, default_country: str = "US") -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.default_country = default_country.upper()
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.dialect == "sqlite" else None
        # Reads need no transaction: on PostgreSQL, autocommit saves the BEGIN and ROLLBACK round trips.
        self.reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if self.dialect == "postgresql" else engine
        )
        self._background_checkpoints = self.dialect == "sqlite" and (engine.url.database or ":memory:") != (
            ":memory:"
        )
        self._since_checkpoint = 0  # call records written since the last background checkpoint began
        self._checkpointer: asyncio.Task[None] | None = None
        self.background_checkpoints = 0  # completed so far (SQLite files)

    def normalize(self, number: str | None) -> str | None:
        return phones.normalize(number, self.default_country)

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction (serialized on SQLite)."""
        lock: contextlib.AbstractAsyncContextManager[Any] = self._write_lock or contextlib.nullcontext()
        async with lock, self.engine.begin() as conn:
            yield conn

    def insert(self, table: Table) -> Any:
        """The dialect's INSERT, which has ``on_conflict_do_update`` and ``on_conflict_do_nothing``."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def upsert(self, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> Any:
        """INSERT ``key`` and ``values``, or UPDATE ``values`` of the row with that ``key`` (a unique key)."""
        return (
            self.insert(table)
            .values(**key, **values)
            .on_conflict_do_update(index_elements=list(key), set_=dict(values))
        )

    async def upsert_meta(self, conn: AsyncConnection, key: str, value: str) -> None:
        await conn.execute(self.upsert(meta_t, {"key": key}, {"value": value}))

    async def meta(self, key: str) -> str | None:
        """A ``store_meta`` value, or None."""
        async with self.reader.connect() as conn:
            found = (await conn.execute(select(meta_t.c.value).where(meta_t.c.key == key))).scalar()
        return None if found is None else str(found)

    def checkpoint_soon(self, written: int) -> None:
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

    async def close(self) -> None:
        if self._checkpointer is not None:
            await self._checkpointer  # never fails: it logs
        await self.engine.dispose()


class Repository:
    """Base of the store's repositories: each one works through the shared :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def normalize(self, number: str | None) -> str | None:
        return self.db.normalize(number)


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


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def bind(name: str) -> BindParameter[Any]:
    return bindparam(name)
