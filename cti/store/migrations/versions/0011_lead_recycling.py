"""lead recycling: per-outcome rules, the 72 h abandon mark, dispositions, consent per channel

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 18:10:00

Campaigns get their recycling rules (JSON) and whether calls need consent; leads their last abandon,
disposition, agent and call consent; customers' preferences a consent per channel (call, sms, email);
do-not-call entries the national list's date; and a table of each campaign's dispositions (issue #16).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("recycling", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("require_call_consent", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("last_abandon_at", sa.Double(), nullable=True))
        batch.add_column(sa.Column("disposition", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("agent", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("call_consent", sa.Boolean(), nullable=True))
    with op.batch_alter_table("contact_preferences") as batch:
        batch.add_column(sa.Column("consent_call", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("consent_sms", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("consent_email", sa.Boolean(), nullable=True))
    with op.batch_alter_table("dnc_numbers") as batch:
        batch.add_column(sa.Column("list_date", sa.String(length=32), nullable=False, server_default=""))
    op.create_table(
        "campaign_dispositions",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        sa.Column("sale", sa.Boolean(), nullable=False),
        sa.Column("callback", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "code"),
    )


def downgrade() -> None:
    op.drop_table("campaign_dispositions")
    with op.batch_alter_table("dnc_numbers") as batch:
        batch.drop_column("list_date")
    with op.batch_alter_table("contact_preferences") as batch:
        for name in ("consent_email", "consent_sms", "consent_call"):
            batch.drop_column(name)
    with op.batch_alter_table("leads") as batch:
        for name in ("call_consent", "agent", "disposition", "last_abandon_at"):
            batch.drop_column(name)
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("require_call_consent")
        batch.drop_column("recycling")
