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
            assert await conn.run_sync(current_revision) == "0007"
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
            assert await conn.run_sync(current_revision) == "0007"
            assert await conn.run_sync(differences) == []
    finally:
        await engine.dispose()
    store = await Store.open(db_url)
    try:
        assert await store.skills.of_agent("alice") == {"sales": 7, "support": 10}  # 12 was out of range
        assert await store.skills.set_languages("alice", ["fr"]) == ["fr"]
    finally:
        await store.close()


async def test_0004_keeps_the_calls_of_a_0003_database_and_keys_them_by_server(db_url: str) -> None:
    """Rows written by 0003 survive 0004 (legs and dispositions get their call's server), and a second
    server's call with the same Linkedid is then a record of its own."""
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "0003")
            for lid, server in (("1700000000.1", "pbx1"), ("1700000000.2", "pbx1")):
                await conn.execute(
                    text(
                        "INSERT INTO interactions (linkedid, direction, caller_number, caller_name, did,"
                        " agents, started_at, transfers, hold_seconds, server)"
                        " VALUES (:lid, 'inbound', '13812345678', '', '', '[]', 1700000000, 0, 0, :server)"
                    ),
                    {"lid": lid, "server": server},
                )
                await conn.execute(
                    text(
                        "INSERT INTO queue_legs (linkedid, seq, queue, uniqueid, entered_at, position,"
                        " outcome, agent, ring_no_answer, wait_seconds, talk_seconds)"
                        " VALUES (:lid, 0, 'sales', :lid, 1700000001, 1, 'answered', 'Alice', '[]', 4, 30)"
                    ),
                    {"lid": lid},
                )
            await conn.execute(
                text(
                    "INSERT INTO dispositions (linkedid, agent, disposition, notes, saved_at) VALUES"
                    " ('1700000000.1', 'Alice', 'sale', '', 1700000100),"
                    " ('1700000009.9', 'Bob', 'callback', '', 1700000100)"
                )
            )
            await conn.run_sync(upgrade)
            assert await conn.run_sync(current_revision) == "0007"
            assert await conn.run_sync(differences) == []
            legs = (await conn.execute(text("SELECT server, linkedid, repaired FROM queue_legs"))).all()
            assert sorted((s, lid, bool(r)) for s, lid, r in legs) == [
                ("pbx1", "1700000000.1", False),
                ("pbx1", "1700000000.2", False),
            ]
            dispositions = (await conn.execute(text("SELECT server, linkedid FROM dispositions"))).all()
            assert sorted(tuple(d) for d in dispositions) == [("", "1700000009.9"), ("pbx1", "1700000000.1")]
    finally:
        await engine.dispose()
    store = await Store.open(db_url)
    try:
        from cti.core.ids import LinkedId
        from cti.core.journey import CallJourney, Direction

        other = CallJourney(LinkedId("1700000000.1"), Direction.OUTBOUND, 1700000050.0, server="pbx2")
        assert await store.calls.record_journeys([other]) == 1
        stored = await store.calls.journeys(1699999999.0, 1700000100.0)
        assert sorted((j.server, j.linkedid, len(j.queue_legs)) for j in stored) == [
            ("pbx1", "1700000000.1", 1),
            ("pbx1", "1700000000.2", 1),
            ("pbx2", "1700000000.1", 0),
        ]
    finally:
        await store.close()
    engine = create_engine(db_url)
    try:  # and back down, once the second server's call is gone
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM interactions WHERE server = 'pbx2'"))
            await conn.run_sync(downgrade, "0003")
            legs = (await conn.execute(text("SELECT linkedid FROM queue_legs"))).all()
            assert sorted(r[0] for r in legs) == ["1700000000.1", "1700000000.2"]
    finally:
        await engine.dispose()
