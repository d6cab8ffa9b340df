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


# (table, column) added; plain ADD/DROP COLUMN, never a batch "recreate": on SQLite, rebuilding ``campaigns``
# or ``leads`` would cascade (ON DELETE CASCADE) to their lead lists and leads and lose them (see 0009)
def _columns() -> tuple[tuple[str, sa.Column[object]], ...]:  # fresh Column objects: one may join one table
    return (
        ("campaigns", sa.Column("recycling", sa.Text(), nullable=True)),
        (
            "campaigns",
            sa.Column("require_call_consent", sa.Boolean(), nullable=False, server_default=sa.false()),
        ),
        ("leads", sa.Column("last_abandon_at", sa.Double(), nullable=True)),
        ("leads", sa.Column("disposition", sa.String(length=64), nullable=True)),
        ("leads", sa.Column("agent", sa.String(length=100), nullable=True)),
        ("leads", sa.Column("call_consent", sa.Boolean(), nullable=True)),
        ("contact_preferences", sa.Column("consent_call", sa.Boolean(), nullable=True)),
        ("contact_preferences", sa.Column("consent_sms", sa.Boolean(), nullable=True)),
        ("contact_preferences", sa.Column("consent_email", sa.Boolean(), nullable=True)),
        ("dnc_numbers", sa.Column("list_date", sa.String(length=32), nullable=False, server_default="")),
    )


def upgrade() -> None:
    for table, column in _columns():
        op.add_column(table, column)
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
    for table, column in reversed(_columns()):
        op.drop_column(table, column.name)
