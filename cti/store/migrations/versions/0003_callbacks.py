"""callbacks: promises to call a customer back, with their place in the queue and their attempts

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 03:30:00

One row per callback (a key pressed while waiting, the HTTP API, an agent's disposition): the number,
the queue, the place (``entered``), when it is due, for whom, its status and every attempt's outcome.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callbacks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("origin", sa.String(length=160), nullable=True),
        sa.Column("e164", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("agent", sa.String(length=100), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("due_at", sa.Double(), nullable=False),
        sa.Column("entered", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("attempts_log", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("linkedid", sa.String(length=150), nullable=True),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_callbacks_customer_id_customers"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callbacks")),
        sa.UniqueConstraint("origin", name=op.f("uq_callbacks_origin")),
    )
    op.create_index(op.f("ix_callbacks_e164"), "callbacks", ["e164"])
    op.create_index(op.f("ix_callbacks_agent"), "callbacks", ["agent"])
    op.create_index("ix_callbacks_status_due", "callbacks", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_callbacks_status_due", table_name="callbacks")
    op.drop_index(op.f("ix_callbacks_agent"), table_name="callbacks")
    op.drop_index(op.f("ix_callbacks_e164"), table_name="callbacks")
    op.drop_table("callbacks")
