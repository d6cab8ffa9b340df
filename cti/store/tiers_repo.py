"""Value tiers (``store.tiers``): recompute every customer's tier, RFM scores and at-risk flag, once.

The definitions are in cti/store/tiers.py (no database); the schedule that runs :meth:`recompute` every
few hours is cti/tierschedule.py. The time of the last run (by any process) is kept in ``store_meta``.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import and_, case, func, select, update

from cti.store.database import Database, Repository, bind, chunks, customers_t, orders_t, tickets_t
from cti.store.models import OPEN_TICKET_STATUSES
from cti.store.tiers import Activity, TierPolicy, assess

TIERS_COMPUTED_AT = "tiers_computed_at"  # store_meta key: when tiers were last recomputed


class TierRepository(Repository):
    def __init__(self, db: Database, policy: TierPolicy | None = None) -> None:
        super().__init__(db)
        self.policy = policy or TierPolicy()

    async def recompute(self, *, now: float | None = None) -> int:
        """Recompute every customer's tier, RFM and at-risk flag (see tiers.py); returns how many changed."""
        at = time.time() if now is None else now
        since = at - self.policy.window_days * 86400.0
        o = orders_t.c
        in_window = and_(o.placed_at >= since, o.placed_at <= at)
        async with self.db.reader.connect() as conn:
            current = {
                r.id: (
                    r.tier,
                    r.rfm_recency,
                    r.rfm_frequency,
                    r.rfm_monetary,
                    bool(r.at_risk),
                    r.window_spend_cents,
                )
                for r in await conn.execute(
                    select(
                        customers_t.c.id,
                        customers_t.c.tier,
                        customers_t.c.rfm_recency,
                        customers_t.c.rfm_frequency,
                        customers_t.c.rfm_monetary,
                        customers_t.c.at_risk,
                        customers_t.c.window_spend_cents,
                    )
                )
            }
            spend: dict[int, tuple[int, int, int, float | None]] = {}
            for r in await conn.execute(
                select(
                    o.customer_id,
                    func.sum(case((in_window, o.amount_cents), else_=0)),
                    func.sum(case((in_window, 1), else_=0)),
                    func.sum(o.amount_cents),
                    func.max(o.placed_at),
                )
                .where(o.placed_at <= at)
                .group_by(o.customer_id)
            ):
                spend[r[0]] = (int(r[1] or 0), int(r[2] or 0), int(r[3] or 0), r[4])
            complaints: dict[int, tuple[float | None, int]] = {}
            t = tickets_t.c
            for c in await conn.execute(
                select(
                    t.customer_id,
                    func.max(t.opened_at),
                    func.sum(case((t.status.in_(OPEN_TICKET_STATUSES), 1), else_=0)),
                )
                .where(t.kind == "complaint", t.opened_at <= at)
                .group_by(t.customer_id)
            ):
                complaints[c[0]] = (c[1], int(c[2] or 0))
        activity: dict[int, Activity] = {}
        for cid in current:
            w_spend, w_orders, life, last = spend.get(cid, (0, 0, 0, None))
            last_complaint, open_complaints = complaints.get(cid, (None, 0))
            activity[cid] = Activity(
                window_spend=w_spend / 100.0,
                window_orders=w_orders,
                lifetime_spend=life / 100.0,
                last_order_at=last,
                last_complaint_at=last_complaint,
                open_complaints=open_complaints,
            )
        values = await asyncio.to_thread(assess, activity, at, self.policy)
        changed = []
        for cid, v in values.items():
            cents = spend.get(cid, (0, 0, 0, None))[0]
            new = (v.tier.value, v.recency, v.frequency, v.monetary, v.at_risk, cents)
            if new != current[cid]:
                changed.append(
                    {
                        "i": cid,
                        "tier": new[0],
                        "rfm_recency": new[1],
                        "rfm_frequency": new[2],
                        "rfm_monetary": new[3],
                        "at_risk": new[4],
                        "window_spend_cents": new[5],
                        "value_at": at,
                    }
                )
        if changed:
            stmt = update(customers_t).where(customers_t.c.id == bind("i"))
            for part in chunks(changed, 5000):  # a transaction per part: call records interleave
                async with self.db.writing() as conn:
                    await conn.execute(stmt, list(part))
        async with self.db.writing() as conn:
            await self.db.upsert_meta(conn, TIERS_COMPUTED_AT, repr(at))
        return len(changed)

    async def computed_at(self) -> float | None:
        """When tiers were last recomputed (epoch seconds), or None if never."""
        found = await self.db.meta(TIERS_COMPUTED_AT)
        return None if found is None else float(found)

    async def counts(self) -> dict[str, int]:
        """How many customers are in each tier (as last computed)."""
        async with self.db.reader.connect() as conn:
            result = await conn.execute(select(customers_t.c.tier, func.count()).group_by(customers_t.c.tier))
            return {str(tier): int(n) for tier, n in result}
