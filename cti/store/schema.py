"""Database engines and the schema: SQLite in WAL mode or PostgreSQL, upgraded by Alembic at open.

The migrations in ``cti/store/migrations/versions`` are the source of truth. :func:`upgrade` runs them
on an open connection (so it works inside the async engine through ``run_sync``), and
:func:`differences` compares the live schema with the models (an empty list means they agree).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from cti.core.errors import UsageError
from cti.store.models import Base

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_MIGRATION_LOCK = 0x637469  # advisory lock id: one migrating process at a time ("cti")
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",  # readers never block the writer (the daemon reads while it writes)
    "PRAGMA synchronous=NORMAL",  # durable at checkpoints; safe with WAL, much faster than FULL
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",  # another process writing (cti store import): wait, do not fail
    "PRAGMA cache_size=-65536",  # 64 MiB page cache
    # checkpoint the WAL every ~40 MB instead of every 4 MB: fewer fsyncs and page copies under bulk
    # writes of call records (benchmarks/bench_store.py). The store checkpoints in the background well
    # before that (Database.checkpoint_soon), so this is the backstop, not the routine.
    "PRAGMA wal_autocheckpoint=10000",
    # read pages through a shared memory map (this build's maximum, 2 GiB) instead of a pread() copy
    # into each connection's cache: the history index and the phone lookup of every call record, and
    # every screen pop, hit random pages of a multi-GB file (docs/design/store.md, "Write rate")
    "PRAGMA mmap_size=2147418112",
)


def dialect_of(url: str) -> str:
    try:
        return make_url(url).get_backend_name()
    except Exception as e:  # sqlalchemy raises ArgumentError with a message worth showing
        raise UsageError(f"not a database URL: {url!r} ({e})") from e


def async_url(url: str) -> str:
    """``url`` with the async driver: plain ``sqlite://`` and ``postgresql://`` URLs are accepted too."""
    backend = dialect_of(url)
    parsed = make_url(url)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite") and backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    return url


def create_engine(url: str, **options: Any) -> AsyncEngine:
    """An async engine for ``url`` (``sqlite+aiosqlite:///path`` or ``postgresql+asyncpg://...``)."""
    url = async_url(url)
    parsed = make_url(url)
    backend = dialect_of(url)
    if backend == "sqlite":
        if parsed.drivername != "sqlite+aiosqlite":
            raise UsageError(f"SQLite needs the async driver: sqlite+aiosqlite:///... (got {url!r})")
        database = parsed.database or ""
        if database in ("", ":memory:"):
            options.setdefault("poolclass", StaticPool)  # one shared connection, or each sees its own DB
        else:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # Writes always end in an explicit COMMIT or ROLLBACK (engine.begin()) and reads start no
        # transaction (pysqlite begins one only before DML), so the pool's rollback-on-return would only
        # cost a thread hop per checkout.
        options.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(url, **options)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if parsed.drivername != "postgresql+asyncpg":
            raise UsageError(f"PostgreSQL needs the async driver: postgresql+asyncpg://... (got {url!r})")
        options.setdefault("pool_size", 10)
        options.setdefault("max_overflow", 20)
        options.setdefault("pool_pre_ping", True)
        return create_async_engine(url, **options)
    raise UsageError(f"unsupported database {backend!r}: use SQLite or PostgreSQL")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (run through ``AsyncConnection.run_sync``)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)


def current_revision(connection: Connection) -> str | None:
    rev = MigrationContext.configure(connection).get_current_revision()
    return str(rev) if rev is not None else None


def differences(connection: Connection) -> list[Any]:
    """What autogenerate would change to make the database match the models (empty: they agree)."""
    ctx = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(ctx, Base.metadata))
