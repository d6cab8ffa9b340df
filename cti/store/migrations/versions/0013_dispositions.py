"""disposition_codes: the inbound disposition codes, editable by supervisors

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 21:00:00

The codes an agent may give an inbound call (issue #12): label, outcome meaning for the reports
(resolution, sale, none), the queues they are offered on, whether a callback time is required, active,
order. Seeded from ``[[disposition]]`` by the daemon when empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "disposition_codes",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("queues", sa.JSON(), nullable=False),
        sa.Column("callback", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposition_codes")),
        sa.UniqueConstraint("code", name=op.f("uq_disposition_codes_code")),
    )


def downgrade() -> None:
    op.drop_table("disposition_codes")
