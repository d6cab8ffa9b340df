"""Agent and supervisor accounts: create, update, sign in, list (``store.accounts``).

Passwords are hashed in a worker thread (cti/store/accounts.py); skills are kept by
:class:`cti.store.skills_repo.SkillRepository`, which this repository uses for ``upsert_agent(skills=...)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cti.core.errors import UsageError
from cti.store.accounts import AgentAccount, hash_password, needs_rehash, verify_or_waste
from cti.store.database import Repository, agents_t
from cti.store.models import ROLES
from cti.store.skills import check_skills
from cti.store.skills_repo import read_skills, write_skills


class AccountRepository(Repository):
    async def upsert_agent(
        self,
        username: str,
        password: str | None,
        role: str,
        member_name: str | None,
        interface: str,
        display_name: str,
        *,
        extension: str = "",
        skills: Mapping[str, int] | None = None,
    ) -> None:
        """Create or update an agent. ``password=None`` keeps the current one (a new agent needs one).

        ``skills`` (name -> level), when given, replaces the agent's skills; ``None`` keeps them.
        """
        if role not in ROLES:
            raise UsageError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if not username:
            raise UsageError("an agent needs a username")
        checked = None if skills is None else check_skills(skills)
        hashed = None if password is None else await asyncio.to_thread(hash_password, password)
        values: dict[str, Any] = {
            "role": role,
            "member_name": member_name or None,
            "interface": interface,
            "display_name": display_name,
            "extension": extension,
            "active": True,
        }
        if hashed is not None:
            values["password_hash"] = hashed
        async with self.db.writing() as conn:
            agent_id = (
                await conn.execute(select(agents_t.c.id).where(agents_t.c.username == username))
            ).scalar_one_or_none()
            if agent_id is None:
                if hashed is None:
                    raise UsageError(f"new agent {username!r} needs a password")
                agent_id = (
                    await conn.execute(
                        agents_t.insert().values(username=username, **values).returning(agents_t.c.id)
                    )
                ).scalar_one()
            else:
                await conn.execute(update(agents_t).where(agents_t.c.id == agent_id).values(**values))
            if checked is not None:
                await write_skills(conn, int(agent_id), checked, replace=True)

    async def authenticate(self, username: str, password: str) -> AgentAccount | None:
        """The account when ``password`` is right, else None (same cost for an unknown username).

        No database connection is held while scrypt runs: the hash is fetched, the connection goes back
        to the pool, the password is checked in a worker thread, then the account is read. A right
        password whose hash has old parameters is re-hashed with the current ones."""
        async with self.db.reader.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(agents_t.c.id, agents_t.c.password_hash).where(
                            agents_t.c.username == username, agents_t.c.active
                        )
                    )
                )
                .mappings()
                .first()
            )
        stored = row["password_hash"] if row else None
        ok = await asyncio.to_thread(self.verify, password, stored)
        if not ok or row is None or stored is None:
            return None
        if needs_rehash(stored):
            fresh = await asyncio.to_thread(hash_password, password)
            async with self.db.writing() as conn:
                await conn.execute(
                    update(agents_t)
                    .where(agents_t.c.id == row["id"], agents_t.c.password_hash == stored)
                    .values(password_hash=fresh)
                )
        async with self.db.reader.connect() as conn:
            found = await self._accounts(conn, (agents_t.c.id == row["id"]) & agents_t.c.active)
        return found[0] if found else None

    verify = staticmethod(verify_or_waste)  # the password check (a test watches the pool while it runs)

    async def active(self, usernames: Collection[str]) -> set[str]:
        """Which of ``usernames`` are active accounts (the console server ends a disabled one's sessions)."""
        if not usernames:
            return set()
        async with self.db.reader.connect() as conn:
            rows = await conn.execute(
                select(agents_t.c.username).where(agents_t.c.username.in_(list(usernames)), agents_t.c.active)
            )
            return {r[0] for r in rows}

    async def disable(self, username: str) -> bool:
        """Stop ``username`` from logging in (their console sessions end at the next account check)."""
        async with self.db.writing() as conn:
            done = await conn.execute(
                update(agents_t).where(agents_t.c.username == username).values(active=False)
            )
        return bool(done.rowcount)

    async def agents(self) -> list[AgentAccount]:
        """Every active account, by username."""
        async with self.db.reader.connect() as conn:
            return await self._accounts(conn, agents_t.c.active)

    async def agent(self, username: str) -> AgentAccount | None:
        async with self.db.reader.connect() as conn:
            found = await self._accounts(conn, agents_t.c.username == username)
        return found[0] if found else None

    async def _accounts(self, conn: AsyncConnection, where: Any) -> list[AgentAccount]:
        rows = (
            (await conn.execute(select(agents_t).where(where).order_by(agents_t.c.username))).mappings().all()
        )
        skills = await read_skills(conn, [r["id"] for r in rows])
        return [
            AgentAccount(
                id=r["id"],
                username=r["username"],
                role=r["role"],
                member_name=r["member_name"],
                interface=r["interface"],
                display_name=r["display_name"],
                extension=r["extension"],
                skills=skills[r["id"]],
            )
            for r in rows
        ]
