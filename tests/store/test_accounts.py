import threading
from typing import Any

import pytest

from cti.store import Store, accounts
from cti.store.accounts import OWASP_COST, hash_password, needs_rehash, verify_or_waste, verify_password


def test_a_password_verifies_against_its_own_hash_only() -> None:
    stored = hash_password("correct horse 马", n=1024, p=1)
    assert stored.startswith("scrypt$1024$8$1$")
    assert verify_password("correct horse 马", stored)
    assert not verify_password("correct horse", stored)
    assert hash_password("same") != hash_password("same")  # salted


def test_new_hashes_follow_owasp_guidance_for_scrypt() -> None:
    n, r, p = OWASP_COST
    # OWASP Password Storage Cheat Sheet: N=2^17 r=8 p=1, or the same work as N=2^15 r=8 p=3
    assert r == 8 and n * p >= (1 << 15) * 3 and n >= 1 << 15
    stored = hash_password("pw", n=n, r=r, p=p)
    assert stored.startswith(f"scrypt${n}$8${p}$") and verify_password("pw", stored)


def test_malformed_hashes_never_verify_and_never_raise() -> None:
    for stored in ("", "plain", "scrypt$x$y$z$a$b", "md5$1$2$3$4$5", "scrypt$16384$8$1$!!!$@@@"):
        assert not verify_password("anything", stored)


def test_an_unknown_user_costs_a_real_verification_and_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real = accounts.verify_password

    def recording(password: str, stored: str) -> bool:
        checked.append(stored)
        return real(password, stored)

    monkeypatch.setattr(accounts, "verify_password", recording)
    assert not verify_or_waste("not a password", None)  # even the dummy's own password fails
    (dummy,) = checked
    assert dummy.startswith("scrypt$") and real("not a password", dummy)  # a real hash was checked
    assert verify_or_waste("pw", hash_password("pw", n=1024))


async def test_the_password_check_holds_no_database_connection(store: Store) -> None:
    await store.accounts.upsert_agent("alice", "pw", "agent", "Alice", "Local/1001@agents/n", "Alice")
    pool = store.db.reader.pool
    held: list[int] = []
    real = store.accounts.verify

    def watching(password: str, stored: str | None) -> bool:
        assert threading.current_thread() is not threading.main_thread()  # off the event loop
        held.append(pool.checkedout())  # type: ignore[attr-defined]
        return real(password, stored)

    store.accounts.verify = watching
    assert await store.accounts.authenticate("alice", "pw") is not None
    assert await store.accounts.authenticate("alice", "wrong") is None
    assert await store.accounts.authenticate("nobody", "pw") is None
    assert held == [0, 0, 0]


async def test_an_old_hash_is_rehashed_at_the_current_cost_on_a_successful_login(store: Store) -> None:
    await store.accounts.upsert_agent("alice", "pw", "agent", "Alice", "", "Alice")
    old = hash_password("pw", n=512, p=1)
    async with store.db.writing() as conn:
        await conn.execute(accounts_update("alice", old))
    assert needs_rehash(old)
    assert await store.accounts.authenticate("alice", "wrong") is None
    assert await stored_hash(store, "alice") == old  # a failed login changes nothing
    assert await store.accounts.authenticate("alice", "pw") is not None
    fresh = await stored_hash(store, "alice")
    assert fresh != old and not needs_rehash(fresh) and verify_password("pw", fresh)


async def test_a_disabled_account_can_no_longer_log_in_and_is_not_active(store: Store) -> None:
    await store.accounts.upsert_agent("alice", "pw", "agent", "Alice", "", "Alice")
    await store.accounts.upsert_agent("bob", "pw", "agent", "Bob", "", "Bob")
    assert await store.accounts.active({"alice", "bob", "nobody"}) == {"alice", "bob"}
    assert await store.accounts.disable("alice")
    assert await store.accounts.active({"alice", "bob"}) == {"bob"}
    assert await store.accounts.authenticate("alice", "pw") is None
    assert not await store.accounts.disable("nobody")


def accounts_update(username: str, hashed: str) -> Any:
    from sqlalchemy import update

    from cti.store.database import agents_t

    return update(agents_t).where(agents_t.c.username == username).values(password_hash=hashed)


async def stored_hash(store: Store, username: str) -> str:
    from sqlalchemy import select

    from cti.store.database import agents_t

    async with store.db.reader.connect() as conn:
        row = await conn.execute(select(agents_t.c.password_hash).where(agents_t.c.username == username))
        return str(row.scalar_one())
