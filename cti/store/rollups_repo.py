"""15-minute rollups of the call records (``store.rollups``): what makes a month's report cost milliseconds.

Each finished queue visit (leg) is counted in the 15-minute interval it *entered* its queue in (its
``bucket``: ``entered_at`` rounded down to a multiple of 900 s, UTC epoch; every real time zone's offset
is a multiple of 15 minutes, so local hours and midnights are interval boundaries too). A queue's row
holds the sums of :class:`cti.reports.metrics.QueueRollup` and an agent's row those of
:class:`~cti.reports.metrics.AgentRollup`: the same pure code folds the legs, so a figure from rollups is
the figure from the raw legs (tests/store/test_rollups.py proves it for any legs in any order).

Maintenance, in the transaction that writes the records (``CallRepository.record_journeys``):

- new calls only (the usual case): their legs are folded per interval and *added* to the rows (an
  upsert that increments; the maximum wait takes the greater);
- a call written again (the repair, a late rewrite) or deleted: the intervals its old and new legs
  touch are recomputed from the raw legs, inside the same transaction. A rollup is never subtracted from.

``cti store rollups-rebuild`` rebuilds any range from the raw legs (idempotent, with progress); a range is
read from rollups for its whole intervals and from the raw legs for its partial edges, and a row taken
at another service-level threshold than the one asked for is replaced by the raw legs of its interval.
docs/design/rollups.md has the reasoning and the measured figures.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from operator import itemgetter
from typing import Any

from sqlalchemy import case, delete, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from cti.core.ids import AgentId, QueueName, UniqueId
from cti.core.journey import LegOutcome, QueueLeg
from cti.reports.metrics import (
    DEFAULT_SERVICE_LEVEL_SECONDS,
    AgentRollup,
    QueueRollup,
    check_short_abandon,
    us,
)
from cti.store.callrecords import LEG_PARAM_COLUMNS, CallKey
from cti.store.database import (
    Database,
    Params,
    Repository,
    agent_days_t,
    agent_hours_t,
    agent_intervals_t,
    chunks,
    legs_t,
    queue_days_t,
    queue_hours_t,
    queue_intervals_t,
)

BUCKET = 900  # seconds in one rollup interval
HOUR, DAY = 3600, 86400
TIERS = (BUCKET, HOUR, DAY)  # the rollup tiers, finest first: each one's rows sum the finer one's
MIXED = -1  # the thresholds of a row summing legs counted at different ones (never read)
REBUILD_CHUNK = 7 * DAY  # the rebuild's transactions: a week of records each
_THRESHOLDS = ("threshold_us", "short_abandon_us")
AGENT_KEY_LIMIT = 100  # the agent column's length: longer names are cut, in every path alike
QUEUE_SUMS = tuple(
    f.name for f in fields(QueueRollup) if f.name not in ("queue", "threshold", "short_abandon")
)
_NO_UNIQUEID = UniqueId("")  # the fold never reads a leg's channel
_SHORT_AT = 4 + QUEUE_SUMS.index("short_abandoned")  # where short_abandon goes among the selected columns
AGENT_SUMS = ("answered", "transfers", "talk_us", "wait_us", "max_wait_us", "ring_no_answer")
QUEUE_TABLES = {BUCKET: queue_intervals_t, HOUR: queue_hours_t, DAY: queue_days_t}
AGENT_TABLES = {BUCKET: agent_intervals_t, HOUR: agent_hours_t, DAY: agent_days_t}
_L = {name: i for i, name in enumerate(LEG_PARAM_COLUMNS)}
Threshold = Callable[[str], float]
Progress = Callable[[int, int], None]  # (intervals done, intervals in all)


def bucket_of(at: float) -> int:
    """The 15-minute interval (its start, epoch seconds) of a leg that entered its queue ``at``."""
    return math.floor(at / BUCKET) * BUCKET


def leg_of_params(row: Params) -> QueueLeg:
    """A queue leg from its insert parameters (``LEG_PARAM_COLUMNS`` order, strings already cut)."""
    outcome = row[_L["outcome"]]
    agent = row[_L["agent"]]
    return QueueLeg(
        queue=QueueName(row[_L["queue"]]),
        uniqueid=UniqueId(row[_L["uniqueid"]]),
        entered_at=float(row[_L["entered_at"]]),
        position=int(row[_L["position"]]),
        outcome=LegOutcome(outcome) if outcome else None,
        agent=AgentId(agent) if agent is not None else None,
        ring_no_answer=[AgentId(a) for a in json.loads(row[_L["ring_no_answer"]] or "[]")],
        wait_seconds=float(row[_L["wait_seconds"]]),
        talk_seconds=float(row[_L["talk_seconds"]]),
    )


@dataclass(slots=True)
class Interval:
    """One interval's totals: a QueueRollup per queue and one AgentRollup."""

    queues: dict[str, QueueRollup] = field(default_factory=dict)
    agents: AgentRollup = field(default_factory=AgentRollup)


def fold(
    legs: Iterable[QueueLeg], threshold: Threshold, short: Threshold = lambda _q: 0.0
) -> dict[int, Interval]:
    """The legs' totals by interval: the one fold every path (increment, recompute, raw edges) uses."""
    out: dict[int, Interval] = {}
    for leg in legs:
        if leg.outcome is None:
            continue
        cell = out.get(b := bucket_of(leg.entered_at))
        if cell is None:
            cell = out[b] = Interval()
        q = cell.queues.get(leg.queue)
        if q is None:
            q = cell.queues[leg.queue] = QueueRollup(
                leg.queue, threshold(leg.queue), short_abandon=short(leg.queue)
            )
        q.add(leg)
        if leg.agent is not None and len(leg.agent) > AGENT_KEY_LIMIT:
            leg = _cut_agents(leg)
        elif any(len(a) > AGENT_KEY_LIMIT for a in leg.ring_no_answer):
            leg = _cut_agents(leg)
        cell.agents.add(leg)
    return out


def _cut_agents(leg: QueueLeg) -> QueueLeg:
    return dataclasses.replace(
        leg,
        agent=AgentId(leg.agent[:AGENT_KEY_LIMIT]) if leg.agent is not None else None,
        ring_no_answer=[AgentId(a[:AGENT_KEY_LIMIT]) for a in leg.ring_no_answer],
    )


def merge_queue(into: QueueRollup, other: QueueRollup) -> QueueRollup:
    return into.combined(other, other.max_wait_us)


def merge_agents(into: AgentRollup, other: AgentRollup) -> None:
    for name in ("answered", "ring_no_answer", "transfers", "talk_us", "wait_us"):
        mine: dict[str, int] = getattr(into, name)
        for agent, n in getattr(other, name).items():
            mine[agent] = mine.get(agent, 0) + n
    for agent, w in other.max_wait_us.items():
        into.max_wait_us[agent] = max(into.max_wait_us.get(agent, 0), w)


def _queue_rows(cells: Mapping[int, Interval]) -> list[dict[str, Any]]:
    return [
        {
            "bucket": b,
            "queue": q.queue,
            "threshold_us": us(q.threshold),
            "short_abandon_us": us(q.short_abandon),
            **{n: getattr(q, n) for n in QUEUE_SUMS},
        }
        for b, cell in cells.items()
        for q in cell.queues.values()
    ]


def _agent_rows(cells: Mapping[int, Interval]) -> list[dict[str, Any]]:
    rows = []
    for b, cell in cells.items():
        a = cell.agents
        for agent in a.agents():
            rows.append(
                {
                    "bucket": b,
                    "agent": agent,
                    "answered": a.answered.get(agent, 0),
                    "transfers": a.transfers.get(agent, 0),
                    "talk_us": a.talk_us.get(agent, 0),
                    "wait_us": a.wait_us.get(agent, 0),
                    "max_wait_us": a.max_wait_us.get(agent, 0),
                    "ring_no_answer": a.ring_no_answer.get(agent, 0),
                }
            )
    return rows


class RollupRepository(Repository):
    def __init__(self, db: Database) -> None:
        super().__init__(db)
        # the service-level and short-abandon thresholds of each queue the rollups count at (the daemon
        # sets the configured ones, ``[reports]``, with ``use_thresholds``)
        self.threshold: Threshold = lambda _q: DEFAULT_SERVICE_LEVEL_SECONDS
        self.short_abandon: Threshold = lambda _q: 0.0

    def use_thresholds(self, threshold: Threshold, short_abandon: Threshold) -> None:
        self.threshold, self.short_abandon = threshold, short_abandon

    def _fold(self, legs: Iterable[QueueLeg]) -> dict[int, Interval]:
        return fold(legs, self.threshold, self.short_abandon)

    # ------------------------------------------------------------------ maintenance (in a write)
    async def buckets_of_calls(self, conn: AsyncConnection, keys: Sequence[CallKey]) -> set[int]:
        """The intervals the stored legs of these calls are counted in (before they are replaced)."""
        found: set[int] = set()
        leg = legs_t.c
        for part in chunks(list(keys), 400):
            result = await conn.execute(
                select(leg.entered_at).where(
                    tuple_(leg.server, leg.linkedid).in_(list(part)), leg.outcome.is_not(None)
                )
            )
            found.update(bucket_of(float(r[0])) for r in result)
        return found

    async def apply(self, conn: AsyncConnection, replaced: set[int], legs: Sequence[QueueLeg]) -> None:
        """Count newly written ``legs``; ``replaced``: the intervals of legs this write removed, which are
        recomputed from the raw legs (with every interval the new legs touch)."""
        if replaced:
            await self.recompute(conn, replaced | {bucket_of(x.entered_at) for x in legs if x.outcome})
        elif legs:
            await self._increment(conn, self._fold(legs))

    async def _increment(self, conn: AsyncConnection, cells: Mapping[int, Interval]) -> None:
        """Add the folded legs to every tier (an interval's, its hour's and its day's rows)."""
        greatest = func.max if self.db.dialect == "sqlite" else func.greatest
        for unit in TIERS:
            tier = cells if unit == BUCKET else coarsen(cells, unit)
            for table, rows, keys, sums in (
                (QUEUE_TABLES[unit], _queue_rows(tier), ("bucket", "queue"), QUEUE_SUMS),
                (AGENT_TABLES[unit], _agent_rows(tier), ("bucket", "agent"), AGENT_SUMS),
            ):
                if not rows:
                    continue
                stmt = self.db.insert(table).values(rows)
                changes: dict[str, Any] = {
                    n: (
                        greatest(table.c[n], stmt.excluded[n])
                        if n == "max_wait_us"
                        else table.c[n] + stmt.excluded[n]
                    )
                    for n in sums
                }
                for n in ("threshold_us", "short_abandon_us") if "queue" in keys else ():
                    # legs counted at another threshold than the row's: the row is mixed (never read)
                    changes[n] = case((table.c[n] == stmt.excluded[n], table.c[n]), else_=MIXED)
                await conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=changes))

    async def recompute(self, conn: AsyncConnection, buckets: Iterable[int]) -> None:
        """Replace the rows of these intervals by the fold of their raw legs, and their hours and days by
        the sums of the finer rows (in ``conn``'s transaction)."""
        wanted = sorted(set(buckets))
        for b in wanted:
            legs = await self._raw_legs(conn, b, b + BUCKET)
            cells = self._fold(legs)
            await conn.execute(delete(queue_intervals_t).where(queue_intervals_t.c.bucket == b))
            await conn.execute(delete(agent_intervals_t).where(agent_intervals_t.c.bucket == b))
            await self._insert(conn, cells)
        for unit in TIERS[1:]:
            for t in sorted({b - b % unit for b in wanted}):
                await self._derive(conn, unit, t, t + unit)

    async def _derive(self, conn: AsyncConnection, unit: int, lo: int, hi: int) -> None:
        """The rows of tier ``unit`` in ``[lo, hi)`` (aligned to it) again, from the next finer tier."""
        for kind in ("queue", "agent"):
            table = (QUEUE_TABLES if kind == "queue" else AGENT_TABLES)[unit]
            await conn.execute(delete(table).where(table.c.bucket >= lo, table.c.bucket < hi))
            await conn.execute(text(_derive_sql(kind, unit)), {"lo": lo, "hi": hi})

    async def _insert(self, conn: AsyncConnection, cells: Mapping[int, Interval]) -> None:
        # plain executemany of tuples (SQLAlchemy's per-row parameter processing costs more than the
        # database's own work, as for the call records)
        for table, rows in ((queue_intervals_t, _queue_rows(cells)), (agent_intervals_t, _agent_rows(cells))):
            if not rows:
                continue
            columns = list(rows[0])
            marks = ", ".join(
                "?" if self.db.dialect == "sqlite" else f"${i}" for i in range(1, len(columns) + 1)
            )
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
            await conn.exec_driver_sql(sql, [tuple(r[c] for c in columns) for r in rows])

    async def _raw_legs(self, conn: AsyncConnection, start: float, end: float) -> list[QueueLeg]:
        """The finished legs that entered in ``[start, end)``, with what the fold reads."""
        mark = ("?", "?") if self.db.dialect == "sqlite" else ("$1", "$2")
        result = await conn.exec_driver_sql(
            "SELECT queue, entered_at, outcome, agent, ring_no_answer, wait_seconds, talk_seconds"
            f" FROM queue_legs WHERE entered_at >= {mark[0]} AND entered_at < {mark[1]}"
            " AND outcome IS NOT NULL",
            (float(start), float(end)),
        )
        out = []
        row: Any
        for row in result:
            queue, entered, outcome, agent, rna, wait, talk = row
            if isinstance(rna, str):
                rna = json.loads(rna)
            out.append(
                QueueLeg(
                    queue=QueueName(queue),
                    uniqueid=_NO_UNIQUEID,
                    entered_at=float(entered),
                    position=0,
                    outcome=LegOutcome(outcome),
                    agent=AgentId(agent) if agent is not None else None,
                    ring_no_answer=[AgentId(a) for a in rna or ()],
                    wait_seconds=float(wait),
                    talk_seconds=float(talk),
                )
            )
        return out

    # ------------------------------------------------------------------ rebuild
    async def rebuild(
        self, start: float | None = None, end: float | None = None, *, progress: Progress | None = None
    ) -> int:
        """Rebuild the rollups of ``[start, end)`` (whole intervals; default: every record) from the raw
        legs, in SQL (INSERT ... SELECT ... GROUP BY, the figures of the fold to the microsecond), a week
        per transaction, and the hours and days they fall in. Idempotent. Returns how many intervals
        with calls it wrote."""
        leg = legs_t.c
        async with self.db.reader.connect() as conn:
            lo, hi = (await conn.execute(select(func.min(leg.entered_at), func.max(leg.entered_at)))).one()
        first = bucket_of(start if start is not None else (lo if lo is not None else 0.0))
        stop_all = (
            bucket_of(end - 1e-6) + BUCKET
            if end is not None
            else (bucket_of(hi) + BUCKET if hi is not None else first)
        )
        total = max(0, (stop_all - first) // BUCKET)
        done = written = 0
        b = first
        while b < stop_all:
            stop = min(b - b % DAY + REBUILD_CHUNK, stop_all)
            async with self.db.writing() as conn:
                written += await self._rebuild_chunk(conn, b, stop)
            done += (stop - b) // BUCKET
            if progress is not None:
                progress(done, total)
            b = stop
        return written

    async def _rebuild_chunk(self, conn: AsyncConnection, lo: int, hi: int) -> int:
        result = await conn.execute(
            select(legs_t.c.queue)
            .where(legs_t.c.entered_at >= lo, legs_t.c.entered_at < hi, legs_t.c.outcome.is_not(None))
            .distinct()
        )
        queues = sorted(str(r[0]) for r in result)
        for table in (queue_intervals_t, agent_intervals_t):
            await conn.execute(delete(table).where(table.c.bucket >= lo, table.c.bucket < hi))
        params: dict[str, Any] = {"lo": float(lo), "hi": float(hi)}
        if queues:
            for i, q in enumerate(queues):
                t, short = self.threshold(q), self.short_abandon(q)
                check_short_abandon(t, short)
                params.update({f"q{i}": q, f"t{i}": us(t), f"s{i}": us(short)})
            await conn.execute(text(_raw_queue_sql(self.db.dialect, len(queues))), params)
            await conn.execute(
                text(_raw_agent_sql(self.db.dialect)), {"lo": params["lo"], "hi": params["hi"]}
            )
        for unit in TIERS[1:]:
            await self._derive(conn, unit, lo - lo % unit, -(-hi // unit) * unit)
        qi = queue_intervals_t.c
        count = (
            await conn.execute(
                select(func.count(qi.bucket.distinct())).where(qi.bucket >= lo, qi.bucket < hi)
            )
        ).scalar_one()
        return int(count)

    # ------------------------------------------------------------------ reading
    async def queue_totals(
        self, start: float, end: float, *, by: int | None = None
    ) -> dict[tuple[str, int | None], QueueRollup]:
        """Each queue's totals over the legs that entered in ``[start, end)``, by (queue, period start)
        where ``by`` is a period in seconds (a multiple of 900: 3600 for hours), or by (queue, None).

        The whole days, hours and intervals inside the range come from the coarsest tier whose unit
        divides ``by``; the partial intervals at the edges, and any period counted at other thresholds
        than the repository's, from the next finer tier, and at the finest from the raw legs, by the
        same fold.
        """
        if by is not None and (by <= 0 or by % BUCKET):
            raise ValueError(f"a period is a positive multiple of {BUCKET} s, not {by}")
        reader = _QueueReader(self, by or 0)
        inner_lo, inner_hi = _inner(start, end)
        tiers = [u for u in reversed(TIERS) if not by or by % u == 0]
        async with self.db.reader.connect() as conn:
            for lo, hi, _ in _edges(start, end, inner_lo, inner_hi):
                await reader.raw(conn, lo, hi, None)
            await reader.read(conn, tiers, inner_lo, inner_hi, None)
        # keys are (queue, period start), or (queue, None) with one key per queue: plain tuple order
        return dict(sorted(reader.out.items(), key=itemgetter(0)))

    async def agent_totals(self, start: float, end: float) -> AgentRollup:
        """Every agent's totals over the legs that entered in ``[start, end)``."""
        inner_lo, inner_hi = _inner(start, end)
        total = AgentRollup()
        async with self.db.reader.connect() as conn:
            for lo, hi, _ in _edges(start, end, inner_lo, inner_hi):
                for cell in self._fold(await self._raw_legs(conn, lo, hi)).values():
                    merge_agents(total, cell.agents)
            await self._agents(conn, list(reversed(TIERS)), inner_lo, inner_hi, total)
        return total

    async def _agents(
        self, conn: AsyncConnection, tiers: list[int], lo: int, hi: int, total: AgentRollup
    ) -> None:
        if lo >= hi:
            return
        unit, finer = tiers[0], tiers[1:]
        a, b = -(-lo // unit) * unit, hi - hi % unit
        if a >= b:
            await self._agents(conn, finer, lo, hi, total)
            return
        sql = _AGENT_READ[self.db.dialect].format(table=AGENT_TABLES[unit].name)
        row: Any
        for row in await _fetch(conn, sql, (a, b)):
            agent = str(row[0])
            for n, value in zip(AGENT_SUMS, row[1:], strict=True):
                v = int(value)
                d: dict[str, int] = getattr(total, n)
                if n == "max_wait_us":
                    if v or agent in d:
                        d[agent] = max(d.get(agent, 0), v)
                elif v or agent in d or n in ("answered", "ring_no_answer"):
                    d[agent] = d.get(agent, 0) + v
        await self._agents(conn, finer, lo, a, total)
        await self._agents(conn, finer, b, hi, total)


class _QueueReader:
    """One ``queue_totals`` read: the tiers from the coarsest down, into ``out``."""

    def __init__(self, repo: RollupRepository, period: int) -> None:
        self.repo, self.period = repo, period
        self.out: dict[tuple[str, int | None], QueueRollup] = {}
        self.sql = _QUEUE_READ[repo.db.dialect]

    def _put(self, k: tuple[str, int | None], r: QueueRollup) -> None:
        had = self.out.get(k)
        self.out[k] = r if had is None else merge_queue(had, r)

    async def raw(self, conn: AsyncConnection, lo: float, hi: float, only: str | None) -> None:
        period = self.period
        for b, cell in self.repo._fold(await self.repo._raw_legs(conn, lo, hi)).items():
            for q, r in cell.queues.items():
                if only is None or q == only:
                    self._put((q, b - b % period if period else None), r)

    async def read(self, conn: AsyncConnection, tiers: list[int], lo: int, hi: int, only: str | None) -> None:
        """``[lo, hi)``, aligned to 900 s, from ``tiers`` (coarsest first), finally the raw legs."""
        if lo >= hi:
            return
        if not tiers:
            await self.raw(conn, float(lo), float(hi), only)
            return
        unit, finer, period = tiers[0], tiers[1:], self.period
        a, b = -(-lo // unit) * unit, hi - hi % unit
        if a >= b:
            await self.read(conn, finer, lo, hi, only)
            return
        grouped = period != unit
        sql = self.sql[(grouped, period == 0, only is not None)].format(
            table=QUEUE_TABLES[unit].name, period=period
        )
        args: tuple[Any, ...] = (a, b) if only is None else (a, b, only)
        want, short = self.repo.threshold, self.repo.short_abandon
        known: dict[str, tuple[int, int, float, float]] = {}
        mixed: list[tuple[str, int]] = []
        row: Any
        for row in await _fetch(conn, sql, args):
            q = row[0]
            limits = known.get(q)
            if limits is None:
                t, s = want(q), short(q)
                limits = known[q] = (us(t), us(s), t, s)
            if row[2] != limits[0] or row[3] != limits[1]:
                mixed.append((q, row[1]))
                continue
            r = QueueRollup(q, limits[2], *row[4:_SHORT_AT], limits[3], *row[_SHORT_AT:])  # type: ignore[call-arg]
            k = (q, row[1] - row[1] % period if period else None)
            self._put(k, r)
        for q, first in mixed:  # counted at other thresholds: this period from the finer tiers
            p0 = first - first % period if period else a
            p1 = p0 + period if period else b
            await self.read(conn, finer, max(a, p0), min(b, p1), q)
        await self.read(conn, finer, lo, a, only)
        await self.read(conn, finer, b, hi, only)


async def _fetch(conn: AsyncConnection, sql: str, args: tuple[Any, ...]) -> Sequence[Any]:
    """Every row of ``sql`` as the driver's own tuples (sqlite3 rows, asyncpg records): a year by hour is
    tens of thousands of rows, and SQLAlchemy's result rows cost more than building the rollups."""
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if conn.dialect.name == "sqlite":
        rows: Sequence[Any] = await driver.execute_fetchall(sql, args)
        return rows
    rows = await driver.fetch(sql, *args)
    return rows


def coarsen(cells: Mapping[int, Interval], unit: int) -> dict[int, Interval]:
    """The intervals' totals summed by ``unit`` (an hour, a day): what its tier's rows add."""
    out: dict[int, Interval] = {}
    for b, cell in cells.items():
        into = out.get(k := b - b % unit)
        if into is None:
            into = out[k] = Interval()
        for q, r in cell.queues.items():
            into.queues[q] = merge_queue(into.queues[q], r) if q in into.queues else r
        merge_agents(into.agents, cell.agents)
    return out


def _inner(start: float, end: float) -> tuple[int, int]:
    """The whole intervals inside ``[start, end)``."""
    lo = bucket_of(start)
    if lo < start:
        lo += BUCKET
    return lo, max(lo, bucket_of(end))


def _edges(start: float, end: float, lo: int, hi: int) -> list[tuple[float, float, str | None]]:
    """The partial intervals of ``[start, end)`` outside ``[lo, hi)``, read from the raw legs."""
    if lo >= hi:
        return [(start, end, None)] if start < end else []
    out: list[tuple[float, float, str | None]] = []
    if start < lo:
        out.append((start, float(lo), None))
    if hi < end:
        out.append((float(hi), end, None))
    return out


# ---------------------------------------------------------------------- SQL
# The sums of one tier's rows, read as plain tuples (no ORM, no per-row type processing): (queue, first
# bucket, threshold_us, short_abandon_us, *QUEUE_SUMS); the thresholds are MIXED where the rows differ.


def _queue_read_sql(dialect: str, grouped: bool, whole: bool, only: bool) -> str:
    def mark(i: int) -> str:
        return "?" if dialect == "sqlite" else f"${i}"

    where = f"bucket >= {mark(1)} AND bucket < {mark(2)}" + (f" AND queue = {mark(3)}" if only else "")
    if not grouped:
        cols = ", ".join(["queue", "bucket", "threshold_us", "short_abandon_us", *QUEUE_SUMS])
        return f"SELECT {cols} FROM {{table}} WHERE {where}"
    heads = [f"CASE WHEN min({c}) = max({c}) THEN min({c}) ELSE {MIXED} END" for c in _THRESHOLDS]
    sums = [f"max({n})" if n == "max_wait_us" else f"CAST(sum({n}) AS BIGINT)" for n in QUEUE_SUMS]
    group = "queue" if whole else "queue, bucket / {period}"
    return (
        f"SELECT queue, min(bucket), {', '.join([*heads, *sums])} FROM {{table}} WHERE {where}"
        f" GROUP BY {group}"
    )


_BOTH = (False, True)
_QUEUE_READ = {
    d: {
        (g, w, o): _queue_read_sql(d, g, w, o)
        for g in (False, True)
        for w in (False, True)
        for o in (False, True)
    }
    for d in ("sqlite", "postgresql")
}
_AGENT_READ = {
    d: "SELECT agent, "
    + ", ".join(f"max({n})" if n == "max_wait_us" else f"CAST(sum({n}) AS BIGINT)" for n in AGENT_SUMS)
    + " FROM {table} WHERE bucket >= "
    + ("? AND bucket < ?" if d == "sqlite" else "$1 AND bucket < $2")
    + " GROUP BY agent"
    for d in ("sqlite", "postgresql")
}


def _derive_sql(kind: str, unit: int) -> str:
    """INSERT the rows of tier ``unit`` in ``[:lo, :hi)`` as the sums of the next finer tier's."""
    tables = QUEUE_TABLES if kind == "queue" else AGENT_TABLES
    finer = tables[TIERS[TIERS.index(unit) - 1]].name
    b = f"(bucket - ((bucket % {unit}) + {unit}) % {unit})"
    sums = QUEUE_SUMS if kind == "queue" else AGENT_SUMS
    heads = (
        [f"CASE WHEN min({c}) = max({c}) THEN min({c}) ELSE {MIXED} END" for c in _THRESHOLDS]
        if kind == "queue"
        else []
    )
    names = ["bucket", kind, *(_THRESHOLDS if kind == "queue" else ()), *sums]
    values = [f"max({n})" if n == "max_wait_us" else f"sum({n})" for n in sums]
    return (
        f"INSERT INTO {tables[unit].name} ({', '.join(names)}) SELECT {b}, {kind}, "
        f"{', '.join([*heads, *values])} FROM {finer}"
        f" WHERE bucket >= :lo AND bucket < :hi GROUP BY {b}, {kind}"
    )


def _us_sql(dialect: str, column: str) -> str:
    """``us(column)`` in SQL: seconds times 10^6 rounded half to even, as Python's ``round``."""
    if dialect == "postgresql":  # float8 to bigint rounds half to even (rint)
        return f"CAST({column} * CAST(1000000 AS DOUBLE PRECISION) AS BIGINT)"
    v = f"({column} * 1000000.0)"
    floor = f"(CAST({v} AS INTEGER) - ({v} < CAST({v} AS INTEGER)))"
    return (
        f"({floor} + CASE WHEN {v} - {floor} > 0.5 THEN 1 WHEN {v} - {floor} < 0.5 THEN 0"
        f" ELSE abs({floor} % 2) END)"
    )


def _legs_sql(dialect: str) -> str:
    """The finished legs of ``[:lo, :hi)`` with their interval and their waits and talk in microseconds."""
    if dialect == "postgresql":
        bucket = f"CAST(floor(entered_at / CAST({BUCKET} AS DOUBLE PRECISION)) AS BIGINT) * {BUCKET}"
        rna = "CASE WHEN json_typeof(ring_no_answer) = 'array' THEN ring_no_answer END"
    else:
        v = f"(entered_at / {BUCKET}.0)"
        bucket = f"(CAST({v} AS INTEGER) - ({v} < CAST({v} AS INTEGER))) * {BUCKET}"
        rna = "CASE WHEN json_type(ring_no_answer) = 'array' THEN ring_no_answer END"
    return (
        f"SELECT {bucket} AS b, queue, outcome, agent, {rna} AS rna, {_us_sql(dialect, 'wait_seconds')} AS w,"
        f" {_us_sql(dialect, 'talk_seconds')} AS tk FROM queue_legs"
        " WHERE entered_at >= :lo AND entered_at < :hi AND outcome IS NOT NULL"
    )


def _raw_queue_sql(dialect: str, queues: int) -> str:
    """INSERT the 15-minute queue rows of ``[:lo, :hi)`` from the raw legs (``:qN``, ``:tN``, ``:sN``: each
    queue's name and thresholds in microseconds): QueueRollup.add as one GROUP BY."""
    ans = "l.outcome IN ('answered', 'transferred')"
    aban = "l.outcome = 'abandoned'"
    unans = "l.outcome IN ('abandoned', 'timeout', 'exit-empty')"
    length = "json_array_length(l.rna)"

    def n(cond: str) -> str:
        return f"sum(CASE WHEN {cond} THEN 1 ELSE 0 END)"

    def total(cond: str, value: str) -> str:
        return f"sum(CASE WHEN {cond} THEN {value} ELSE 0 END)"

    values = {
        "offered": "count(*)",
        "answered": n(ans),
        "abandoned": n(aban),
        "timed_out": n("l.outcome = 'timeout'"),
        "exited_empty": n("l.outcome = 'exit-empty'"),
        "exited_with_key": n("l.outcome = 'exit-with-key'"),
        "transferred": n("l.outcome = 'transferred'"),
        "answered_within": n(f"{ans} AND l.w <= th.t"),
        "abandoned_within": n(f"{aban} AND l.w <= th.t"),
        "wait_us": "sum(l.w)",
        "wait_answered_us": total(ans, "l.w"),
        "wait_abandoned_us": total(aban, "l.w"),
        "max_wait_us": "max(CASE WHEN l.w > 0 THEN l.w ELSE 0 END)",
        "talk_us": total(ans, "l.tk"),
        "ring_no_answer": f"sum(coalesce({length}, 0))",
        "short_abandoned": n(f"{aban} AND l.w < th.s"),
        "unanswered": n(unans),
        "unanswered_within": n(f"{unans} AND l.w <= th.t"),
    }
    assert tuple(values) == QUEUE_SUMS
    rows = ", ".join(
        f"(CAST(:q{i} AS VARCHAR(64)), CAST(:t{i} AS BIGINT), CAST(:s{i} AS BIGINT))" for i in range(queues)
    )
    return (
        f"WITH th(queue, t, s) AS (VALUES {rows}), l AS MATERIALIZED ({_legs_sql(dialect)})"
        " INSERT INTO rollup_queue_intervals"
        f" (bucket, queue, threshold_us, short_abandon_us, {', '.join(QUEUE_SUMS)})"
        f" SELECT l.b, l.queue, th.t, th.s, {', '.join(values.values())}"
        " FROM l JOIN th ON th.queue = l.queue GROUP BY l.b, l.queue, th.t, th.s"
    )


def _raw_agent_sql(dialect: str) -> str:
    """INSERT the 15-minute agent rows of ``[:lo, :hi)`` from the raw legs: AgentRollup.add as SQL (the
    answered legs by their agent, and one ring for each name in a leg's ``ring_no_answer``)."""
    cut = AGENT_KEY_LIMIT
    each = "json_each(l.rna) AS e" if dialect == "sqlite" else "json_array_elements_text(l.rna) AS e(value)"
    return (
        f"WITH l AS MATERIALIZED ({_legs_sql(dialect)}) INSERT INTO rollup_agent_intervals"
        f" (bucket, agent, {', '.join(AGENT_SUMS)})"
        " SELECT b, a, sum(n), sum(tr), sum(tk), sum(w), max(mw), sum(r) FROM ("
        f"SELECT l.b AS b, substr(l.agent, 1, {cut}) AS a, 1 AS n,"
        " CASE WHEN l.outcome = 'transferred' THEN 1 ELSE 0 END AS tr, l.tk AS tk, l.w AS w,"
        " CASE WHEN l.w > 0 THEN l.w ELSE 0 END AS mw, 0 AS r"
        " FROM l WHERE l.agent IS NOT NULL AND l.outcome IN ('answered', 'transferred')"
        f" UNION ALL SELECT l.b, substr(CAST(e.value AS TEXT), 1, {cut}), 0, 0, 0, 0, 0, 1 FROM l, {each}"
        ") AS x GROUP BY b, a"
    )
