"""The caller lookup in one round trip: the whole screen-pop payload from a single SQL statement.

A pop must be on the agent's screen before the phone rings, so the lookup cannot afford one query per
part (card, phones, do-not-call, tickets, history: five round trips, each a thread hop on aiosqlite and a
network round trip on PostgreSQL). Instead the per-customer lists come back as JSON arrays of objects
built by the database (``json_group_array``/``json_object`` on SQLite, ``json_agg``/``json_build_object``
on PostgreSQL) and are decoded here, by name: the rows by their column names, the list items by their
keys. Every list is re-sorted in Python, so nothing depends on the order an aggregate happens to see its
rows in. Every value is a SQLAlchemy bind parameter (``:e164``, ``:history``, ``:shared``); the
statements are compiled once per dialect into the driver's own parameter style (:class:`DriverStatement`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, bindparam, text
from sqlalchemy.engine import Dialect

from cti.store.caller import (
    CallerLookup,
    ContactSummary,
    CustomerCard,
    DoNotCall,
    InteractionSummary,
    TicketSummary,
)
from cti.store.models import OPEN_TICKET_STATUSES

_OPEN = ", ".join(f"'{s}'" for s in OPEN_TICKET_STATUSES)  # constants of our own, never user input
_FUNCTIONS = {"sqlite": ("json_group_array", "json_object"), "postgresql": ("json_agg", "json_build_object")}
_PARAMS = (
    bindparam("e164", type_=String()),
    bindparam("history", type_=Integer()),
    bindparam("shared", type_=Integer()),
)


def _saved(column: str) -> str:
    """The interaction's own copy, else the latest one saved (a disposition racing the record's write)."""
    return (
        f"COALESCE(h.{column}, (SELECT d.{column} FROM dispositions d "
        "WHERE d.server = h.server AND d.linkedid = h.linkedid "
        "ORDER BY d.saved_at DESC, d.agent DESC LIMIT 1))"
    )


def _object(obj: str, fields: Mapping[str, str]) -> str:
    """A JSON object of ``fields`` (key -> SQL expression): ``json_object('k', v, ...)`` and the like."""
    pairs = ", ".join(f"'{k}', {v}" for k, v in fields.items())
    return f"{obj}({pairs})"


_HISTORY_FIELDS = {
    "linkedid": "h.linkedid",
    "started_at": "h.started_at",
    "direction": "h.direction",
    "queue": "h.queue",
    "agent": "h.agent",
    "outcome": "h.outcome",
    "disposition": _saved("disposition"),
    "notes": _saved("notes"),
    "ended_at": "h.ended_at",
    "recording_ref": "h.recording_ref",
    "id": "h.id",
}
_TICKET_FIELDS = {
    name: f"t.{name}"
    for name in (
        "id", "kind", "subject", "status", "category", "priority", "owner", "due_at", "escalation_level",
        "opened_at",
    )
}  # fmt: skip
_PHONE_FIELDS = {"e164": "x.e164", "is_primary": "x.is_primary", "id": "x.id"}
_EMAIL_FIELDS = {
    name: f"e.{name}"
    for name in ("id", "subject", "received", "state", "agent", "answered_at", "disposition")
}
_FULFILMENT_FIELDS = {
    name: f"f.{name}" for name in ("id", "names", "requested_at", "sent_at", "status", "agent", "last_error")
}
_DNC_FIELDS = {"source": "d.source", "added_at": "d.added_at", "reason": "d.reason"}


def _history(agg: str, obj: str, where: str) -> str:
    return (
        f"(SELECT {agg}({_object(obj, _HISTORY_FIELDS)}) FROM (SELECT * FROM interactions i WHERE {where} "
        "ORDER BY i.started_at DESC, i.id DESC LIMIT :history) h)"
    )


def _contacts(agg: str, obj: str) -> str:
    """The customer's latest e-mails (each the original and its reply) and document sendings."""
    return (
        f"(SELECT {agg}({_object(obj, _EMAIL_FIELDS)}) FROM (SELECT * FROM email_tasks x "
        "WHERE x.customer_id = c.id ORDER BY x.received DESC, x.id DESC LIMIT :history) e) AS emails,\n"
        f"       (SELECT {agg}({_object(obj, _FULFILMENT_FIELDS)}) FROM (SELECT * FROM fulfilments y "
        "WHERE y.customer_id = c.id ORDER BY y.requested_at DESC, y.id DESC LIMIT :history) f) AS fulfilments"
    )


def _dnc(obj: str) -> str:
    return f"(SELECT {_object(obj, _DNC_FIELDS)} FROM dnc_numbers d WHERE d.e164 = :e164)"


def customers_sql(dialect: str) -> str:
    """One row per customer holding ``:e164`` (at most ``:shared``), each with its lists as JSON."""
    agg, obj = _FUNCTIONS[dialect]
    return f"""
SELECT c.id, c.name, c.company, c.email, c.owner, c.language, c.lifecycle, c.tags, c.notes, c.tier,
       c.rfm_recency, c.rfm_frequency, c.rfm_monetary, c.at_risk,
       cp.do_not_call, cp.dnc_source, cp.dnc_at,
       (SELECT {agg}({_object(obj, _PHONE_FIELDS)}) FROM customer_phones x WHERE x.customer_id = c.id)
         AS phones,
       (SELECT {agg}({_object(obj, _TICKET_FIELDS)}) FROM tickets t
         WHERE t.customer_id = c.id AND t.status IN ({_OPEN})) AS tickets,
       {_history(agg, obj, "i.customer_id = c.id")} AS history,
       {_contacts(agg, obj)},
       {_dnc(obj)} AS number_dnc
FROM customer_phones p
JOIN customers c ON c.id = p.customer_id
LEFT JOIN contact_preferences cp ON cp.customer_id = c.id
WHERE p.e164 = :e164
ORDER BY p.is_primary DESC, c.id
LIMIT :shared
"""


def unknown_sql(dialect: str) -> str:
    """For a number no customer holds: its do-not-call entry and its recent calls."""
    agg, obj = _FUNCTIONS[dialect]
    where = (
        "i.remote_e164 = :e164 AND i.customer_id IS NULL"  # the partial index ix_interactions_unlinked_remote
    )
    return f"SELECT {_dnc(obj)} AS number_dnc, {_history(agg, obj, where)} AS history"


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """A statement with bind parameters, compiled for one dialect: the driver's SQL and its argument order.

    The pop skips SQLAlchemy's execution and result machinery (one thread hop on aiosqlite, one round
    trip on asyncpg); SQLAlchemy still renders the parameters (``?`` for sqlite3, ``$n`` for asyncpg).
    """

    sql: str
    names: tuple[str, ...]  # the bind parameter of each position

    @classmethod
    def compile(cls, sql: str, dialect: Dialect) -> DriverStatement:
        used = tuple(p for p in _PARAMS if f":{p.key}" in sql)
        compiled = text(sql).bindparams(*used).compile(dialect=dialect)
        return cls(compiled.string, tuple(compiled.positiontup or ()))

    def args(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(params[name] for name in self.names)


def _json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value  # a driver that already decoded it, or NULL


def _history_items(value: Any) -> list[InteractionSummary]:
    rows = sorted(_json(value) or [], key=lambda h: (h["started_at"], h["id"]), reverse=True)
    return [
        InteractionSummary(
            linkedid=h["linkedid"],
            at=float(h["started_at"]),
            direction=h["direction"],
            queue=h["queue"],
            agent=h["agent"],
            outcome=h["outcome"],
            disposition=h["disposition"],
            notes=h["notes"],
            duration=None
            if h["ended_at"] is None
            else max(0.0, float(h["ended_at"]) - float(h["started_at"])),
            recording_ref=h["recording_ref"],
        )
        for h in rows
    ]


def _contact_items(emails: Any, fulfilments: Any) -> list[ContactSummary]:
    """Newest first: each e-mail, its reply once sent, each document sending (at most ``:history`` e-mails
    and ``:history`` sendings: the SQL keeps the latest)."""
    out: list[ContactSummary] = []
    for e in _json(emails) or []:
        out.append(ContactSummary("email", float(e["received"]), e["subject"], e["state"], e["agent"]))
        if e["answered_at"] is not None:
            out.append(
                ContactSummary(
                    "reply", float(e["answered_at"]), e["subject"], e["disposition"] or "sent", e["agent"]
                )
            )
    for f in _json(fulfilments) or []:
        at = f["sent_at"] if f["sent_at"] is not None else f["requested_at"]
        detail = f["names"] if f["status"] != "failed" else f"{f['names']}: {f['last_error']}"
        out.append(ContactSummary("documents", float(at), "", f["status"], f["agent"] or None, detail))
    out.sort(key=lambda c: (c.at, c.kind), reverse=True)
    return out


def _dnc_entry(value: Any) -> DoNotCall | None:
    entry = _json(value)
    return DoNotCall(entry["source"], entry["added_at"], entry["reason"]) if entry else None


def _tickets(value: Any) -> list[TicketSummary]:
    rows = sorted(_json(value) or [], key=lambda t: (-float(t["opened_at"]), t["id"]))
    return [
        TicketSummary(
            **{
                k: t[k]
                for k in ("id", "kind", "subject", "status", "category", "priority", "owner", "due_at")
            },
            escalation_level=int(t["escalation_level"]),
            opened_at=float(t["opened_at"]),
        )
        for t in rows
    ]


def _card(row: Mapping[Any, Any]) -> CustomerCard:
    phones = sorted(_json(row["phones"]) or [], key=lambda p: (not p["is_primary"], p["id"]))
    tickets = _tickets(row["tickets"])
    dnc = _dnc_entry(row["number_dnc"])
    if row["do_not_call"]:
        dnc = DoNotCall(row["dnc_source"] or "customer", row["dnc_at"])
    r, f, m = row["rfm_recency"], row["rfm_frequency"], row["rfm_monetary"]
    return CustomerCard(
        id=row["id"],
        name=row["name"],
        company=row["company"],
        email=row["email"],
        owner=row["owner"],
        language=row["language"],
        lifecycle=row["lifecycle"],
        tags=list(_json(row["tags"]) or []),
        tier=row["tier"],
        rfm_score=r + f + m,
        rfm_code=f"{r}{f}{m}",
        at_risk=bool(row["at_risk"]),
        phones=[p["e164"] for p in phones],
        notes=row["notes"],
        do_not_call=dnc,
        interactions=_history_items(row["history"]),
        open_complaints=[t for t in tickets if t.kind == "complaint"],
        open_tickets=[t for t in tickets if t.kind != "complaint"],
        contacts=_contact_items(row["emails"], row["fulfilments"]),
    )


def known(dialled: str, e164: str, rows: Sequence[Mapping[str, Any]]) -> CallerLookup:
    return CallerLookup(dialled, e164, [_card(r) for r in rows], _dnc_entry(rows[0]["number_dnc"]))


def unknown(dialled: str, e164: str, row: Mapping[Any, Any]) -> CallerLookup:
    return CallerLookup(dialled, e164, [], _dnc_entry(row["number_dnc"]), _history_items(row["history"]))
