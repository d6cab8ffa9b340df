"""15-minute rollups of the call records: per queue and per agent

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 14:30:00

Two tables of additive totals, keyed by the 15-minute interval a queue visit entered its queue in
(``bucket``, epoch seconds, a multiple of 900) and the queue or the agent (docs/design/rollups.md).
Existing call records are not rolled up here: ``cti store rollups-rebuild`` does it (with progress),
and a range with records but no rollups reads the raw legs instead until then.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
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


def upgrade() -> None:
    op.create_table(
        "rollup_queue_intervals",
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("threshold_us", sa.BigInteger(), nullable=False),
        sa.Column("short_abandon_us", sa.BigInteger(), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in _QUEUE_COUNTS],
        *[sa.Column(c, sa.BigInteger(), nullable=False) for c in _QUEUE_SUMS],
        sa.Column("ring_no_answer", sa.Integer(), nullable=False),
        *[sa.Column(c, sa.Integer(), nullable=False) for c in ("short_abandoned", "unanswered", "unanswered_within")],
        sa.PrimaryKeyConstraint("bucket", "queue", name=op.f("pk_rollup_queue_intervals")),
        sqlite_with_rowid=False,  # clustered by the key on SQLite: a range of intervals is one scan
    )
    op.create_table(
        "rollup_agent_intervals",
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("agent", sa.String(length=100), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("talk_us", sa.BigInteger(), nullable=False),
        sa.Column("wait_us", sa.BigInteger(), nullable=False),
        sa.Column("max_wait_us", sa.BigInteger(), nullable=False),
        sa.Column("ring_no_answer", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "agent", name=op.f("pk_rollup_agent_intervals")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("rollup_agent_intervals")
    op.drop_table("rollup_queue_intervals")
