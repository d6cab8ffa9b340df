"""Shared fixtures: the real PostgreSQL and Redis servers, the shared AMI transcripts, time scaling.

Tests that need PostgreSQL or Redis use the real servers. When CTI_REQUIRE_SERVICES=1 (CI sets it),
a missing server is a failure, never a skip.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from pluggy import Result

from cti.store import accounts as accounts_module

ROOT = Path(__file__).resolve().parent.parent
TRANSCRIPTS = Path(os.environ.get("CTI_TRANSCRIPTS", ROOT.parent / "shared" / "ami-transcripts"))
PG_URL = os.environ.get("CTI_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CTI_TEST_REDIS", "redis://127.0.0.1:6379/15")
REQUIRE = os.environ.get("CTI_REQUIRE_SERVICES") == "1"
UNIT = float(os.environ.get("CTI_TEST_TIME_UNIT", "1.0"))  # scale every test timeout on slow machines


# Property tests: derandomized by default (the `ci` profile: the same examples on every run, so CI never
# fails at random on an unrelated change); `make fuzz` runs the `fuzz` profile, FUZZ_FACTOR times the
# examples, random, with the example database kept in .hypothesis/ so a failure found once is replayed.
FUZZ = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
FUZZ_FACTOR = int(os.environ.get("CTI_FUZZ_FACTOR", "20"))
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile(
    "fuzz", derandomize=False, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("fuzz" if FUZZ else "ci")


# Password hashes at the production cost (cti/store/accounts.py OWASP_COST) take most of a second here;
# the suite seeds accounts in many tests, so new hashes get a small cost. tests/store/test_accounts.py
# checks the production cost itself.
accounts_module.SCRYPT_N, accounts_module.SCRYPT_P = 1 << 10, 1


def examples(n: int) -> int:
    """A property test's example count: ``n`` in CI, FUZZ_FACTOR times more under ``make fuzz``."""
    return n * FUZZ_FACTOR if FUZZ else n


def timeout(seconds: float) -> float:
    """A test timeout, scaled by CTI_TEST_TIME_UNIT."""
    return seconds * UNIT


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_server(name: str, host: str, port: int) -> None:
    if _port_open(host, port):
        return
    msg = f"{name} is not running on {host}:{port} (run: make services)"
    if REQUIRE:
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def transcripts() -> Path:
    if not TRANSCRIPTS.is_dir():
        pytest.fail(f"AMI transcripts not found at {TRANSCRIPTS} (set CTI_TRANSCRIPTS)")
    return TRANSCRIPTS


def fresh_pg_database() -> Iterator[str]:
    """A fresh database on the real PostgreSQL, dropped afterwards."""
    need_server("PostgreSQL", "127.0.0.1", 5432)

    import asyncio

    import asyncpg

    name = f"cti_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = PG_URL.replace("postgresql+asyncpg", "postgresql")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on SQLite (a temp file) and on the real PostgreSQL (a fresh database)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
        return
    yield from fresh_pg_database()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """An empty database on the real PostgreSQL only (mark the test ``postgres``)."""
    yield from fresh_pg_database()


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """The real Redis, database 15, flushed before and after."""
    need_server("Redis", "127.0.0.1", 6379)
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    await client.flushdb()
    try:
        yield REDIS_URL
    finally:
        await client.flushdb()
        await client.aclose()


_service_runs: dict[str, int] = {"PostgreSQL": 0, "Redis": 0}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Result[pytest.TestReport], None]:
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.passed:
        return
    names = set(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    on_pg = callspec is not None and callspec.params.get("db_url") == "postgres"
    if "pg_url" in names or ("db_url" in names and on_pg):
        _service_runs["PostgreSQL"] += 1
    if "redis_url" in names:
        _service_runs["Redis"] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(
        f"real servers: {_service_runs['PostgreSQL']} tests passed against PostgreSQL at 127.0.0.1:5432, "
        f"{_service_runs['Redis']} against Redis at 127.0.0.1:6379"
    )


# the newest migration's revision (the files are numbered): what a migrated database reports
MIGRATIONS_HEAD = max(
    p.name[:4] for p in (ROOT / "cti/store/migrations/versions").glob("[0-9][0-9][0-9][0-9]_*.py")
)
