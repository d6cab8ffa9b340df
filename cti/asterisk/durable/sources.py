"""The readers of Asterisk's durable logs, behind one interface (``LogSource``): files or PostgreSQL.

* ``FileLogs``: cti runs beside Asterisk and reads ``/var/log/asterisk/queue_log``, cdr_csv's
  ``cdr-csv/Master.csv`` and cel_custom's ``cel-custom/Master.csv``. Each file is followed from where the
  last read stopped (a partial last line waits for the next read; a file that shrank was rotated and is
  read from its start).
* ``PgLogs``: the tables Asterisk writes in production: ``cdr`` (cdr_pgsql), ``cel`` (cel_pgsql) and the
  realtime ``queue_log`` (res_config_pgsql through extconfig.conf). Each is followed by its ``id`` serial
  (config/asterisk/pgsql-schema.sql adds one where Asterisk's sample has none).

``read()`` returns what is new as ``Parsed`` records; rows that cannot be read are in ``Parsed.bad``,
counted and logged by the caller, never fatal. The first read may skip what is older than ``since``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from cti.asterisk.durable.formats import (
    BadRow,
    Parsed,
    RowError,
    cdr_fields,
    cel_fields,
    parse_cdr_csv,
    parse_cel_csv,
    parse_queue_log_lines,
    queue_log_row,
)

log = logging.getLogger("cti.asterisk.durable")


class LogSource(Protocol):
    @property
    def has_cel(self) -> bool: ...

    async def read(self, since: float | None = None) -> Parsed: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class _Followed:
    path: str
    parse: Callable[[list[str], int], Parsed]
    offset: int = 0
    line: int = 1  # the number of the next line
    rest: bytes = b""
    inode: int = 0
    missing_reported: bool = False

    def read_new(self) -> Parsed:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if not self.missing_reported:
                log.warning("durable log %s does not exist (yet)", self.path)
                self.missing_reported = True
            return Parsed.empty()
        if st.st_ino != self.inode or st.st_size < self.offset:  # rotated: start again
            self.offset, self.line, self.rest, self.inode = 0, 1, b"", st.st_ino
        if st.st_size == self.offset:
            return Parsed.empty()
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(st.st_size - self.offset)
        self.offset += len(data)
        data = self.rest + data
        cut = data.rfind(b"\n") + 1
        self.rest = data[cut:]
        lines = data[:cut].decode("utf-8", errors="replace").split("\n")[:-1]
        first = self.line
        self.line += len(lines)
        return self.parse(lines, first)


@dataclass(slots=True)
class FileLogs:
    queue_log: str = ""
    cdr: str = ""
    cel: str = ""
    _files: list[_Followed] = field(default_factory=list)

    def __post_init__(self) -> None:
        for path, parse in (
            (self.queue_log, parse_queue_log_lines),
            (self.cdr, parse_cdr_csv),
            (self.cel, parse_cel_csv),
        ):
            if path:
                self._files.append(_Followed(path, parse))

    @property
    def has_cel(self) -> bool:
        return bool(self.cel)

    def _read_all(self) -> Parsed:
        out = Parsed.empty()
        for f in self._files:
            out.extend(f.read_new())
        return out

    async def read(self, since: float | None = None) -> Parsed:
        return await asyncio.to_thread(self._read_all)

    async def close(self) -> None:
        return None


def plain_url(url: str) -> str:
    """asyncpg's DSN from a SQLAlchemy-style URL (``postgresql+asyncpg://`` -> ``postgresql://``)."""
    scheme, sep, rest = url.partition("://")
    return "postgresql://" + rest if sep and scheme.startswith("postgres") else url


class PgLogs:
    """The cdr, cel and realtime queue_log tables; each followed by its id."""

    def __init__(
        self, url: str, *, cdr_table: str = "cdr", cel_table: str = "cel", queue_log_table: str = "queue_log"
    ) -> None:
        self.url = plain_url(url)
        self.tables = {"cdr": cdr_table, "cel": cel_table, "queue_log": queue_log_table}
        for name in self.tables.values():
            if name and not name.replace("_", "").replace(".", "").isalnum():
                raise ValueError(f"bad table name {name!r}")
        self._last: dict[str, int] = {}
        self._conn: Any = None

    @property
    def has_cel(self) -> bool:
        return bool(self.tables["cel"])

    async def _connection(self) -> Any:
        import asyncpg

        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.url, timeout=5)
        return self._conn

    async def read(self, since: float | None = None) -> Parsed:
        conn = await self._connection()
        out = Parsed.empty()
        time_column = {"cdr": "calldate", "cel": "eventtime", "queue_log": "time"}
        try:
            for source, table in self.tables.items():
                if not table:
                    continue
                last = self._last.get(source)
                if last is None and since is not None:  # from the last row older than ``since`` on
                    at = datetime.fromtimestamp(since, UTC).replace(tzinfo=None)
                    last = int(
                        await conn.fetchval(
                            f"SELECT coalesce(max(id), 0) FROM {table} WHERE {time_column[source]} < $1", at
                        )
                    )
                self._last.setdefault(source, last or 0)
                rows = await conn.fetch(f"SELECT * FROM {table} WHERE id > $1 ORDER BY id", last or 0)
                for row in rows:
                    self._last[source] = max(self._last.get(source, 0), int(row["id"]))
                    values = dict(row)
                    try:
                        if source == "cdr":
                            out.cdr.append(cdr_fields(values, pgsql=True))
                        elif source == "cel":
                            out.cel.append(cel_fields(values))
                        else:
                            out.queue_log.append(queue_log_row(values))
                    except RowError as e:
                        out.bad.append(BadRow(source, int(row["id"]), str(e)))
        except Exception:
            await self.close()
            raise
        return out

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await conn.close(timeout=2)
            except Exception:
                conn.terminate()
