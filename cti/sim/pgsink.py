"""The simulated Asterisk's PostgreSQL logging: cdr_pgsql, cel_pgsql and the realtime queue_log.

Every CDR row, CEL event and queue_log line the model writes is queued and inserted by one task into
the tables ``cdr``, ``cel`` and ``queue_log`` (created if missing, with the layouts of
config/asterisk/pgsql-schema.sql: Asterisk's sample columns plus an ``id`` serial the reader follows).
A failed insert is retried (the simulator loses no record; a real cdr_pgsql logs the error and drops the
record, which is why cti also reads the files when it can).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import Any

from cti.asterisk.durable.formats import (
    CdrRecord,
    CelRecord,
    cdr_pgsql_values,
    cel_pgsql_values,
    queue_log_line,
    queue_log_pgsql_values,
)
from cti.asterisk.durable.sources import plain_url
from cti.sim.calllogs import CallLogs
from cti.sim.queue_log import QueueLog

log = logging.getLogger("cti.sim.pgsink")

SCHEMA = """
CREATE TABLE IF NOT EXISTS cdr (
    id bigserial PRIMARY KEY, calldate timestamp NOT NULL, clid varchar(80) NOT NULL DEFAULT '',
    src varchar(80) NOT NULL DEFAULT '', dst varchar(80) NOT NULL DEFAULT '',
    dcontext varchar(80) NOT NULL DEFAULT '', channel varchar(80) NOT NULL DEFAULT '',
    dstchannel varchar(80) NOT NULL DEFAULT '', lastapp varchar(80) NOT NULL DEFAULT '',
    lastdata varchar(80) NOT NULL DEFAULT '', duration bigint NOT NULL DEFAULT 0,
    billsec bigint NOT NULL DEFAULT 0, disposition varchar(45) NOT NULL DEFAULT '',
    amaflags bigint NOT NULL DEFAULT 0, accountcode varchar(20) NOT NULL DEFAULT '',
    uniqueid varchar(150) NOT NULL DEFAULT '', userfield varchar(255) NOT NULL DEFAULT '',
    peeraccount varchar(20) NOT NULL DEFAULT '', linkedid varchar(150) NOT NULL DEFAULT '',
    sequence int NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS cel (
    id bigserial PRIMARY KEY, eventtype varchar(30) NOT NULL, eventtime timestamp NOT NULL,
    userdeftype varchar(255) NOT NULL DEFAULT '', cid_name varchar(80) NOT NULL DEFAULT '',
    cid_num varchar(80) NOT NULL DEFAULT '', cid_ani varchar(80) NOT NULL DEFAULT '',
    cid_rdnis varchar(80) NOT NULL DEFAULT '', cid_dnid varchar(80) NOT NULL DEFAULT '',
    exten varchar(80) NOT NULL DEFAULT '', context varchar(80) NOT NULL DEFAULT '',
    channame varchar(80) NOT NULL DEFAULT '', appname varchar(80) NOT NULL DEFAULT '',
    appdata varchar(80) NOT NULL DEFAULT '', amaflags int NOT NULL DEFAULT 0,
    accountcode varchar(20) NOT NULL DEFAULT '', peeraccount varchar(20) NOT NULL DEFAULT '',
    uniqueid varchar(150) NOT NULL DEFAULT '', linkedid varchar(150) NOT NULL DEFAULT '',
    userfield varchar(255) NOT NULL DEFAULT '', peer varchar(80) NOT NULL DEFAULT '',
    extra varchar(512) NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS queue_log (
    id bigserial PRIMARY KEY, time timestamp NOT NULL, callid varchar(80) NOT NULL DEFAULT '',
    queuename varchar(256) NOT NULL DEFAULT '', agent varchar(80) NOT NULL DEFAULT '',
    event varchar(32) NOT NULL DEFAULT '', data1 varchar(100) NOT NULL DEFAULT '',
    data2 varchar(100) NOT NULL DEFAULT '', data3 varchar(100) NOT NULL DEFAULT '',
    data4 varchar(100) NOT NULL DEFAULT '', data5 varchar(100) NOT NULL DEFAULT ''
);
"""


class PgSink:
    def __init__(self, url: str, queue_log: QueueLog, call_logs: CallLogs) -> None:
        self.url = plain_url(url)
        self._rows: collections.deque[tuple[str, dict[str, Any]]] = collections.deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.errors = 0
        queue_log.listeners.append(self._queue_log)
        call_logs.listeners.append(self._record)

    def _queue_log(self, line: str) -> None:
        self._rows.append(("queue_log", queue_log_pgsql_values(queue_log_line(line))))
        self._wake.set()

    def _record(self, rec: CdrRecord | CelRecord) -> None:
        if isinstance(rec, CdrRecord):
            self._rows.append(("cdr", cdr_pgsql_values(rec)))
        else:
            self._rows.append(("cel", cel_pgsql_values(rec)))
        self._wake.set()

    async def start(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute(SCHEMA)
        finally:
            await conn.close()
        self._task = asyncio.create_task(self._run(), name="cti-sim-pgsink")

    async def _run(self) -> None:
        import asyncpg

        conn: Any = None
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._rows:
                try:
                    if conn is None or conn.is_closed():
                        conn = await asyncpg.connect(self.url, timeout=2)
                    await self._write(conn)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as e:
                    self.errors += 1
                    log.warning("simulated cdr_pgsql: %s; retrying", e)
                    if conn is not None:
                        with contextlib.suppress(Exception):
                            conn.terminate()
                    conn = None
                    await asyncio.sleep(0.2)

    async def _write(self, conn: Any) -> None:
        batch = [self._rows[i] for i in range(min(200, len(self._rows)))]
        async with conn.transaction():
            for table, values in batch:
                cols = list(values)
                marks = ", ".join(f"${i + 1}" for i in range(len(cols)))
                await conn.execute(
                    f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", *values.values()
                )
        for _ in batch:
            self._rows.popleft()
        self.written += len(batch)

    async def drain(self, within: float = 10.0) -> None:
        """Wait until every queued row is in the tables (tests)."""
        async with asyncio.timeout(within):
            while self._rows:  # noqa: ASYNC110 (the writer task owns the rows; polling is enough here)
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        with contextlib.suppress(TimeoutError):
            await self.drain(5.0)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
