"""Outbound campaigns and their leads (``store.campaigns``), and the rule of who may be dialled now.

A lead is never dialled when its number is on the do-not-call list, its customer is flagged do-not-call
or has an open complaint, it is out of attempts or not due, or its local time is outside the campaign's
calling hours (docs/store.md).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cti.core.errors import UsageError
from cti.dialer.compliance import ABANDON_NO_REDIAL
from cti.dialer.eligibility import in_calling_hours as _in_calling_hours
from cti.dialer.recycling import ABANDONED, canonical, next_step, parse_rules
from cti.store.callbacks_repo import CallbackRepository
from cti.store.customers_repo import number_owners
from cti.store.database import (
    Repository,
    campaign_dispositions_t,
    campaigns_t,
    chunks,
    dial_attempts_t,
    dnc_t,
    fit,
    leads_t,
    lists_t,
    phones_t,
    prefs_t,
    tickets_t,
)
from cti.store.models import OPEN_TICKET_STATUSES

ABANDON_SECONDS = ABANDON_NO_REDIAL.total_seconds()


@dataclass(frozen=True, slots=True)
class CampaignDispositionRow:
    code: str
    final: bool = True
    sale: bool = False
    callback: bool = False


@dataclass(frozen=True, slots=True)
class LeadToCall:
    id: int
    campaign: str
    name: str
    number: str  # E.164
    raw: str  # as imported
    timezone: str
    attempts: int
    customer_id: int | None
    call_from_hour: int = 0  # the campaign's window in the lead's local time, checked again when a
    call_to_hour: int = 24  # lead fetched ahead (cti.delivery.hopper) is dialled


class CampaignRepository(Repository):
    async def upsert_campaign(
        self,
        name: str,
        *,
        queue: str = "",
        max_attempts: int = 3,
        retry_seconds: float = 3600.0,
        call_from_hour: int = 8,
        call_to_hour: int = 21,
        active: bool = True,
        recycling: str | None = None,
        require_call_consent: bool = False,
    ) -> int:
        """Create or update campaign ``name``; ``recycling`` is JSON outcome -> {delay, max}
        (cti.dialer.recycling.parse_rules, checked here)."""
        if not (0 <= call_from_hour <= 24 and 0 <= call_to_hour <= 24):
            raise UsageError("calling hours are 0..24")
        try:
            parse_rules(recycling)
        except ValueError as e:
            raise UsageError(str(e)) from None
        values = {
            "recycling": recycling,
            "require_call_consent": require_call_consent,
            "queue": queue,
            "max_attempts": max_attempts,
            "retry_seconds": retry_seconds,
            "call_from_hour": call_from_hour,
            "call_to_hour": call_to_hour,
            "active": active,
        }
        async with self.db.writing() as conn:
            await conn.execute(self.db.upsert(campaigns_t, {"name": name}, values))
            return int(
                (await conn.execute(select(campaigns_t.c.id).where(campaigns_t.c.name == name))).scalar_one()
            )

    async def upsert_campaign_if_missing(self, name: str) -> None:
        """Create campaign ``name`` with the default settings unless it exists (CSV import of leads)."""
        async with self.db.writing() as conn:
            await conn.execute(self.db.insert(campaigns_t).values(name=name).on_conflict_do_nothing())

    async def lead_list(self, campaign: str, name: str) -> int:
        """The id of lead list ``name`` in ``campaign`` (created if needed; the campaign must exist)."""
        async with self.db.writing() as conn:
            campaign_id = (
                await conn.execute(select(campaigns_t.c.id).where(campaigns_t.c.name == campaign))
            ).scalar_one_or_none()
            if campaign_id is None:
                raise UsageError(f"no campaign {campaign!r}")
            found = (
                await conn.execute(
                    select(lists_t.c.id).where(lists_t.c.campaign_id == campaign_id, lists_t.c.name == name)
                )
            ).scalar_one_or_none()
            if found is not None:
                return int(found)
            result = await conn.execute(
                lists_t.insert()
                .values(campaign_id=campaign_id, name=name, active=True)
                .returning(lists_t.c.id)
            )
            return int(result.scalar_one())

    async def callable_leads(
        self, campaign: str, *, now: float | None = None, limit: int = 100
    ) -> list[LeadToCall]:
        """Leads of ``campaign`` that may be dialled now, oldest due first.

        Never: a number on the do-not-call list, a customer flagged do-not-call, a customer with an open
        complaint (whether the lead is linked to the customer or only shares their number), a lead out
        of attempts or not due yet, or a lead whose local time is outside the campaign's calling hours.
        """
        at = time.time() if now is None else now
        ld = leads_t.c
        phone_owner = select(phones_t.c.customer_id).where(phones_t.c.e164 == ld.e164).correlate(leads_t)
        customer = or_(
            prefs_t.c.customer_id == ld.customer_id, prefs_t.c.customer_id.in_(phone_owner.scalar_subquery())
        )
        complaint_customer = or_(
            tickets_t.c.customer_id == ld.customer_id,
            tickets_t.c.customer_id.in_(phone_owner.scalar_subquery()),
        )
        query = (
            select(ld.id, ld.name, ld.e164, ld.raw, ld.timezone, ld.attempts, ld.customer_id, campaigns_t)
            .select_from(
                leads_t.join(lists_t, lists_t.c.id == ld.list_id).join(
                    campaigns_t, campaigns_t.c.id == lists_t.c.campaign_id
                )
            )
            .where(
                campaigns_t.c.name == campaign,
                campaigns_t.c.active,
                lists_t.c.active,
                ld.status.in_(("new", "retry")),
                ld.attempts < campaigns_t.c.max_attempts,
                or_(ld.next_attempt_at.is_(None), ld.next_attempt_at <= at),
                ~exists().where(dnc_t.c.e164 == ld.e164),
                ~exists().where(customer, prefs_t.c.do_not_call),
                ld.call_consent.is_not(False),
                ~exists().where(customer, prefs_t.c.consent_call.is_(False)),
                or_(
                    ~campaigns_t.c.require_call_consent,
                    ld.call_consent.is_(True),
                    exists().where(customer, prefs_t.c.consent_call.is_(True)),
                ),
                or_(ld.last_abandon_at.is_(None), ld.last_abandon_at <= at - ABANDON_SECONDS),
                ~exists().where(
                    complaint_customer,
                    tickets_t.c.kind == "complaint",
                    tickets_t.c.status.in_(OPEN_TICKET_STATUSES),
                ),
            )
            .order_by(func.coalesce(ld.next_attempt_at, 0), ld.id)
        )
        found: list[LeadToCall] = []
        offset = 0
        page = max(limit * 2, 100)
        async with self.db.reader.connect() as conn:
            while len(found) < limit:
                rows = (await conn.execute(query.limit(page).offset(offset))).mappings().all()
                for r in rows:
                    if not _in_calling_hours(
                        r["e164"], r["timezone"], at, r["call_from_hour"], r["call_to_hour"]
                    ):
                        continue
                    found.append(
                        LeadToCall(
                            id=r["id"],
                            campaign=campaign,
                            name=r["name"],
                            number=r["e164"],
                            raw=r["raw"],
                            timezone=r["timezone"],
                            attempts=r["attempts"],
                            customer_id=r["customer_id"],
                            call_from_hour=r["call_from_hour"],
                            call_to_hour=r["call_to_hour"],
                        )
                    )
                    if len(found) == limit:
                        break
                if len(rows) < page:
                    break
                offset += page
        return found

    async def record_lead_attempt(
        self, lead_id: int, outcome: str, *, at: float | None = None, agent: str | None = None
    ) -> str:
        """Count one dial of ``lead_id`` and recycle it by its outcome's rule (cti.dialer.recycling):
        returns the lead's new status (``retry``, or ``done`` with its final outcome)."""
        stamp = time.time() if at is None else at
        async with self.db.writing() as conn:
            row = (
                await conn.execute(
                    select(
                        leads_t.c.attempts,
                        leads_t.c.last_abandon_at,
                        campaigns_t.c.max_attempts,
                        campaigns_t.c.retry_seconds,
                        campaigns_t.c.recycling,
                    )
                    .select_from(
                        leads_t.join(lists_t, lists_t.c.id == leads_t.c.list_id).join(
                            campaigns_t, campaigns_t.c.id == lists_t.c.campaign_id
                        )
                    )
                    .where(leads_t.c.id == lead_id)
                )
            ).first()
            if row is None:
                raise UsageError(f"no lead {lead_id}")
            attempts = row.attempts + 1
            kind = canonical(outcome)
            # the attempts that ended with this outcome: the dials already recorded, and this one
            earlier = await conn.execute(
                select(dial_attempts_t.c.outcome).where(dial_attempts_t.c.lead_id == lead_id)
            )
            same = 1 + sum(1 for (o,) in earlier if canonical(o) == kind)
            abandon = stamp if kind == ABANDONED else row.last_abandon_at
            step = next_step(
                attempts=attempts,
                outcome=kind,
                at=stamp,
                campaign_max=row.max_attempts,
                retry_seconds=row.retry_seconds,
                rules=parse_rules(row.recycling),
                last_abandon_at=abandon,
                outcome_attempts=same,
            )
            values: dict[str, Any] = {
                "attempts": attempts,
                "status": step.status,
                "next_attempt_at": step.next_attempt_at,
                "last_attempt_at": stamp,
                "last_outcome": kind[:16],
                "last_abandon_at": abandon,
            }
            if agent is not None:
                values["agent"] = agent
            await conn.execute(update(leads_t).where(leads_t.c.id == lead_id).values(**values))
        return step.status

    async def set_dispositions(self, campaign: str, dispositions: Sequence[CampaignDispositionRow]) -> None:
        """Replace the dispositions of ``campaign`` (the list agents choose from)."""
        async with self.db.writing() as conn:
            campaign_id = await _campaign_id(conn, campaign)
            await conn.execute(
                delete(campaign_dispositions_t).where(campaign_dispositions_t.c.campaign_id == campaign_id)
            )
            if dispositions:
                await conn.execute(
                    campaign_dispositions_t.insert(),
                    [
                        {"campaign_id": campaign_id, "code": d.code, "final": d.final, "sale": d.sale}
                        | {"callback": d.callback}
                        for d in dispositions
                    ],
                )

    async def dispositions(self, campaign: str) -> list[CampaignDispositionRow]:
        async with self.db.reader.connect() as conn:
            campaign_id = await _campaign_id(conn, campaign)
            rows = await conn.execute(
                select(campaign_dispositions_t)
                .where(campaign_dispositions_t.c.campaign_id == campaign_id)
                .order_by(campaign_dispositions_t.c.code)
            )
            return [CampaignDispositionRow(r.code, r.final, r.sale, r.callback) for r in rows]

    async def dispose_lead(
        self,
        lead_id: int,
        code: str,
        *,
        agent: str,
        callback_at: float | None = None,
        queue: str = "",
        at: float | None = None,
    ) -> int | None:
        """Record disposition ``code`` on ``lead_id``. A final one ends the lead; a callback one with
        ``callback_at`` schedules a callback to the same ``agent`` (store.callbacks) and returns its id."""
        stamp = time.time() if at is None else at
        async with self.db.reader.connect() as conn:
            row = (
                await conn.execute(
                    select(leads_t.c.e164, campaigns_t.c.id, campaigns_t.c.name, campaigns_t.c.queue)
                    .select_from(
                        leads_t.join(lists_t, lists_t.c.id == leads_t.c.list_id).join(
                            campaigns_t, campaigns_t.c.id == lists_t.c.campaign_id
                        )
                    )
                    .where(leads_t.c.id == lead_id)
                )
            ).first()
            if row is None:
                raise UsageError(f"no lead {lead_id}")
            found = (
                await conn.execute(
                    select(campaign_dispositions_t).where(
                        campaign_dispositions_t.c.campaign_id == row.id,
                        campaign_dispositions_t.c.code == code,
                    )
                )
            ).first()
        if found is None:
            raise UsageError(f"campaign {row.name!r} has no disposition {code!r}")
        if found.callback and callback_at is None:
            raise UsageError(f"disposition {code!r} needs a callback time")
        values: dict[str, Any] = {"disposition": code, "agent": agent}
        if found.callback and callback_at is not None:
            # the lead waits for its callback (store.callbacks): the dialer does not dial it meanwhile
            values |= {"status": "done", "next_attempt_at": None, "last_outcome": "callback"}
        elif found.final:
            values |= {"status": "done", "next_attempt_at": None}
        async with self.db.writing() as conn:
            await conn.execute(update(leads_t).where(leads_t.c.id == lead_id).values(**values))
        if not (found.callback and callback_at is not None):
            return None
        callback = await CallbackRepository(self.db).add(
            row.e164,
            queue or row.queue,
            "disposition",
            due_at=callback_at,
            agent=agent,
            created_by=agent,
            note=f"campaign {row.name}, lead {lead_id}",
            at=stamp,
        )
        return None if callback is None else callback.id

    async def count_callable(self, campaign: str, *, now: float | None = None, limit: int = 100_000) -> int:
        """How many leads of ``campaign`` may be dialled now (bounded by ``limit``; the hopper's alarm)."""
        return len(await self.callable_leads(campaign, now=now, limit=limit))

    async def add_leads(self, list_id: int, leads: Sequence[Mapping[str, Any]]) -> dict[int, str]:
        """Add leads (``name``, ``raw``, ``e164``, ``timezone``, optional ``call_consent``) to a list in
        one transaction.

        A number already in any list of the same campaign is skipped: returns index -> the name of the
        list that holds it, for the skipped ones. Each lead is linked to the customer who holds its
        number, when there is one.
        """
        async with self.db.writing() as conn:
            campaign_id = (
                await conn.execute(select(lists_t.c.campaign_id).where(lists_t.c.id == list_id))
            ).scalar()
            if campaign_id is None:
                raise UsageError(f"no lead list {list_id}")
            existing: dict[str, str] = {}
            numbers = sorted({str(lead["e164"]) for lead in leads})
            for part in chunks(numbers):
                result = await conn.execute(
                    select(leads_t.c.e164, lists_t.c.name)
                    .select_from(leads_t.join(lists_t, lists_t.c.id == leads_t.c.list_id))
                    .where(lists_t.c.campaign_id == campaign_id, leads_t.c.e164.in_(part))
                )
                existing.update((r[0], r[1]) for r in result)
            this_list = (
                await conn.execute(select(lists_t.c.name).where(lists_t.c.id == list_id))
            ).scalar_one()
            owner = await number_owners(conn, numbers)
            rows, skipped = [], {}
            for i, lead in enumerate(leads):
                if lead["e164"] in existing:
                    skipped[i] = existing[lead["e164"]]
                    continue
                existing[lead["e164"]] = this_list
                rows.append(
                    fit(
                        leads_t,
                        {
                            "list_id": list_id,
                            "customer_id": owner.get(lead["e164"]),
                            "name": lead.get("name", ""),
                            "raw": lead.get("raw", ""),
                            "e164": lead["e164"],
                            "timezone": lead.get("timezone", ""),
                            "call_consent": lead.get("call_consent"),
                            "status": "new",
                            "attempts": 0,
                        },
                    )
                )
            if rows:
                await conn.execute(leads_t.insert(), rows)
        return skipped

    async def on_dnc(self, numbers: Sequence[str]) -> set[str]:
        """Which of ``numbers`` (E.164) are on a do-not-call list (internal or national)."""
        found: set[str] = set()
        async with self.db.reader.connect() as conn:
            for part in chunks(sorted(set(numbers))):
                result = await conn.execute(select(dnc_t.c.e164).where(dnc_t.c.e164.in_(part)))
                found.update(r[0] for r in result)
        return found

    async def lead_records(self, list_id: int) -> list[dict[str, Any]]:
        async with self.db.reader.connect() as conn:
            result = await conn.execute(
                select(leads_t).where(leads_t.c.list_id == list_id).order_by(leads_t.c.id)
            )
            return [dict(r) for r in result.mappings()]


async def _campaign_id(conn: AsyncConnection, campaign: str) -> int:
    found = (await conn.execute(select(campaigns_t.c.id).where(campaigns_t.c.name == campaign))).scalar()
    if found is None:
        raise UsageError(f"no campaign {campaign!r}")
    return int(found)
