"""Agents' seats for delivery, from the store's accounts: member name, extension and skills."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from cti.core.ids import AgentId
from cti.delivery.service import AgentSeat
from cti.screenpop.actions import extension_of


class AccountSource(Protocol):
    async def agents(self) -> list[Any]: ...

    async def upsert_agent(self, *args: Any, **kwargs: Any) -> None: ...


class StoreSeats:
    def __init__(self, accounts: AccountSource) -> None:
        self.accounts = accounts

    async def seats(self) -> list[AgentSeat]:
        out = []
        for a in await self.accounts.agents():
            if a.role != "agent" or not a.member_name:
                continue
            ext = a.extension or extension_of(a.interface) or ""
            out.append(AgentSeat(AgentId(a.member_name), ext, dict(a.skills), a.username))
        return out

    async def save_skills(self, member: AgentId, skills: Mapping[str, int]) -> AgentSeat | None:
        for a in await self.accounts.agents():
            if a.member_name == member:
                await self.accounts.upsert_agent(
                    a.username,
                    None,
                    a.role,
                    a.member_name,
                    a.interface,
                    a.display_name,
                    extension=a.extension,
                    skills=dict(skills),
                )
                ext = a.extension or extension_of(a.interface) or ""
                return AgentSeat(member, ext, dict(skills), a.username)
        return None
