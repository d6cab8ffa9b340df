"""The caller lookup in one round trip: the whole screen-pop payload from a single SQL statement.

A pop must be on the agent's screen before the phone rings, so the lookup cannot afford one query per
part (card, phones, do-not-call, tickets, history: five round trips, each a thread hop on aiosqlite and a
network round trip on PostgreSQL). Instead the per-customer lists come back as JSON arrays built by the
database (``json_group_array``/``json_array`` on SQLite, ``json_agg``/``json_build_array`` on
PostgreSQL) and are decoded here. Every list is re-sorted in Python, so nothing depends on the order an
aggregate happens to see its rows in. Every value is a bound parameter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cti.store.caller import CallerLookup, CustomerCard, DoNotCall, InteractionSummary, TicketSummary
from cti.store.models import OPEN_TICKET_STATUSES

_OPEN = ", ".join(f"'{s}'" for s in OPEN_TICKET_STATUSES)  # constants of our own, never user input
_FUNCTIONS = {"sqlite": ("json_group_array", "json_array"), "postgresql": ("json_agg", "json_build_array")}


def _saved(column: str) -> str:
    """The interaction's own copy, else the latest one saved (a disposition racing the record's write)."""
    return (
        f"COALESCE(h.{column}, (SELECT d.{column} FROM dispositions d WHERE d.linkedid = h.linkedid "
        "ORDER BY d.saved_at DESC, d.agent DESC LIMIT 1))"
    )


_HISTORY_COLUMNS = (
    "h.linkedid, h.started_at, h.direction, h.queue, h.agent, h.outcome, "
    f"{_saved('disposition')}, {_saved('notes')}, h.ended_at, h.recording_ref, h.id"
)
_TICKET_COLUMNS = (
    "t.id, t.kind, t.subject, t.status, t.category, t.priority, t.owner, t.due_at, t.escalation_level, "
    "t.opened_at"
)


def _history(agg: str, arr: str, where: str) -> str:
    return (
        f"(SELECT {agg}({arr}({_HISTORY_COLUMNS})) FROM (SELECT * FROM interactions i WHERE {where} "
        "ORDER BY i.started_at DESC, i.id DESC LIMIT :history) h)"
    )


def _dnc(arr: str) -> str:
    return "(SELECT " + arr + "(d.source, d.added_at, d.reason) FROM dnc_numbers d WHERE d.e164 = :e164)"


def customers_sql(dialect: str) -> str:
    """One row per customer holding ``:e164`` (at most ``:shared``), each with its lists as JSON."""
    agg, arr = _FUNCTIONS[dialect]
    return f"""
SELECT c.id, c.name, c.company, c.email, c.owner, c.language, c.lifecycle, c.tags, c.notes, c.tier,
       c.rfm_recency, c.rfm_frequency, c.rfm_monetary, c.at_risk,
       cp.do_not_call, cp.dnc_source, cp.dnc_at,
       (SELECT {agg}({arr}(x.e164, x.is_primary, x.id)) FROM customer_phones x WHERE x.customer_id = c.id)
         AS phones,
       (SELECT {agg}({arr}({_TICKET_COLUMNS})) FROM tickets t
         WHERE t.customer_id = c.id AND t.status IN ({_OPEN})) AS tickets,
       {_history(agg, arr, "i.customer_id = c.id")} AS history,
       {_dnc(arr)} AS number_dnc
FROM customer_phones p
JOIN customers c ON c.id = p.customer_id
LEFT JOIN contact_preferences cp ON cp.customer_id = c.id
WHERE p.e164 = :e164
ORDER BY p.is_primary DESC, c.id
LIMIT :shared
"""


def unknown_sql(dialect: str) -> str:
    """For a number no customer holds: its do-not-call entry and its recent calls."""
    agg, arr = _FUNCTIONS[dialect]
    where = (
        "i.remote_e164 = :e164 AND i.customer_id IS NULL"  # the partial index ix_interactions_unlinked_remote
    )
    return f"SELECT {_dnc(arr)} AS number_dnc, {_history(agg, arr, where)} AS history"


CUSTOMER_COLUMNS = (
    "id", "name", "company", "email", "owner", "language", "lifecycle", "tags", "notes", "tier",
    "rfm_recency", "rfm_frequency", "rfm_monetary", "at_risk", "do_not_call", "dnc_source", "dnc_at",
    "phones", "tickets", "history", "number_dnc",
)  # fmt: skip
UNKNOWN_COLUMNS = ("number_dnc", "history")
_PARAMS = ("e164", "history", "shared")


def for_driver(sql: str, dialect: str) -> str:
    """``sql`` in the driver's own parameter style: sqlite3 takes ``:name``; asyncpg takes ``$n``."""
    if dialect == "postgresql":
        for n, name in enumerate(_PARAMS, start=1):
            sql = sql.replace(f":{name}", f"${n}")
    return sql


def driver_args(sql: str, dialect: str, params: Mapping[str, Any]) -> Any:
    """The parameters for :func:`for_driver`'s statement: a dict for sqlite3, positions for asyncpg."""
    if dialect == "postgresql":
        return [params[name] for n, name in enumerate(_PARAMS, start=1) if f"${n}" in sql]
    return dict(params)


def _json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value  # a driver that already decoded it, or NULL


def _history_items(value: Any) -> list[InteractionSummary]:
    rows = sorted(_json(value) or [], key=lambda h: (h[1], h[10]), reverse=True)
    return [
        InteractionSummary(
            linkedid=h[0],
            at=float(h[1]),
            direction=h[2],
            queue=h[3],
            agent=h[4],
            outcome=h[5],
            disposition=h[6],
            notes=h[7],
            duration=None if h[8] is None else max(0.0, float(h[8]) - float(h[1])),
            recording_ref=h[9],
        )
        for h in rows
    ]


def _dnc_entry(value: Any) -> DoNotCall | None:
    entry = _json(value)
    return DoNotCall(entry[0], entry[1], entry[2]) if entry else None


def _tickets(value: Any) -> list[TicketSummary]:
    rows = sorted(_json(value) or [], key=lambda t: (-float(t[9]), t[0]))
    return [
        TicketSummary(
            id=t[0],
            kind=t[1],
            subject=t[2],
            status=t[3],
            category=t[4],
            priority=t[5],
            owner=t[6],
            due_at=t[7],
            escalation_level=int(t[8]),
            opened_at=float(t[9]),
        )
        for t in rows
    ]


def _card(row: Mapping[Any, Any]) -> CustomerCard:
    phones = sorted(_json(row["phones"]) or [], key=lambda p: (not p[1], p[2]))
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
        phones=[p[0] for p in phones],
        notes=row["notes"],
        do_not_call=dnc,
        interactions=_history_items(row["history"]),
        open_complaints=[t for t in tickets if t.kind == "complaint"],
        open_tickets=[t for t in tickets if t.kind != "complaint"],
    )


def known(dialled: str, e164: str, rows: list[Mapping[Any, Any]]) -> CallerLookup:
    return CallerLookup(dialled, e164, [_card(r) for r in rows], _dnc_entry(rows[0]["number_dnc"]))


def unknown(dialled: str, e164: str, row: Mapping[Any, Any]) -> CallerLookup:
    return CallerLookup(dialled, e164, [], _dnc_entry(row["number_dnc"]), _history_items(row["history"]))
