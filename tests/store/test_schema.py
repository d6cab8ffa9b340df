from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from cti.core.errors import UsageError
from cti.store import Store
from cti.store.models import table_names
from cti.store.schema import create_engine, current_revision, differences, downgrade, upgrade


async def test_the_migrations_and_the_models_agree(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade)
            assert await conn.run_sync(differences) == []
            assert await conn.run_sync(current_revision) == "0003"
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert set(table_names()) <= set(names)
    finally:
        await engine.dispose()


async def test_open_migrates_and_a_second_open_is_a_no_op(db_url: str) -> None:
    for _ in range(2):
        store = await Store.open(db_url)
        await store.close()
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(downgrade, "base")
            assert await conn.run_sync(lambda c: inspect(c).get_table_names()) == ["alembic_version"]
            await conn.run_sync(upgrade)
            assert await conn.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    try:
        async with store.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("nowhere", "not a database URL"),
        ("sqlite+pysqlcipher:///x.db", "async driver"),
        ("postgresql+psycopg2://u@h/db", "async driver"),
        ("mysql+aiomysql://u@h/db", "unsupported"),
    ],
)
async def test_bad_urls_are_refused_clearly(url: str, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        await Store.open(url)


def test_plain_urls_get_the_async_driver() -> None:
    from cti.store.schema import async_url

    assert async_url("sqlite:///var/cti.db") == "sqlite+aiosqlite:///var/cti.db"
    assert async_url("postgresql://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert async_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"


async def test_an_unknown_default_country_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="country"):
        await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", default_country="XX")


async def test_0002_keeps_the_skills_of_a_0001_database_and_adds_languages(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "0001")
            await conn.execute(
                text(
                    "INSERT INTO agents (id, username, password_hash, role, interface, extension,"
                    " display_name, active) VALUES (1, 'alice', 'x', 'agent', '', '', 'Alice', true)"
                )
            )
            await conn.execute(text("INSERT INTO skills (id, name) VALUES (1, 'sales'), (2, 'support')"))
            await conn.execute(
                text("INSERT INTO agent_skills (agent_id, skill_id, level) VALUES (1, 1, 7), (1, 2, 12)")
            )
            await conn.run_sync(upgrade)
            assert await conn.run_sync(current_revision) == "0003"
            assert await conn.run_sync(differences) == []
    finally:
        await engine.dispose()
    store = await Store.open(db_url)
    try:
        assert await store.skills.of_agent("alice") == {"sales": 7, "support": 10}  # 12 was out of range
        assert await store.skills.set_languages("alice", ["fr"]) == ["fr"]
    finally:
        await store.close()
