"""dial attempts: every campaign dial kept for the compliance windows (FTC, Ofcom, CRTC)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dial_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
        sa.Column("lead_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), sa.ForeignKey("leads.id", ondelete="SET NULL"), nullable=True),
        sa.Column("e164", sa.String(20), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=False),
        sa.Column("answered_at", sa.Double(), nullable=True),
        sa.Column("amd_result", sa.String(16), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("connected_after", sa.Double(), nullable=True),
        sa.Column("live_answer", sa.Boolean(), nullable=False),
        sa.Column("abandoned", sa.Boolean(), nullable=False),
        sa.Column("message_played", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
    )
    op.create_index("ix_dial_attempts_campaign_started", "dial_attempts", ["campaign_id", "started_at"])
    op.create_index("ix_dial_attempts_e164", "dial_attempts", ["e164"])


def downgrade() -> None:
    op.drop_index("ix_dial_attempts_e164", "dial_attempts")
    op.drop_index("ix_dial_attempts_campaign_started", "dial_attempts")
    op.drop_table("dial_attempts")
