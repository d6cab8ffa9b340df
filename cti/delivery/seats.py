"""Agents' seats for delivery, from the store's accounts: member name, extension and skills."""

from __future__ import annotations

from typing import Any, Protocol

from cti.core.ids import AgentId
from cti.delivery.service import AgentSeat
from cti.screenpop.actions import extension_of


class AccountSource(Protocol):
    async def agents(self) -> list[Any]: ...


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
