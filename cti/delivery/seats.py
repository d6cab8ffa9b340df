"""Agents' seats for delivery, from the store: member name, extension (accounts) and skills (skills)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from cti.core.ids import AgentId
from cti.delivery.service import AgentSeat
from cti.screenpop.actions import extension_of


class AccountSource(Protocol):
    """``store.accounts`` (cti/store/accounts_repo.py)."""

    async def agents(self) -> list[Any]: ...


class SkillSource(Protocol):
    """``store.skills`` (cti/store/skills_repo.py): skills by account username."""

    async def replace(self, username: str, skills: Mapping[str, int]) -> dict[str, int]: ...


class StoreSeats:
    def __init__(self, accounts: AccountSource, skills: SkillSource) -> None:
        self.accounts = accounts
        self.skills = skills

    async def _agents(self) -> list[Any]:
        return [a for a in await self.accounts.agents() if a.role == "agent" and a.member_name]

    @staticmethod
    def _seat(a: Any, skills: Mapping[str, int]) -> AgentSeat:
        ext = a.extension or extension_of(a.interface) or ""
        return AgentSeat(AgentId(a.member_name), ext, dict(skills), a.username)

    async def seats(self) -> list[AgentSeat]:
        return [self._seat(a, a.skills) for a in await self._agents()]

    async def save_skills(self, member: AgentId, skills: Mapping[str, int]) -> AgentSeat | None:
        for a in await self._agents():
            if a.member_name == member:
                return self._seat(a, await self.skills.replace(a.username, skills))
        return None
