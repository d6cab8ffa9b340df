"""Coarser rollup tiers: hourly and daily totals per queue and per agent

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 17:20:00

Four tables with the columns of the 15-minute rollups (migration 0006), keyed by the UTC hour or day
(``bucket`` a multiple of 3600 or 86400): a year by hour reads 8,760 rows per queue instead of 35,040,
a year by day 365 (docs/design/rollups.md). They are filled here from the 15-minute rows, so a range
reads the same figures from any tier; from now on they are kept in the same transaction as those.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_QUEUE_COUNTS = (
    "offered",
    "answered",
    "abandoned",
    "timed_out",
    "exited_empty",
    "exited_with_key",
    "transferred",
    "answered_within",
    "abandoned_within",
)
_QUEUE_SUMS = ("wait_us", "wait_answered_us", "wait_abandoned_us", "max_wait_us", "talk_us")
_QUEUE_TAIL = ("ring_no_answer", "short_abandoned", "unanswered", "unanswered_within")
_AGENT_COLUMNS = (
    ("answered", sa.Integer),
    ("transfers", sa.Integer),
    ("talk_us", sa.BigInteger),
    ("wait_us", sa.BigInteger),
    ("max_wait_us", sa.BigInteger),
    ("ring_no_answer", sa.Integer),
)
_TIERS = (("hours", 3600, "intervals"), ("days", 86400, "hours"))


def _queue_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("threshold_us", sa.BigInteger(), nullable=False),
        sa.Column("short_abandon_us", sa.BigInteger(), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in _QUEUE_COUNTS],
        *[sa.Column(c, sa.BigInteger(), nullable=False) for c in _QUEUE_SUMS],
        *[sa.Column(c, sa.Integer(), nullable=False) for c in _QUEUE_TAIL],
        sa.PrimaryKeyConstraint("bucket", "queue", name=op.f(f"pk_{name}")),
        sqlite_with_rowid=False,
    )


def _agent_table(name: str) -> None:
    op.create_table(
        name,
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("agent", sa.String(length=100), nullable=False),
        *[sa.Column(c, t(), nullable=False) for c, t in _AGENT_COLUMNS],
        sa.PrimaryKeyConstraint("bucket", "agent", name=op.f(f"pk_{name}")),
        sqlite_with_rowid=False,
    )


def _fill(kind: str, key: str, tier: str, unit: int, finer: str) -> None:
    """The coarser rows as the sums of the finer ones (threshold -1 where the finer ones differ)."""
    b = f"(bucket - ((bucket % {unit}) + {unit}) % {unit})"
    if kind == "queue":
        sums = [*_QUEUE_COUNTS, *_QUEUE_SUMS, *_QUEUE_TAIL]
        head = ["threshold_us", "short_abandon_us"]
        heads = [f"CASE WHEN min({c}) = max({c}) THEN min({c}) ELSE -1 END" for c in head]
    else:
        sums = [c for c, _ in _AGENT_COLUMNS]
        head, heads = [], []
    values = [f"max({c})" if c == "max_wait_us" else f"sum({c})" for c in sums]
    op.execute(
        f"INSERT INTO rollup_{kind}_{tier} (bucket, {key}, {', '.join([*head, *sums])}) "
        f"SELECT {b}, {key}, {', '.join([*heads, *values])} FROM rollup_{kind}_{finer} GROUP BY {b}, {key}"
    )


def upgrade() -> None:
    for tier, _, _ in _TIERS:
        _queue_table(f"rollup_queue_{tier}")
        _agent_table(f"rollup_agent_{tier}")
    for tier, unit, finer in _TIERS:
        _fill("queue", "queue", tier, unit, finer)
        _fill("agent", "agent", tier, unit, finer)


def downgrade() -> None:
    for tier, _, _ in reversed(_TIERS):
        op.drop_table(f"rollup_agent_{tier}")
        op.drop_table(f"rollup_queue_{tier}")
