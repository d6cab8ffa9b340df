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
from typing import Any

from sqlalchemy import BigInteger, cast, delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from cti.core.ids import AgentId, QueueName, UniqueId
from cti.core.journey import LegOutcome, QueueLeg
from cti.reports.metrics import DEFAULT_SERVICE_LEVEL_SECONDS, AgentRollup, QueueRollup, us
from cti.store.callrecords import LEG_PARAM_COLUMNS, CallKey
from cti.store.database import (
    Database,
    Params,
    Repository,
    agent_intervals_t,
    chunks,
    legs_t,
    queue_intervals_t,
)

BUCKET = 900  # seconds in one rollup interval
AGENT_KEY_LIMIT = 100  # the agent column's length: longer names are cut, in every path alike
QUEUE_SUMS = tuple(
    f.name for f in fields(QueueRollup) if f.name not in ("queue", "threshold", "short_abandon")
)
_NO_UNIQUEID = UniqueId("")  # the fold never reads a leg's channel
_SHORT_AT = 6 + QUEUE_SUMS.index("short_abandoned")  # where short_abandon goes among the selected columns
AGENT_SUMS = ("answered", "transfers", "talk_us", "wait_us", "max_wait_us", "ring_no_answer")
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
        greatest = func.max if self.db.dialect == "sqlite" else func.greatest
        for table, rows, keys, sums in (
            (queue_intervals_t, _queue_rows(cells), ("bucket", "queue"), QUEUE_SUMS),
            (agent_intervals_t, _agent_rows(cells), ("bucket", "agent"), AGENT_SUMS),
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
            await conn.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=changes))

    async def recompute(self, conn: AsyncConnection, buckets: Iterable[int]) -> None:
        """Replace the rows of these intervals by the fold of their raw legs (in ``conn``'s transaction)."""
        for b in sorted(set(buckets)):
            legs = await self._raw_legs(conn, b, b + BUCKET)
            cells = self._fold(legs)
            await conn.execute(delete(queue_intervals_t).where(queue_intervals_t.c.bucket == b))
            await conn.execute(delete(agent_intervals_t).where(agent_intervals_t.c.bucket == b))
            await self._insert(conn, cells)

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
        legs, a day of intervals per transaction. Idempotent. Returns how many intervals it wrote."""
        leg = legs_t.c
        async with self.db.reader.connect() as conn:
            lo, hi = (await conn.execute(select(func.min(leg.entered_at), func.max(leg.entered_at)))).one()
        first = bucket_of(start if start is not None else (lo if lo is not None else 0.0))
        last = (
            bucket_of(end - 1e-6)
            if end is not None
            else (bucket_of(hi) if hi is not None else first - BUCKET)
        )
        total = max(0, (last - first) // BUCKET + 1)
        done = written = 0
        day = 96 * BUCKET
        b = first
        while b <= last:
            stop = min(b + day, last + BUCKET)
            async with self.db.writing() as conn:
                legs = await self._raw_legs(conn, b, stop)
                cells = self._fold(legs)
                qi, ai = queue_intervals_t.c, agent_intervals_t.c
                await conn.execute(delete(queue_intervals_t).where(qi.bucket >= b, qi.bucket < stop))
                await conn.execute(delete(agent_intervals_t).where(ai.bucket >= b, ai.bucket < stop))
                await self._insert(conn, cells)
            written += len(cells)
            done += (stop - b) // BUCKET
            if progress is not None:
                progress(done, total)
            b = stop
        return written

    # ------------------------------------------------------------------ reading
    async def queue_totals(
        self, start: float, end: float, *, by: int | None = None
    ) -> dict[tuple[str, int | None], QueueRollup]:
        """Each queue's totals over the legs that entered in ``[start, end)``, by (queue, period start)
        where ``by`` is a period in seconds (a multiple of 900: 3600 for hours), or by (queue, None).

        Whole intervals come from the rollups (one GROUP BY); the partial intervals at the edges, and any
        interval counted at other thresholds than the repository's, from the raw legs by the same fold.
        """
        if by is not None and (by <= 0 or by % BUCKET):
            raise ValueError(f"a period is a positive multiple of {BUCKET} s, not {by}")
        want, short = self.threshold, self.short_abandon
        inner_lo, inner_hi = _inner(start, end)
        out: dict[tuple[str, int | None], QueueRollup] = {}
        raw_ranges = _edges(start, end, inner_lo, inner_hi)
        period = by or 0

        def key(q: str, b: int) -> tuple[str, int | None]:
            return (q, b // period * period if period else None)

        async with self.db.reader.connect() as conn:
            if inner_lo < inner_hi:
                qi = queue_intervals_t.c
                group = (qi.bucket // period) if period else None
                cols = [
                    qi.queue,
                    func.min(qi.bucket),
                    func.min(qi.threshold_us),
                    func.max(qi.threshold_us),
                    func.min(qi.short_abandon_us),
                    func.max(qi.short_abandon_us),
                    *[
                        (func.max(qi[n]) if n == "max_wait_us" else cast(func.sum(qi[n]), BigInteger))
                        for n in QUEUE_SUMS
                    ],
                ]
                stmt = select(*cols).where(qi.bucket >= inner_lo, qi.bucket < inner_hi)
                stmt = stmt.group_by(qi.queue, group) if group is not None else stmt.group_by(qi.queue)
                mixed: list[tuple[str, int]] = []
                for row in await conn.execute(stmt):
                    q, b = str(row[0]), int(row[1])
                    t, s = us(want(q)), us(short(q))
                    if (int(row[2]), int(row[3]), int(row[4]), int(row[5])) != (t, t, s, s):
                        mixed.append((q, b))
                        continue
                    # positional, in QueueRollup's field order (the sums are BIGINT in SQL)
                    out[key(q, b)] = QueueRollup(q, want(q), *row[6:_SHORT_AT], short(q), *row[_SHORT_AT:])  # type: ignore[call-arg]
                if mixed:  # counted at another threshold: these periods from the raw legs
                    for q, b in mixed:
                        p0 = b // period * period if period else inner_lo
                        p1 = p0 + period if period else inner_hi
                        raw_ranges.append((float(max(inner_lo, p0)), float(min(inner_hi, p1)), q))
            for lo, hi, only in raw_ranges:
                for b, cell in self._fold(await self._raw_legs(conn, lo, hi)).items():
                    for q, r in cell.queues.items():
                        if only is not None and q != only:
                            continue
                        k = key(q, b) if period else (q, None)
                        out[k] = merge_queue(out[k], r) if k in out else r
        return dict(sorted(out.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)))

    async def agent_totals(self, start: float, end: float) -> AgentRollup:
        """Every agent's totals over the legs that entered in ``[start, end)``."""
        inner_lo, inner_hi = _inner(start, end)
        total = AgentRollup()
        async with self.db.reader.connect() as conn:
            if inner_lo < inner_hi:
                ai = agent_intervals_t.c
                stmt = (
                    select(
                        ai.agent,
                        *[(func.max(ai[n]) if n == "max_wait_us" else func.sum(ai[n])) for n in AGENT_SUMS],
                    )
                    .where(ai.bucket >= inner_lo, ai.bucket < inner_hi)
                    .group_by(ai.agent)
                )
                for row in await conn.execute(stmt):
                    agent = str(row[0])
                    for n, v in zip(AGENT_SUMS, row[1:], strict=True):
                        if int(v) or n in ("answered", "ring_no_answer"):
                            getattr(total, n)[agent] = int(v)
            for lo, hi, _ in _edges(start, end, inner_lo, inner_hi):
                for cell in self._fold(await self._raw_legs(conn, lo, hi)).values():
                    merge_agents(total, cell.agents)
        return total


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
