"""Store benchmark: caller lookup latency on a big database, and the bulk write rate of call records.

    python -m benchmarks store [--quick] [--backend sqlite,postgres] [--customers N] [--interactions N]

Defaults are the issue's sizes: 1,000,000 customers and 10,000,000 interactions, on SQLite and on
PostgreSQL. Loading is not the measurement: rows are generated and bulk-loaded (sqlite3 executemany
with the secondary indexes dropped and rebuilt; asyncpg ``copy_records_to_table`` on PostgreSQL).

Before measuring, the database is read once into the OS cache (the SQLite file; ``pg_prewarm`` on
PostgreSQL), as on a server that has been running: this machine's kernel pages out file pages untouched
for a minute, and a cold start would measure its virtual disk instead of the store.

Measured, through the real async ``Store`` API:

- ``lookup``: ``Store.lookup_caller(number, history=5)`` (the full screen-pop payload: customer card,
  phones, do-not-call, open complaints and tickets, the last five interactions) for random customers,
  dialled in mixed formats; p50/p99/mean in milliseconds. Goal: p99 < 5 ms.
- ``baseline_pk_select``: a primary-key point select through the same engine, in the same run; the
  lookup is reported as a ratio of it, because these machines are shared and noisy.
- ``write``: ``Store.record_journeys`` in batches of ``--batch`` journeys (one interaction and one queue
  leg each, so rows = 2 x journeys) as the daemon's writer calls it: each journey comes with the
  customer's number in E.164, normalized when the call ended (the screen pop had parsed that number
  while the phone rang; the writer's call is a cache hit). That normalization is not in the timed part;
  it is measured on its own, cold, as ``normalize_cold_us_per_number``. Rows per second. Goal: at least
  20,000 rows/s on SQLite. Its baseline is a raw driver executemany of the same number of rows into an
  unindexed table, in the same run. Repeated ``--repeat`` times (default 3) on the loaded store, each run
  with its own baseline: the median run is reported, with every run's rate and ratio.
- ``write_through_the_daemons_writer``: the same through ``cti.records.JourneyWriter`` as the daemon
  runs it: ``CallEnded`` events in, the number normalized at call end (a cache hit: the pop normalized
  it while the phone rang, untimed), batches written; rows per second of the whole.
- ``write_parsing_numbers_cold``: the same journeys without their normalized numbers and with the
  normalization cache emptied first, so that every number goes through libphonenumber inside the write
  (the worst case: records of callers the daemon never popped, such as an import of old calls).
- ``write_into_empty_store``: ``write`` on a fresh, empty store (small indexes: the best case).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Index, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.schema import CreateIndex

from cti.core.events import CallEnded
from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import CallJourney, Direction, JourneyOutcome, LegOutcome, QueueLeg
from cti.records import JourneyWriter
from cti.store import Store, phones
from cti.store.callrecords import CallKey, call_key
from cti.store.models import Base

T0 = 1_600_000_000.0
PG_DIALECT = make_url("postgresql+asyncpg://").get_dialect()()  # DDL only: never connects
PG_ADMIN = os.environ.get("CTI_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰")
FIRST = ("James", "Mary", "John", "Linda", "David", "Susan", "Mark", "Emily", "Zoë", "José")
LAST = ("Smith", "Johnson", "Brown", "Miller", "Davis", "García", "Wilson", "Müller")
AGENTS = ("Alice", "Bob", "Carol", "Dave", "Erin", "Frank")
LOADED_TABLES = ("customers", "customer_phones", "contact_preferences", "interactions", "tickets")


def phone(i: int) -> str:
    """Customer i's number: 60% Chinese mobiles, 40% US numbers; unique for i < 10^7."""
    return f"+86138{i:08d}" if i % 5 < 3 else f"+1646{2_000_000 + i:07d}"


def dialled(i: int, rng: random.Random) -> str:
    """Customer i's number as a PBX might present it (the store's default country is CN)."""
    e164 = phone(i)
    if e164.startswith("+86"):
        national = e164[3:]
        return rng.choice(
            (national, e164, "0086" + national, f"{national[:3]} {national[3:7]} {national[7:]}")
        )
    return rng.choice((e164, "001" + e164[2:], f"+1 ({e164[2:5]}) {e164[5:8]}-{e164[8:]}"))


def customer_rows(n: int) -> Iterator[tuple[Any, ...]]:
    for i in range(1, n + 1):
        if i % 5 < 3:
            name, language = SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 7) % len(GIVEN)], "zh-CN"
        else:
            name, language = f"{FIRST[i % len(FIRST)]} {LAST[(i // 3) % len(LAST)]}", "en-US"
        tier = "A" if i % 20 == 0 else ("B" if i % 20 < 4 else "C")
        yield (
            i, None, name, "", "", "owner", language, '["bench"]', "customer", "", T0,
            tier, 1 + i % 5, 1 + i % 4, 1 + i % 3, i % 50 == 0, (i % 1000) * 100, T0,
        )  # fmt: skip


CUSTOMER_COLUMNS = (
    "id", "external_ref", "name", "company", "email", "owner", "language", "tags", "lifecycle", "notes",
    "created_at", "tier", "rfm_recency", "rfm_frequency", "rfm_monetary", "at_risk", "window_spend_cents",
    "value_at",
)  # fmt: skip
PHONE_COLUMNS = ("id", "customer_id", "e164", "raw", "label", "is_primary")
PREF_COLUMNS = ("customer_id", "channel", "frequency", "do_not_call", "dnc_source", "dnc_at")
TICKET_COLUMNS = (
    "id", "customer_id", "kind", "subject", "description", "status", "category", "priority", "owner",
    "due_at", "escalation_level", "opened_at", "closed_at", "linkedid",
)  # fmt: skip
INTERACTION_COLUMNS = (
    "id", "linkedid", "customer_id", "remote_e164", "direction", "caller_number", "caller_name", "did",
    "queue", "agent", "agents", "started_at", "answered_at", "ended_at", "outcome", "hangup_cause",
    "transfers", "hold_seconds", "server", "campaign", "lead_id", "disposition", "notes", "recording_ref",
)  # fmt: skip


def phone_rows(n: int) -> Iterator[tuple[Any, ...]]:
    for i in range(1, n + 1):
        yield (i, i, phone(i), phone(i), "mobile", True)


def pref_rows(n: int) -> Iterator[tuple[Any, ...]]:
    for i in range(1, n + 1):
        dnc = i % 100 == 0
        yield (i, "phone", "any", dnc, "customer request" if dnc else "", T0 if dnc else None)


def ticket_rows(n: int) -> Iterator[tuple[Any, ...]]:
    for k, i in enumerate(range(7, n + 1, 20), start=1):  # 5% of the customers have an open case
        kind = "complaint" if k % 2 else "ticket"
        yield (
            k,
            i,
            kind,
            "late delivery",
            "",
            "open",
            "delivery",
            "high",
            "owner",
            T0 + 86400,
            1,
            T0,
            None,
            None,
        )


def interaction_rows(count: int, customers: int, seed: int) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(seed)
    for k in range(1, count + 1):
        cid = 1 + int(customers * rng.random())
        start = T0 + k * 3.0
        agent = AGENTS[k % len(AGENTS)]
        yield (
            k, f"{1_600_000_000 + k}.{k % 97}", cid, phone(cid), "inbound", phone(cid), "", "4008001234",
            "support", agent, f'["{agent}"]', start, start + 12.0, start + 190.0, "answered", 16, 0, 0.0,
            "pbx1", None, None, "resolved", "客户询问订单状态 / asked about the order", None,
        )  # fmt: skip


def secondary_indexes(names: Sequence[str]) -> list[Index]:
    # not the unique ones: they are keys (the upsert's conflict target, a foreign key's parent)
    return [ix for name in names for ix in Base.metadata.tables[name].indexes if not ix.unique]


def chunked(rows: Iterator[tuple[Any, ...]], size: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def load_sqlite(path: Path, customers: int, interactions: int, seed: int) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")
    indexes = secondary_indexes(LOADED_TABLES)
    for ix in indexes:
        db.execute(f"DROP INDEX IF EXISTS {ix.name}")
    for table, columns, rows in (
        ("customers", CUSTOMER_COLUMNS, customer_rows(customers)),
        ("customer_phones", PHONE_COLUMNS, phone_rows(customers)),
        ("contact_preferences", PREF_COLUMNS, pref_rows(customers)),
        ("tickets", TICKET_COLUMNS, ticket_rows(customers)),
        ("interactions", INTERACTION_COLUMNS, interaction_rows(interactions, customers, seed)),
    ):
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        for batch in chunked(rows):
            db.executemany(sql, batch)
            db.commit()
    for ix in indexes:
        db.execute(str(CreateIndex(ix).compile(dialect=sqlite.dialect())))
    db.execute("ANALYZE")
    db.execute(
        "INSERT INTO store_meta (key, value) VALUES ('bench_size', ?)", (f"{customers}/{interactions}",)
    )
    db.commit()
    db.close()


async def load_postgres(dsn: str, customers: int, interactions: int, seed: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        indexes = secondary_indexes(LOADED_TABLES)
        for ix in indexes:
            await conn.execute(f"DROP INDEX IF EXISTS {ix.name}")
        for table, columns, rows in (
            ("customers", CUSTOMER_COLUMNS, customer_rows(customers)),
            ("customer_phones", PHONE_COLUMNS, phone_rows(customers)),
            ("contact_preferences", PREF_COLUMNS, pref_rows(customers)),
            ("tickets", TICKET_COLUMNS, ticket_rows(customers)),
            ("interactions", INTERACTION_COLUMNS, interaction_rows(interactions, customers, seed)),
        ):
            for batch in chunked(rows, 200_000):
                await conn.copy_records_to_table(table, records=batch, columns=list(columns))
            if "id" in columns:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
        await conn.execute("SET maintenance_work_mem = '512MB'")
        for ix in indexes:
            await conn.execute(str(CreateIndex(ix).compile(dialect=PG_DIALECT)))
        # VACUUM too, not only ANALYZE: otherwise autovacuum visits the 10M fresh rows (visibility map,
        # hint bits) during the first measurement, which then measures autovacuum (~1,000 rows/s).
        await conn.execute("VACUUM (ANALYZE)")
        await conn.execute(
            "INSERT INTO store_meta (key, value) VALUES ('bench_size', $1)", f"{customers}/{interactions}"
        )
    finally:
        await conn.close()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "p50_ms": round(pick(0.50) * 1000, 3),
        "p99_ms": round(pick(0.99) * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
        "n": len(ordered),
    }


def journeys(count: int, customers: int, seed: int, run: str = "") -> list[CallJourney]:
    """New call records for random customers (``run`` keeps linkedids unique across reruns)."""
    rng = random.Random(seed)
    result = []
    for k in range(count):
        cid = 1 + int(customers * rng.random())
        start = T0 + 400 * 86400 + k * 0.5
        leg = QueueLeg(QueueName("support"), UniqueId(f"w{seed}.{k}"), entered_at=start + 1, position=1)
        leg.left_at, leg.wait_seconds, leg.outcome = start + 9, 8.0, LegOutcome.ANSWERED
        leg.agent, leg.answered_at, leg.talk_seconds, leg.ended_at = (
            AgentId("Bob"),
            start + 9,
            60.0,
            start + 69,
        )
        result.append(
            CallJourney(
                linkedid=LinkedId(f"w{run}{seed}-{k}"),
                direction=Direction.INBOUND,
                started_at=start,
                caller_number=dialled(cid, rng),
                caller_name="bench",
                did="4008001234",
                ended_at=start + 69,
                outcome=JourneyOutcome.ANSWERED,
                queue_legs=[leg],
                agents=[AgentId("Bob")],
                hangup_cause=16,
            )
        )
    return result


async def measure(store: Store, args: argparse.Namespace, customers: int) -> dict[str, Any]:
    rng = random.Random(args.seed + 1)
    targets = [1 + int(customers * rng.random()) for _ in range(args.lookups)]
    numbers = [dialled(i, rng) for i in targets]
    point = text("SELECT name FROM customers WHERE id = :id")
    async with store.engine.connect() as conn:  # warm the pool, the statement caches and the page cache
        for i in targets[: min(200, len(targets))]:
            await conn.execute(point, {"id": i})
    for number in numbers[: min(200, len(numbers))]:
        await store.customers.lookup_caller(number)
    base: list[float] = []
    for i in targets:
        t = time.perf_counter()
        async with store.engine.connect() as conn:
            (await conn.execute(point, {"id": i})).scalar_one()
        base.append(time.perf_counter() - t)
    hits: list[float] = []
    found = 0
    for number in numbers:
        t = time.perf_counter()
        pop = await store.customers.lookup_caller(number, history=5)
        hits.append(time.perf_counter() - t)
        found += bool(pop.customers)
    misses: list[float] = []
    for k in range(min(500, args.lookups)):
        t = time.perf_counter()
        await store.customers.lookup_caller(f"+8613900{k:06d}")
        misses.append(time.perf_counter() - t)
    lookup, baseline = percentiles(hits), percentiles(base)
    return {
        "lookup": lookup,
        "lookup_found_ratio": round(found / len(numbers), 4),
        "lookup_unknown_number": percentiles(misses),
        "baseline_pk_select": baseline,
        "lookup_p50_vs_pk_select": round(lookup["p50_ms"] / baseline["p50_ms"], 2),
        "lookup_p99_under_5ms": lookup["p99_ms"] < 5.0,
    }


async def measure_writes(
    store: Store, args: argparse.Namespace, customers: int, *, cold: bool = False
) -> dict[str, Any]:
    """As the daemon writes (numbers normalized when each call ended, untimed), or ``cold``: every number
    parsed inside the write, with the normalization cache emptied first (a second run over the same
    numbers would otherwise skip most of libphonenumber's work)."""
    calls = journeys(args.writes, customers, args.seed + 2, run=f"{time.time_ns()}-")
    phones.clear_cache()
    normalized: dict[CallKey, str | None] = {}
    t = time.perf_counter()
    if not cold:
        normalized = {call_key(call): store.normalize(call.caller_number) for call in calls}
    normalize_seconds = time.perf_counter() - t
    phones.clear_cache()  # the write must not lean on the cache: it parses only what came without E.164
    t = time.perf_counter()
    for i in range(0, len(calls), args.batch):
        batch = calls[i : i + args.batch]
        await store.calls.record_journeys(
            batch, normalized={call_key(c): normalized[call_key(c)] for c in batch} if normalized else None
        )
    result = await write_result(
        store,
        len(calls),
        args.batch,
        time.perf_counter() - t,
        numbers_parsed_in_write=phones.cache_info().misses,
    )
    if not cold:
        result["normalize_cold_us_per_number"] = round(normalize_seconds / len(calls) * 1e6, 1)
    return result


async def write_result(
    store: Store, journeys: int, batch: int, elapsed: float, **counts: int
) -> dict[str, Any]:
    """A write run's figures (one interaction and one queue leg per journey), against a raw executemany
    of as many rows measured right after it."""
    rows = 2 * journeys
    raw = await raw_insert_rate(store, rows)
    rate = rows / elapsed
    result: dict[str, Any] = {
        "journeys": journeys,
        "rows": rows,
        "batch": batch,
        "seconds": round(elapsed, 3),
        **counts,
        "rows_per_s": round(rate),
        "baseline_raw_executemany_rows_per_s": round(raw),
        "write_vs_raw_executemany": round(rate / raw, 3),
    }
    if store.dialect == "sqlite":
        result["sqlite_20k_rows_per_s"] = rate >= 20_000
    return result


async def measure_writer(store: Store, args: argparse.Namespace, customers: int) -> dict[str, Any]:
    """The daemon's own writer end to end: ``JourneyWriter.on_events`` (each number normalized when its
    call ends) and its batched writes. Before the timed part, every number is normalized once, as the
    screen pop did while the phone rang (that parse is the pop's cost, measured by ``benchmarks pop``)."""
    calls = journeys(args.writes, customers, args.seed + 3, run=f"{time.time_ns()}-")
    phones.clear_cache()
    for call in calls:
        store.normalize(call.caller_number)  # the pops
    parsed_before = phones.cache_info().misses
    writer = JourneyWriter(store.calls, batch_size=args.batch, flush_interval=3600)
    ended = [CallEnded(at=c.ended_at or c.started_at, server="bench", journey=c) for c in calls]
    t = time.perf_counter()
    for i in range(0, len(ended), args.batch):  # calls end, a batch fills, the writer writes it
        writer.on_events(ended[i : i + args.batch])
        await writer.flush()
    elapsed = time.perf_counter() - t
    parsed = phones.cache_info().misses - parsed_before
    return await write_result(
        store, len(calls), args.batch, elapsed, numbers_parsed_at_call_end_or_in_write=parsed
    )


async def repeated(times: int, run: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """The median run of ``times`` (each with its own baseline), and every run's rate and ratio."""
    runs = [await run() for _ in range(max(1, times))]
    median = sorted(runs, key=lambda r: r["rows_per_s"])[len(runs) // 2]
    return {
        **median,
        "runs": len(runs),
        "every_run_rows_per_s": [r["rows_per_s"] for r in runs],
        "every_run_vs_raw_executemany": [r["write_vs_raw_executemany"] for r in runs],
    }


async def raw_insert_rate(store: Store, rows: int) -> float:
    """Rows/s of a bare executemany into an unindexed table through the same driver (the baseline)."""
    data = [(k, f"{k}.x", T0 + k) for k in range(rows)]
    async with store.engine.connect() as conn:  # one connection throughout: a temporary table is its own
        async with conn.begin():
            await conn.exec_driver_sql(
                "CREATE TEMPORARY TABLE bench_raw (id BIGINT, linkedid TEXT, at DOUBLE PRECISION)"
            )
        t = time.perf_counter()
        async with conn.begin():
            for i in range(0, rows, 1000):
                await conn.execute(
                    text("INSERT INTO bench_raw (id, linkedid, at) VALUES (:a, :b, :c)"),
                    [{"a": a, "b": b, "c": c} for a, b, c in data[i : i + 1000]],
                )
        elapsed = time.perf_counter() - t
        async with conn.begin():
            await conn.exec_driver_sql("DROP TABLE bench_raw")
    return rows / elapsed


async def bench_backend(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    size = f"{args.customers}/{args.interactions}"
    if backend == "sqlite":
        path = workdir / f"bench-{args.customers}-{args.interactions}.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = await pg_database(f"cti_bench_{args.customers}_{args.interactions}", fresh=not args.reuse)
    store = await Store.open(url, default_country="CN")
    try:
        async with store.engine.connect() as conn:
            loaded = (
                await conn.execute(text("SELECT value FROM store_meta WHERE key = 'bench_size'"))
            ).scalar()
        t = time.perf_counter()
        if loaded != size:
            if backend == "sqlite":
                await store.close()
                await asyncio.to_thread(load_sqlite, path, args.customers, args.interactions, args.seed)
                store = await Store.open(url, default_country="CN")
            else:
                await load_postgres(url.replace("+asyncpg", ""), args.customers, args.interactions, args.seed)
        load_seconds = time.perf_counter() - t
        result: dict[str, Any] = {
            "backend": backend,
            "customers": args.customers,
            "interactions": args.interactions,
            "load_seconds": round(load_seconds, 1) if loaded != size else "reused",
        }
        # Start quiet and warm: the kernel's write-back of an earlier run's (or the load's) dirty pages
        # would stall this run's page reads, and this machine's kernel pages out file pages untouched for
        # a minute (DAMON), so without a warm-up the figures measure the virtual disk, not the store.
        await asyncio.to_thread(os.sync)
        t = time.perf_counter()
        if backend == "sqlite":
            await asyncio.to_thread(warm_files, [path, path.with_name(path.name + "-wal")])
        else:
            await warm_postgres(url)
        result["warm_up_seconds"] = round(time.perf_counter() - t, 1)
        result.update(await measure(store, args, args.customers))
        result["write"] = await repeated(args.repeat, lambda: measure_writes(store, args, args.customers))
        result["write_through_the_daemons_writer"] = await repeated(
            args.repeat, lambda: measure_writer(store, args, args.customers)
        )
        result["write_parsing_numbers_cold"] = await repeated(
            args.repeat, lambda: measure_writes(store, args, args.customers, cold=True)
        )
        result["write_into_empty_store"] = await write_into_empty_store(backend, args, workdir)
        return result
    finally:
        await store.close()
        if backend == "postgres" and not args.reuse:
            await drop_pg_database(url.rsplit("/", 1)[1])


def warm_files(paths: Sequence[Path]) -> None:
    """Read files once, so that their pages are in the OS cache (a server's database lives in memory)."""
    for path in paths:
        if path.exists():
            with path.open("rb", buffering=0) as f:
                while f.read(8 << 20):
                    pass


async def warm_postgres(url: str) -> None:
    """pg_prewarm every table and index of the store into the OS cache (the PostgreSQL counterpart)."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        await conn.execute(
            "SELECT pg_prewarm(c.oid::regclass, 'read') FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')"
        )
    finally:
        await conn.close()


async def drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def write_into_empty_store(backend: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """The same write measurement on a fresh, empty store (small indexes: the best case)."""
    if backend == "sqlite":
        path = workdir / f"bench-empty-{time.time_ns()}.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = await pg_database("cti_bench_empty", fresh=True)
    store = await Store.open(url, default_country="CN")
    try:
        return await measure_writes(store, args, args.customers)
    finally:
        await store.close()
        if backend == "postgres":
            await drop_pg_database("cti_bench_empty")
        else:
            await asyncio.to_thread(remove_sqlite, path)


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def pg_database(name: str, *, fresh: bool) -> str:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and fresh:
            await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if not exists or fresh:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return PG_ADMIN.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + "/" + name


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks store")
    parser.add_argument("--quick", action="store_true", help="a tiny workload (smoke test)")
    parser.add_argument("--backend", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--interactions", type=int, default=10_000_000)
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--writes", type=int, default=50_000, help="journeys to write (2 rows each)")
    parser.add_argument("--batch", type=int, default=500, help="journeys per record_journeys call")
    parser.add_argument(
        "--repeat", type=int, default=3, help="write runs on the loaded store; the median is reported"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dir", help="where the SQLite database lives (default: a temporary directory)")
    parser.add_argument(
        "--reuse", action="store_true", help="keep and reuse loaded databases of the same size"
    )
    args = parser.parse_args(argv)
    if args.quick:  # tiny sizes, unless given explicitly
        given = {a.split("=")[0] for a in argv}
        for option, value in (
            ("--customers", 2000),
            ("--interactions", 20_000),
            ("--lookups", 200),
            ("--writes", 2000),
            ("--repeat", 1),
        ):
            if option not in given:
                setattr(args, option[2:], value)
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    backends = [b.strip() for b in args.backend.split(",") if b.strip()]
    for backend in backends:
        if backend not in ("sqlite", "postgres"):
            print(f"unknown backend {backend!r}")
            return 2
    with tempfile.TemporaryDirectory(prefix="cti-bench-") as tmp:
        workdir = Path(args.dir) if args.dir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for backend in backends:
            result = asyncio.run(bench_backend(backend, args, workdir))
            print(json.dumps(result), flush=True)
    return 0
