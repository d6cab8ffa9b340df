"""agent state history: every state interval of every agent, with its pause reason

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_state_intervals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("server", sa.String(64), nullable=False),
        sa.Column("agent", sa.String(100), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(100), nullable=False),
        sa.Column("queues", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=False),
        sa.Column("ended_at", sa.Double(), nullable=True),
    )
    op.create_index("ix_agent_state_intervals_agent_started", "agent_state_intervals", ["agent", "started_at"])
    op.create_index("ix_agent_state_intervals_started", "agent_state_intervals", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_agent_state_intervals_started", "agent_state_intervals")
    op.drop_index("ix_agent_state_intervals_agent_started", "agent_state_intervals")
    op.drop_table("agent_state_intervals")
