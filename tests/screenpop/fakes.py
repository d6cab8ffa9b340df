"""Fakes for the console tests: an in-memory store and an AMI link that records what it is asked.

Unit tests only; the end-to-end tests use the real store and the simulated Asterisk.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from cti.asterisk.ami import Message
from cti.core.ids import AgentId


@dataclass
class FakeAccount:
    username: str
    role: str
    member_name: str | None


@dataclass
class FakeLookup:
    number: str
    customers: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "normalized": self.number, "customers": self.customers}


@dataclass
class FakeStore:
    accounts: dict[str, tuple[str, FakeAccount]] = field(default_factory=dict)
    customers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    dispositions: list[tuple[str, str, str, str]] = field(default_factory=list)
    disposition_servers: list[str] = field(default_factory=list)  # the server each was saved for
    lookups: list[str] = field(default_factory=list)
    delay: float = 0.0
    gate: asyncio.Event | None = None  # every lookup waits for it
    gates: dict[str, asyncio.Event] = field(default_factory=dict)  # lookups of one number wait for it
    down: bool = False  # the database is unreachable: account checks raise

    @classmethod
    def demo(cls) -> FakeStore:
        store = cls()
        for user, member in (("alice", "Alice"), ("bob", "Bob")):
            store.accounts[user] = ("demo", FakeAccount(user, "agent", member))
        store.accounts["super"] = ("demo", FakeAccount("super", "supervisor", None))
        store.customers["+14155550101"] = [
            {
                "id": 7,
                "name": "Jane Roe",
                "tier": "A",
                "owner": "Alice",
                "do_not_call": False,
                "open_complaints": [{"subject": "late delivery"}],
                "last_interactions": [],
            }
        ]
        return store

    async def authenticate(self, username: str, password: str) -> FakeAccount | None:
        if self.down:
            raise ConnectionRefusedError("connection to the database refused")
        entry = self.accounts.get(username)
        return entry[1] if entry and entry[0] == password else None

    async def lookup_caller(self, number: str) -> FakeLookup:
        self.lookups.append(number)
        if self.gate is not None:
            await self.gate.wait()
        if number in self.gates:
            await self.gates[number].wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        return FakeLookup(number, self.customers.get(number, []))

    async def save_disposition(
        self, linkedid: str, agent: str, disposition: str, notes: str, *, server: str = ""
    ) -> None:
        self.dispositions.append((linkedid, agent, disposition, notes))
        self.disposition_servers.append(server)


@dataclass
class FakeLink:
    """An AMI link that answers every action like Asterisk does on success (or refuses, when told)."""

    sent: list[dict[str, str]] = field(default_factory=list)
    refuse: str | None = None

    async def send_action(self, action: dict[str, str]) -> Message:
        self.sent.append(dict(action))
        if self.refuse:
            return Message.of(("Response", "Error"), ("Message", self.refuse))
        return Message.of(("Response", "Success"), ("Message", "ok"))


@dataclass
class FakeChannels:
    agent_channels: dict[tuple[str, str], str] = field(default_factory=dict)
    caller_channels: dict[str, str] = field(default_factory=dict)

    async def agent_channel(self, server: str, linkedid: str, agent: AgentId) -> str | None:
        return self.agent_channels.get((linkedid, agent))

    async def caller_channel(self, server: str, linkedid: str) -> str | None:
        return self.caller_channels.get(linkedid)
