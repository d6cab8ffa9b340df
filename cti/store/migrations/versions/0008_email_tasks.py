"""email_tasks and email_quarantine: the e-mail channel's tasks and the messages set aside

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 14:50:00

One row per accepted inbound e-mail (a task with a deadline, its customer, who was offered it and when,
the reply), and one per quarantined message with its raw bytes and the reason (issue #13).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "email_tasks",
        sa.Column("id", ID, nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("received", sa.Double(), nullable=False),
        sa.Column("deadline", sa.Double(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("agent", sa.String(length=100), nullable=True),
        sa.Column("offered_at", sa.Double(), nullable=True),
        sa.Column("answered_at", sa.Double(), nullable=True),
        sa.Column("handled_at", sa.Double(), nullable=True),
        sa.Column("disposition", sa.String(length=64), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_email_tasks_customer_id_customers"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_tasks")),
    )
    op.create_index(op.f("ix_email_tasks_sender"), "email_tasks", ["sender"])
    op.create_index(op.f("ix_email_tasks_customer_id"), "email_tasks", ["customer_id"])
    op.create_index("ix_email_tasks_state_received", "email_tasks", ["state", "received"])
    op.create_table(
        "email_quarantine",
        sa.Column("id", ID, nullable=False),
        sa.Column("sender", sa.String(length=254), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("received", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_quarantine")),
    )


def downgrade() -> None:
    op.drop_table("email_quarantine")
    op.drop_index("ix_email_tasks_state_received", table_name="email_tasks")
    op.drop_index(op.f("ix_email_tasks_customer_id"), table_name="email_tasks")
    op.drop_index(op.f("ix_email_tasks_sender"), table_name="email_tasks")
    op.drop_table("email_tasks")
