"""The campaigns' settings and run state (``store.campaign_settings``; columns of ``campaigns``, 0009).

What is kept and checked is cti.dialer.settings'; this repository loads and saves it, seeds the
campaigns of cti.toml at start (``seed``: cti.toml wins for the dialling fields it names), and gives the
campaign page its stored figures (dials, contacts, leads by status) and the budgets for the campaign
report's cost per conversion.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from cti.core.errors import UsageError
from cti.dialer import settings as s
from cti.dialer.recycling import Disposition, dump_rules, own_rules
from cti.store.database import (
    Repository,
    campaign_dispositions_t,
    campaigns_t,
    dial_attempts_t,
    leads_t,
    lists_t,
)

COLUMNS = {
    "mode": "mode",
    "queue": "queue",
    "channel": "channel",
    "caller_id": "caller_id",
    "max_lines": "max_lines",
    "ring_timeout": "ring_timeout",
    "amd_machine": "amd_machine",
    "script": "script",
    "call_from_hour": "call_from_hour",
    "call_to_hour": "call_to_hour",
    "abandon_target": "abandon_target",
    "budget": "budget",
    "currency": "currency",
}


@dataclass(frozen=True, slots=True)
class StoredFigures:
    """A campaign's figures from the store: every dial recorded, and its leads by status."""

    dials: int
    contacts: int  # live answers (a person answered)
    abandoned: int
    machines: int
    leads: dict[str, int]  # status -> leads (new, retry, done, failed)


def _settings(r: RowMapping, dispositions: tuple[Disposition, ...] = ()) -> s.CampaignSettings:
    return s.CampaignSettings(
        name=r["name"],
        mode=r["mode"],
        queue=r["queue"],
        channel=r["channel"],
        caller_id=r["caller_id"],
        max_lines=r["max_lines"],
        ring_timeout=float(r["ring_timeout"]),
        amd_machine=r["amd_machine"],
        script=r["script"],
        blended=tuple(a for a in r["blended"].split("\n") if a),
        call_from_hour=r["call_from_hour"],
        call_to_hour=r["call_to_hour"],
        regime=s.Regime(r["abandon_regime"]),
        abandon_target=r["abandon_target"],
        budget=r["budget"],
        currency=r["currency"],
        recycling=tuple(sorted(own_rules(r["recycling"]).items())),
        dispositions=dispositions,
        state=s.State(r["state"]),
    )


def _row(c: s.CampaignSettings) -> dict[str, Any]:
    row = {col: getattr(c, key) for key, col in COLUMNS.items()}
    row.update(
        blended="\n".join(c.blended),
        recycling=dump_rules(dict(c.recycling)) if c.recycling else None,
        abandon_regime=c.regime.value,
        state=c.state.value,
        updated_at=time.time(),
    )
    return row


async def _dispositions(
    conn: AsyncConnection, campaign_id: int | None = None
) -> dict[int, list[Disposition]]:
    d = campaign_dispositions_t.c
    query = select(campaign_dispositions_t).order_by(d.campaign_id, d.code)
    if campaign_id is not None:
        query = query.where(d.campaign_id == campaign_id)
    out: dict[int, list[Disposition]] = {}
    for r in await conn.execute(query):
        out.setdefault(r.campaign_id, []).append(Disposition(r.code, r.final, r.sale, r.callback))
    return out


async def _write_dispositions(
    conn: AsyncConnection, name: str, dispositions: tuple[Disposition, ...]
) -> None:
    cid = (await conn.execute(select(campaigns_t.c.id).where(campaigns_t.c.name == name))).scalar_one()
    await conn.execute(delete(campaign_dispositions_t).where(campaign_dispositions_t.c.campaign_id == cid))
    if dispositions:
        await conn.execute(
            campaign_dispositions_t.insert(),
            [{"campaign_id": cid, "code": d.code, "final": d.final, "sale": d.sale} | {"callback": d.callback}
             for d in dispositions],
        )  # fmt: skip


class CampaignSettingsRepository(Repository):
    async def all(self) -> list[s.CampaignSettings]:
        async with self.db.reader.connect() as conn:
            rows = (await conn.execute(select(campaigns_t).order_by(campaigns_t.c.name))).mappings().all()
            codes = await _dispositions(conn)
        return [_settings(r, tuple(codes.get(r["id"], ()))) for r in rows]

    async def get(self, name: str) -> s.CampaignSettings | None:
        async with self.db.reader.connect() as conn:
            row = (
                (await conn.execute(select(campaigns_t).where(campaigns_t.c.name == name))).mappings().first()
            )
            if row is None:
                return None
            codes = await _dispositions(conn, row["id"])
        return _settings(row, tuple(codes.get(row["id"], ())))

    async def create(self, c: s.CampaignSettings) -> None:
        """A new campaign; one of that name already: UsageError."""
        async with self.db.writing() as conn:
            found = await conn.execute(select(campaigns_t.c.id).where(campaigns_t.c.name == c.name))
            if found.first() is not None:
                raise UsageError(f"campaign {c.name!r} exists")
            await conn.execute(campaigns_t.insert().values(name=c.name, **_row(c)))
            await _write_dispositions(conn, c.name, c.dispositions)

    async def save(self, c: s.CampaignSettings) -> None:
        """Write every setting and the state of existing campaign ``c.name``."""
        async with self.db.writing() as conn:
            result = await conn.execute(
                update(campaigns_t).where(campaigns_t.c.name == c.name).values(**_row(c))
            )
            if result.rowcount == 0:
                raise UsageError(f"no campaign {c.name!r}")
            await _write_dispositions(conn, c.name, c.dispositions)

    async def seed(self, configured: Iterable[Mapping[str, Any]]) -> list[s.CampaignSettings]:
        """The campaigns of cti.toml (``[[dialer.campaign]]`` as mappings): created or updated
        (cti.dialer.settings.seeded says which fields win); returns them as stored."""
        out = []
        for values in configured:
            name = str(values["name"])
            existing = await self.get(name)
            c = s.seeded(existing, name, values)
            if existing is None:
                await self.create(c)
            else:
                await self.save(c)
            out.append(c)
        return out

    async def budgets(self) -> dict[str, float]:
        """campaign -> budget, of the campaigns that have one (the campaign report's cost per conversion)."""
        async with self.db.reader.connect() as conn:
            rows = await conn.execute(
                select(campaigns_t.c.name, campaigns_t.c.budget).where(campaigns_t.c.budget.is_not(None))
            )
            return {r[0]: float(r[1]) for r in rows}

    async def figures(self, name: str, since: float | None = None) -> StoredFigures:
        """Dials recorded for ``name`` (since ``since``, else ever) and its leads by status."""
        a = dial_attempts_t.c
        where = [campaigns_t.c.name == name]
        if since is not None:
            where.append(a.started_at >= since)
        async with self.db.reader.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        func.count(a.id),
                        func.coalesce(func.sum(case((a.live_answer.is_(True), 1), else_=0)), 0),
                        func.coalesce(func.sum(case((a.abandoned.is_(True), 1), else_=0)), 0),
                        func.coalesce(func.sum(case((a.amd_result == "MACHINE", 1), else_=0)), 0),
                    )
                    .select_from(dial_attempts_t.join(campaigns_t, campaigns_t.c.id == a.campaign_id))
                    .where(*where)
                )
            ).one()
            statuses = await conn.execute(
                select(leads_t.c.status, func.count())
                .select_from(
                    leads_t.join(lists_t, lists_t.c.id == leads_t.c.list_id).join(
                        campaigns_t, campaigns_t.c.id == lists_t.c.campaign_id
                    )
                )
                .where(campaigns_t.c.name == name)
                .group_by(leads_t.c.status)
            )
            leads = {str(st): int(n) for st, n in statuses}
        return StoredFigures(int(row[0]), int(row[1]), int(row[2]), int(row[3]), leads)
