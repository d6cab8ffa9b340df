"""The record of every campaign dial and the compliance windows computed from it in SQL.

The windows' definitions are cti.dialer.compliance's (docs/metrics.md "Dialer compliance"); this
repository only counts the rows: ``windows(...)`` equals ``compliance.windows`` over the same outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cti.core.errors import UsageError
from cti.dialer import compliance
from cti.dialer.compliance import Counts, Window, WindowState
from cti.store.database import Repository, campaigns_t, dial_attempts_t


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One dial's outcome, as the dialer service records it."""

    campaign: str
    e164: str
    started_at: float
    outcome: str  # busy, no_answer, machine, answered, failed, ...
    lead_id: int | None = None
    answered_at: float | None = None
    amd_result: str = ""  # HUMAN, MACHINE, NOTSURE
    agent: str = ""
    connected_after: float | None = None
    live_answer: bool = False
    abandoned: bool = False
    message_played: bool = False


class DialAttemptRepository(Repository):
    async def record_attempt(self, attempt: AttemptRecord) -> int:
        """Store one dial; returns its id. An abandon is a live answer."""
        async with self.db.writing() as conn:
            cid = await _campaign_id(conn, attempt.campaign)
            result = await conn.execute(
                dial_attempts_t.insert().values(
                    campaign_id=cid,
                    lead_id=attempt.lead_id,
                    e164=attempt.e164,
                    started_at=attempt.started_at,
                    answered_at=attempt.answered_at,
                    amd_result=attempt.amd_result[:16],
                    agent=attempt.agent[:64],
                    connected_after=attempt.connected_after,
                    live_answer=attempt.live_answer or attempt.abandoned,
                    abandoned=attempt.abandoned,
                    message_played=attempt.message_played,
                    outcome=attempt.outcome[:16],
                )
            )
            pk = result.inserted_primary_key
            return int(pk[0]) if pk else 0

    async def last_abandon_at(self, e164: str) -> float | None:
        """When ``e164`` was last abandoned, any campaign (the 72 h rule)."""
        async with self.db.reader.connect() as conn:
            value = (
                await conn.execute(
                    select(func.max(dial_attempts_t.c.started_at)).where(
                        dial_attempts_t.c.e164 == e164, dial_attempts_t.c.abandoned.is_(True)
                    )
                )
            ).scalar()
        return None if value is None else float(value)

    async def counts(self, campaign: str, start: float | None, end: float) -> Counts:
        """Live answers, abandons and machine results of dials started in [start, end]."""
        a = dial_attempts_t.c
        machine = and_(a.amd_result == "MACHINE", a.live_answer.is_(False))
        where = [campaigns_t.c.name == campaign, a.started_at <= end]
        if start is not None:
            where.append(a.started_at >= start)
        async with self.db.reader.connect() as conn:
            row = (
                await conn.execute(
                    select(
                        func.coalesce(func.sum(case((a.live_answer.is_(True), 1), else_=0)), 0),
                        func.coalesce(func.sum(case((a.abandoned.is_(True), 1), else_=0)), 0),
                        func.coalesce(func.sum(case((machine, 1), else_=0)), 0),
                    )
                    .select_from(dial_attempts_t.join(campaigns_t, campaigns_t.c.id == a.campaign_id))
                    .where(*where)
                )
            ).one()
        return Counts(int(row[0]), int(row[1]), int(row[2]))

    async def windows(
        self,
        campaign: str,
        now: float,
        *,
        zone: tzinfo = UTC,
        amd_false_positive_rate: float = compliance.DEFAULT_AMD_FALSE_POSITIVE_RATE,
    ) -> tuple[WindowState, ...]:
        """Every compliance window of ``campaign`` at ``now`` (epoch seconds), from the stored dials."""
        async with self.db.reader.connect() as conn:
            await _campaign_id(conn, campaign)
        at = datetime.fromtimestamp(now, UTC)
        states = []
        for w in Window:
            start, end = compliance.window_bounds(w, at, zone)
            got = await self.counts(campaign, None if start is None else start.timestamp(), now)
            states.append(compliance.state(w, got, start, end, amd_false_positive_rate))
        return tuple(states)


async def _campaign_id(conn: AsyncConnection, name: str) -> int:
    cid = (await conn.execute(select(campaigns_t.c.id).where(campaigns_t.c.name == name))).scalar()
    if cid is None:
        raise UsageError(f"no campaign {name!r}")
    return int(cid)
