"""Agents' skills and languages (``store.skills``): what a skill-based router reads at start and edits.

Skills live in ``agent_skills`` (agent, skill, level 1..10; one row per agent and skill, the level checked
by the database too) with the names in ``skills``; languages in ``agent_languages``. Every name, level
and tag is checked first (cti/store/skills.py): a bad one raises :class:`~cti.store.skills.SkillError`
and changes nothing. Agents are named by username; an unknown one raises
:class:`~cti.store.skills.UnknownAgent`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cti.store.database import Repository, agent_languages_t, agent_skills_t, agents_t, chunks, skills_t
from cti.store.skills import UnknownAgent, check_languages, check_name, check_skills

_joined = select(agent_skills_t.c.agent_id, skills_t.c.name, agent_skills_t.c.level).join(
    skills_t, skills_t.c.id == agent_skills_t.c.skill_id
)


async def read_skills(conn: AsyncConnection, agent_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """agent id -> {skill: level} (sorted by name) for each of ``agent_ids`` (empty when it has none)."""
    found: dict[int, list[tuple[str, int]]] = {i: [] for i in agent_ids}
    for part in chunks(list(agent_ids)):
        for agent_id, name, level in await conn.execute(_joined.where(agent_skills_t.c.agent_id.in_(part))):
            found[agent_id].append((str(name), int(level)))
    return {i: dict(sorted(pairs)) for i, pairs in found.items()}


async def write_skills(
    conn: AsyncConnection,
    agent_id: int,
    levels: Mapping[str, int],
    *,
    replace: bool = False,
    remove: Iterable[str] = (),
) -> None:
    """Set ``levels`` (checked), drop ``remove`` (or, ``replace``, every other skill) of one agent."""
    a = agent_skills_t.c
    if replace:
        await conn.execute(delete(agent_skills_t).where(a.agent_id == agent_id))
    gone = sorted(set(remove) | (set() if replace else set(levels)))
    if gone:
        ids = select(skills_t.c.id).where(skills_t.c.name.in_(gone)).scalar_subquery()
        await conn.execute(delete(agent_skills_t).where(a.agent_id == agent_id, a.skill_id.in_(ids)))
    for name, level in sorted(levels.items()):
        skill_id = await _skill_id(conn, name)
        await conn.execute(agent_skills_t.insert().values(agent_id=agent_id, skill_id=skill_id, level=level))


async def _skill_id(conn: AsyncConnection, name: str) -> int:
    found = (await conn.execute(select(skills_t.c.id).where(skills_t.c.name == name))).scalar_one_or_none()
    if found is not None:
        return int(found)
    return int(
        (await conn.execute(skills_t.insert().values(name=name).returning(skills_t.c.id))).scalar_one()
    )


async def _agent_id(conn: AsyncConnection, username: str) -> int:
    found = (
        await conn.execute(select(agents_t.c.id).where(agents_t.c.username == username))
    ).scalar_one_or_none()
    if found is None:
        raise UnknownAgent(username)
    return int(found)


class SkillRepository(Repository):
    async def of_agent(self, username: str) -> dict[str, int]:
        """``username``'s skills: name -> level, sorted by name."""
        async with self.db.reader.connect() as conn:
            agent_id = await _agent_id(conn, username)
            return (await read_skills(conn, [agent_id]))[agent_id]

    async def all(self) -> dict[str, dict[str, int]]:
        """Every active account's skills, by username (an account without skills maps to ``{}``)."""
        async with self.db.reader.connect() as conn:
            accounts = {
                int(i): str(u)
                for i, u in await conn.execute(
                    select(agents_t.c.id, agents_t.c.username)
                    .where(agents_t.c.active)
                    .order_by(agents_t.c.username)
                )
            }
            skills = await read_skills(conn, list(accounts))
        return {username: skills[i] for i, username in accounts.items()}

    async def replace(self, username: str, skills: Mapping[str, int]) -> dict[str, int]:
        """Make ``skills`` the whole of ``username``'s skills (``{}`` removes them all); returns them."""
        return await self.update(username, skills, replace=True)

    async def set(self, username: str, name: str, level: int) -> dict[str, int]:
        """Give ``username`` skill ``name`` at ``level`` (1..10), added or changed; returns all its skills."""
        return await self.update(username, {name: level})

    async def remove(self, username: str, name: str) -> dict[str, int]:
        """Take skill ``name`` from ``username`` (nothing happens if it has none); returns what is left."""
        return await self.update(username, {}, remove=[name])

    async def update(
        self,
        username: str,
        levels: Mapping[str, int],
        *,
        remove: Iterable[str] = (),
        replace: bool = False,
    ) -> dict[str, int]:
        """Set ``levels`` and remove ``remove`` in one transaction (``replace``: drop every other skill).

        Everything is checked before anything is written. Returns the agent's skills afterwards.
        """
        checked = check_skills(levels)
        gone = sorted({check_name(n) for n in remove})
        async with self.db.writing() as conn:
            agent_id = await _agent_id(conn, username)
            await write_skills(conn, agent_id, checked, replace=replace, remove=gone)
            return (await read_skills(conn, [agent_id]))[agent_id]

    async def languages_of(self, username: str) -> list[str]:
        """The languages ``username`` speaks (BCP 47 tags, sorted)."""
        async with self.db.reader.connect() as conn:
            return await self._languages(conn, await _agent_id(conn, username))

    async def all_languages(self) -> dict[str, list[str]]:
        """Every active account's languages, by username (none: ``[]``)."""
        lang = agent_languages_t.c
        async with self.db.reader.connect() as conn:
            found: dict[str, list[str]] = {
                str(u): []
                for (u,) in await conn.execute(
                    select(agents_t.c.username).where(agents_t.c.active).order_by(agents_t.c.username)
                )
            }
            for username, tag in await conn.execute(
                select(agents_t.c.username, lang.language)
                .join(agents_t, agents_t.c.id == lang.agent_id)
                .where(agents_t.c.active)
                .order_by(agents_t.c.username, lang.language)
            ):
                found[str(username)].append(str(tag))
        return found

    async def set_languages(self, username: str, languages: Iterable[str]) -> list[str]:
        """Make ``languages`` (BCP 47 tags, checked and put in their usual case) all ``username`` speaks."""
        tags = check_languages(languages)
        async with self.db.writing() as conn:
            agent_id = await _agent_id(conn, username)
            await conn.execute(delete(agent_languages_t).where(agent_languages_t.c.agent_id == agent_id))
            if tags:
                await conn.execute(
                    agent_languages_t.insert(), [{"agent_id": agent_id, "language": t} for t in tags]
                )
            return await self._languages(conn, agent_id)

    async def _languages(self, conn: AsyncConnection, agent_id: int) -> list[str]:
        lang = agent_languages_t.c
        result = await conn.execute(
            select(lang.language).where(lang.agent_id == agent_id).order_by(lang.language)
        )
        return [str(tag) for (tag,) in result]
