"""The agents' state history: one row per state interval (cti/reports/states.py decides the moves).

``record`` writes a batch of state changes in one transaction: it reads the agents' open intervals,
folds the changes into them (``states.apply``) and writes the result, so a batch retried after a failed
write changes nothing twice. ``close_open`` closes a server's open intervals (shutdown); after a crash an
open interval is closed by the agent's next change. ``time_in_state`` reads the intervals that overlap a
range and clips them to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, bindparam, case, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from cti.reports.states import AgentTime, Interval, StateChange, apply, time_in_state
from cti.store.database import CHUNK, Repository, agent_states_t

_t = agent_states_t.c


def _interval(row: object) -> Interval:
    r = row._mapping  # type: ignore[attr-defined]
    return Interval(
        r["server"],
        r["agent"],
        r["state"],
        r["reason"],
        float(r["started_at"]),
        None if r["ended_at"] is None else float(r["ended_at"]),
        tuple(r["queues"] or ()),
        int(r["id"]),
    )


def _values(iv: Interval) -> dict[str, object]:
    return {
        "server": iv.server[:64],
        "agent": iv.agent[:100],
        "state": iv.state[:16],
        "reason": iv.reason[:100],
        "queues": list(iv.queues),
        "started_at": iv.started_at,
        "ended_at": iv.ended_at,
    }


class AgentStateRepository(Repository):
    async def record(self, changes: Sequence[StateChange]) -> int:
        """Write ``changes`` as intervals; returns the number of rows inserted."""
        if not changes:
            return 0
        keys = sorted({(c.server, c.agent) for c in changes})
        async with self.db.writing() as conn:
            open_now = await self._open(conn, keys)
            moves = apply(open_now, changes)
            done = [*moves.closed, *moves.changed]
            if done:
                await conn.execute(
                    update(agent_states_t)
                    .where(_t.id == bindparam("pk"))
                    .values(
                        state=bindparam("s"),
                        reason=bindparam("r"),
                        queues=bindparam("q"),
                        ended_at=bindparam("e"),
                    ),
                    [
                        {
                            "pk": iv.id,
                            "s": iv.state,
                            "r": iv.reason[:100],
                            "q": list(iv.queues),
                            "e": iv.ended_at,
                        }
                        for iv in done
                    ],
                )
            if moves.new:
                await conn.execute(agent_states_t.insert(), [_values(iv) for iv in moves.new])
        return len(moves.new)

    async def _open(
        self, conn: AsyncConnection, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], Interval]:
        out: dict[tuple[str, str], Interval] = {}
        for i in range(0, len(keys), CHUNK):
            chunk = keys[i : i + CHUNK]
            rows = await conn.execute(
                select(agent_states_t).where(_t.ended_at.is_(None), tuple_(_t.server, _t.agent).in_(chunk))
            )
            for row in rows:
                iv = _interval(row)
                key = (iv.server, iv.agent)
                if key not in out or iv.started_at > out[key].started_at:
                    out[key] = iv
        return out

    async def close_open(self, server: str, at: float) -> int:
        """Close ``server``'s open intervals at ``at`` (not before each one's start); returns how many."""
        async with self.db.writing() as conn:
            result = await conn.execute(
                update(agent_states_t)
                .where(_t.server == server, _t.ended_at.is_(None))
                .values(ended_at=case((_t.started_at > at, _t.started_at), else_=at))
            )
        return int(result.rowcount or 0)

    async def intervals(self, start: float, end: float) -> list[Interval]:
        """The intervals overlapping ``[start, end)``, oldest first."""
        async with self.db.reader.connect() as conn:
            rows = await conn.execute(
                select(agent_states_t)
                .where(and_(_t.started_at < end, or_(_t.ended_at.is_(None), _t.ended_at > start)))
                .order_by(_t.agent, _t.started_at, _t.id)
            )
            return [_interval(r) for r in rows]

    async def time_in_state(self, start: float, end: float, now: float | None = None) -> dict[str, AgentTime]:
        """Per agent, seconds in each state and paused by reason within ``[start, end)`` (clipped)."""
        return time_in_state(await self.intervals(start, end), start, end, now)
