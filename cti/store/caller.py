"""What a caller lookup returns: the screen pop's payload.

Strings are data: a customer called ``<img onerror=...>`` comes back exactly so, never HTML-escaped
here. Rendering (and escaping) is the user interface's job; ``to_json()`` gives plain JSON-able values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class InteractionSummary:
    linkedid: str
    at: float  # epoch seconds the call started
    direction: str
    queue: str | None
    agent: str | None
    outcome: str | None
    disposition: str | None
    notes: str | None
    duration: float | None  # seconds from start to end, when it ended
    recording_ref: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class TicketSummary:
    id: int
    kind: str  # "complaint" or "ticket"
    subject: str
    status: str
    category: str
    priority: str
    owner: str
    due_at: float | None
    escalation_level: int
    opened_at: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class DoNotCall:
    """Why a customer or number must not be called (``source``: customer request, national list...)."""

    source: str
    since: float | None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ContactSummary:
    """One e-mail contact of the customer (issue #13): an e-mail received ("email"), the agent's reply
    ("reply") or documents e-mailed ("documents", with their status: pending, sent, failed)."""

    kind: str
    at: float
    subject: str
    status: str
    agent: str | None
    detail: str = ""  # the documents' names; a failed sending's last error

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class CustomerCard:
    id: int
    name: str
    company: str
    email: str
    owner: str  # account manager
    language: str
    lifecycle: str
    tags: list[str]
    tier: str  # "A", "B" or "C"
    rfm_score: int  # 3..15 (recency + frequency + monetary, each 1..5)
    rfm_code: str  # e.g. "545"
    at_risk: bool
    phones: list[str]  # E.164, primary first
    notes: str = ""
    do_not_call: DoNotCall | None = None
    interactions: list[InteractionSummary] = field(default_factory=list)  # newest first
    open_complaints: list[TicketSummary] = field(default_factory=list)
    open_tickets: list[TicketSummary] = field(default_factory=list)
    contacts: list[ContactSummary] = field(default_factory=list)  # e-mails and documents, newest first

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "company": self.company,
            "email": self.email,
            "owner": self.owner,
            "language": self.language,
            "lifecycle": self.lifecycle,
            "tags": list(self.tags),
            "tier": self.tier,
            "rfm_score": self.rfm_score,
            "rfm_code": self.rfm_code,
            "at_risk": self.at_risk,
            "phones": list(self.phones),
            "notes": self.notes,
            "do_not_call": self.do_not_call is not None,
            "do_not_call_source": self.do_not_call.source if self.do_not_call else None,
            "do_not_call_since": self.do_not_call.since if self.do_not_call else None,
            "interactions": [i.to_json() for i in self.interactions],
            "open_complaints": [t.to_json() for t in self.open_complaints],
            "open_tickets": [t.to_json() for t in self.open_tickets],
            "contacts": [c.to_json() for c in self.contacts],
        }


@dataclass(frozen=True, slots=True)
class CallerLookup:
    dialled: str  # the number exactly as it arrived
    normalized: str | None  # E.164, or None when it is no usable number (anonymous, garbage)
    customers: list[CustomerCard] = field(default_factory=list)  # several when a number is shared
    number_do_not_call: DoNotCall | None = None  # the number itself is on the do-not-call list
    recent_calls: list[InteractionSummary] = field(default_factory=list)  # by number, unknown callers

    @property
    def known(self) -> bool:
        return bool(self.customers)

    def to_json(self) -> dict[str, Any]:
        return {
            "dialled": self.dialled,
            "normalized": self.normalized,
            "known": self.known,
            "customers": [c.to_json() for c in self.customers],
            "number_do_not_call": self.number_do_not_call.to_json() if self.number_do_not_call else None,
            "recent_calls": [i.to_json() for i in self.recent_calls],
        }
