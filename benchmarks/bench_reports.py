"""Reports benchmark: a month's queue-by-hour report from the rollup tiers, against a same-run
GROUP BY over the raw call rows, on a store of 10 million calls (SQLite and PostgreSQL).

The store is built here on every run (a fresh machine has nothing): the schema by ``Store.open``, a year
of seeded calls (``interactions``) and their queue legs (10 queues, 60 agents, answered / transferred,
with a second leg / abandoned / timed out, waits to the microsecond, talk times; ``--calls``, default
10,000,000) generated inside the database (a recursive CTE on SQLite, ``generate_series`` on
PostgreSQL), and the rollups by ``cti store rollups-rebuild``'s own code (``RollupRepository.rebuild``),
whose time is reported too. The figures read are the report's: per queue and hour, offered, answered,
abandoned, answered within the threshold, ASA, average talk and the longest wait.

Output: a ``details:`` line with every figure, then, last, one JSON object keyed by database
(``sqlite``, ``postgresql``), each with exactly ``rows`` (calls in the store), ``rollup_ms`` (the month
from the rollups, median of the repeats), ``raw_ms`` (the same month by GROUP BY over the raw rows,
median) and ``any_range_ms`` (the slowest of a set of random ranges, any length, not aligned to
intervals, from the rollups); the details add ``raw_over_rollup`` (the speed-up), ``build_s`` and
``rebuild_s``. Goals (issue #17): the month <= 100 ms and any range
<= 1 s on both.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_store import drop_pg_database, pg_database, remove_sqlite
from cti.store import Store

QUEUES = 10
AGENTS = 60
YEAR_DAYS = 365
START = dt.datetime(2025, 1, 1).timestamp()  # local midnight

# Each call (1..:rows), its figures derived from i: the day (spread over the year), the time of day
# (07:00 to 21:00, busiest around 14:00), a queue (uneven shares), the outcome (80 % answered,
# 5 % answered then transferred, 12 % abandoned, 3 % timed out), the wait (to the microsecond), the talk
# time and the agent. A transferred call has a second leg in another queue, answered there.
_CALL = """
SELECT i, e, w, tk, k,
       CASE WHEN k < 85 THEN 'agent' || ((i / 7) % {agents}) END AS agent,
       CASE WHEN k < 80 THEN 'answered' WHEN k < 85 THEN 'transferred'
            WHEN k < 97 THEN 'abandoned' ELSE 'timeout' END AS outcome,
       'q' || ((i % 13) % {queues}) AS queue
FROM (SELECT i, {start} + (i % {days}) * 86400 + 25200
                + ((i * 2654435761) % 25200) + ((i * 40503) % 25200) / 1.0 AS e,
             ((i * 40503) % 90000007) / 1000000.0 AS w,
             CASE WHEN i % 100 < 85 THEN 30 + ((i * 7919) % 570000) / 1000.0 ELSE 0 END AS tk,
             i % 100 AS k
      FROM {series}) AS g
"""

_CALLS_SQL = """
INSERT INTO interactions (linkedid, direction, caller_number, caller_name, did, queue, agent, agents,
                          started_at, answered_at, ended_at, outcome, transfers, hold_seconds, server)
SELECT {text_i}, 'inbound', '+1212555' || (i % 10000), '', '+18005550100', queue, agent,
       (CASE WHEN agent IS NULL THEN '[]' ELSE '["' || agent || '"]' END){js},
       e, CASE WHEN agent IS NOT NULL THEN e + w END, e + w + tk,
       CASE WHEN agent IS NOT NULL THEN 'answered' ELSE 'abandoned' END,
       CASE WHEN outcome = 'transferred' THEN 1 ELSE 0 END, 0, 'pbx1'
FROM ({call}) AS c
"""

_LEGS_SQL = """
INSERT INTO queue_legs (server, linkedid, seq, queue, uniqueid, entered_at, position, left_at, outcome,
                        agent, ring_no_answer, wait_seconds, talk_seconds, answered_at, ended_at, repaired)
SELECT 'pbx1', {text_i}, 0, queue, 'u' || i, e, 1 + (i % 7), e + w, outcome, agent,
       (CASE WHEN i % 11 = 0 THEN '["agent' || ((i + 1) % {agents}) || '"]' ELSE '[]' END){js},
       w, tk, CASE WHEN agent IS NOT NULL THEN e + w END, e + w + tk, {false}
FROM ({call}) AS c
UNION ALL
SELECT 'pbx1', {text_i}, 1, 'q' || ((i + 3) % {queues}), 'u' || i, e + w + tk, 1, e + w + tk + 4.5,
       'answered', 'agent' || ((i + 11) % {agents}), '[]'{js}, 4.5, 120, e + w + tk + 4.5,
       e + w + tk + 124.5, {false}
FROM ({call}) AS c WHERE outcome = 'transferred'
"""

# the report's figures per queue and hour, straight from the raw rows (the baseline)
_RAW = """
SELECT queue, CAST(floor(entered_at / 3600) AS BIGINT) AS hour, count(*) AS offered,
       sum(CASE WHEN outcome IN ('answered', 'transferred') THEN 1 ELSE 0 END) AS answered,
       sum(CASE WHEN outcome = 'abandoned' THEN 1 ELSE 0 END) AS abandoned,
       sum(CASE WHEN outcome IN ('answered', 'transferred') AND wait_seconds <= 20 THEN 1 ELSE 0 END),
       avg(CASE WHEN outcome IN ('answered', 'transferred') THEN wait_seconds END),
       avg(CASE WHEN outcome IN ('answered', 'transferred') THEN talk_seconds END),
       max(wait_seconds)
FROM queue_legs WHERE entered_at >= {lo} AND entered_at < {hi} AND outcome IS NOT NULL
GROUP BY queue, CAST(floor(entered_at / 3600) AS BIGINT)
"""


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks reports")
    p.add_argument("--quick", action="store_true", help="200,000 calls (smoke run)")
    p.add_argument(
        "--calls",
        "--rows",
        dest="rows",
        type=int,
        help="calls in the store (default 10,000,000; --quick 200,000)",
    )
    p.add_argument("--backend", default="sqlite,postgresql")
    p.add_argument("--repeat", type=int)
    p.add_argument("--ranges", type=int, help="random ranges for any_range_ms (default 20)")
    p.add_argument("--seed", type=int, default=17)
    args = p.parse_args(argv)
    quick = args.quick
    args.rows = args.rows or (200_000 if quick else 10_000_000)
    args.repeat = args.repeat or (3 if quick else 5)
    args.ranges = args.ranges or (8 if quick else 20)
    return args


def fill_sql(dialect: str, rows: int) -> list[str]:
    """The statements that load ``rows`` calls and their legs (generated inside the database)."""
    pg = dialect == "postgresql"
    series = (
        f"generate_series(1, {rows}) AS i"
        if pg
        else f"(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})"
        " SELECT i FROM n)"
    )
    call = _CALL.format(agents=AGENTS, queues=QUEUES, start=repr(START), days=YEAR_DAYS, series=series)
    if pg:
        call = call.replace("(i * ", "(i::bigint * ")
    marks = {
        "text_i": "i::text" if pg else "CAST(i AS TEXT)",
        "js": "::json" if pg else "",
        "false": "false" if pg else "0",
    }

    def sql(template: str) -> str:
        return template.format(call=call, agents=AGENTS, queues=QUEUES, **marks)

    return [sql(_CALLS_SQL), sql(_LEGS_SQL)]


async def fill(store: Store, rows: int) -> None:
    statements = fill_sql(store.dialect, rows)
    if store.dialect == "sqlite":  # its own connection: no foreign keys, no fsync for the bulk load
        path = str(store.engine.url.database)

        def load() -> None:
            db = sqlite3.connect(path)
            try:
                db.execute("PRAGMA synchronous=OFF")
                db.execute("PRAGMA cache_size=-1048576")
                db.execute("PRAGMA temp_store=MEMORY")
                for statement in statements:
                    db.execute(statement)
                db.commit()
                db.execute("ANALYZE")
            finally:
                db.close()

        await asyncio.to_thread(load)
        return
    async with store.db.writing() as conn:
        await conn.exec_driver_sql("SET session_replication_role = replica")  # bulk load: no FK trigger
        for statement in statements:
            await conn.exec_driver_sql(statement)
        await conn.exec_driver_sql("SET session_replication_role = DEFAULT")
    async with store.db.reader.connect() as conn:
        await conn.exec_driver_sql("ANALYZE")


async def timed(fn: Any) -> float:
    t0 = time.perf_counter()
    await fn()
    return (time.perf_counter() - t0) * 1000


async def measure(store: Store, args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    await fill(store, args.rows)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    await store.rollups.rebuild()
    rebuild_s = time.perf_counter() - t0
    month_lo = dt.datetime(2025, 6, 1).timestamp()
    month_hi = dt.datetime(2025, 7, 1).timestamp()

    async def from_rollups(lo: float = month_lo, hi: float = month_hi) -> None:
        await store.rollups.queue_totals(lo, hi, by=3600)

    async def raw() -> None:
        async with store.db.reader.connect() as conn:
            (await conn.exec_driver_sql(_RAW.format(lo=month_lo, hi=month_hi))).all()

    totals = await store.rollups.queue_totals(month_lo, month_hi, by=3600)
    async with store.db.reader.connect() as conn:
        raw_rows: list[Any] = list((await conn.exec_driver_sql(_RAW.format(lo=month_lo, hi=month_hi))).all())
    # the two agree (the benchmark measures the same report two ways)
    assert sum(r.offered for r in totals.values()) == sum(int(r[2]) for r in raw_rows)
    assert sum(r.answered_within for r in totals.values()) == sum(int(r[5]) for r in raw_rows)
    rollup_ms = statistics.median([await timed(from_rollups) for _ in range(args.repeat)])
    raw_ms = statistics.median([await timed(raw) for _ in range(args.repeat)])
    rng = random.Random(args.seed)
    worst = 0.0
    end_of_year = START + YEAR_DAYS * 86400
    # the whole year by hour, not aligned to intervals, then random ranges of any length
    ranges = [(START + 123.25, end_of_year - 77.5)]
    for _ in range(args.ranges):
        length = rng.choice([3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0, 90 * 86400.0, 365 * 86400.0])
        length *= rng.uniform(0.5, 1.0)
        lo = rng.uniform(START, max(START, end_of_year - length))
        ranges.append((lo, lo + length))
    for lo, hi in ranges:

        async def one(lo: float = lo, hi: float = hi) -> None:
            await from_rollups(lo, hi)

        worst = max(worst, await timed(one))
    return {
        "rows": args.rows,
        "rollup_ms": round(rollup_ms, 1),
        "raw_ms": round(raw_ms, 1),
        "any_range_ms": round(worst, 1),
        "raw_over_rollup": round(raw_ms / rollup_ms, 1) if rollup_ms else None,
        "build_s": round(build_s, 1),
        "rebuild_s": round(rebuild_s, 1),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for backend in [b.strip() for b in args.backend.split(",") if b.strip()]:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory(prefix="cti-bench-reports-") as tmp:
                path = Path(tmp) / "reports.db"
                store = await Store.open(f"sqlite+aiosqlite:///{path}")
                try:
                    out["sqlite"] = await measure(store, args)
                finally:
                    await store.close()
                    remove_sqlite(path)
        elif backend == "postgresql":
            name = f"cti_bench_reports_{time.time_ns()}"
            store = await Store.open(await pg_database(name, fresh=True))
            try:
                out["postgresql"] = await measure(store, args)
            finally:
                await store.close()
                await drop_pg_database(name)
        else:
            raise SystemExit(f"unknown backend {backend!r}: sqlite or postgresql")
        print(f"{backend}: {json.dumps(out[backend])}", file=sys.stderr, flush=True)
    return out


def main(argv: list[str]) -> int:
    args = parse(argv)
    out = asyncio.run(run(args))
    print("details: " + json.dumps(out), flush=True)  # with the speed-up and the build and rebuild times
    keys = ("rows", "rollup_ms", "raw_ms", "any_range_ms")
    print(json.dumps({db: {k: f[k] for k in keys} for db, f in out.items()}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
