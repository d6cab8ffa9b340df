"""documents and fulfilments: the fulfilment catalogue and the documents e-mailed to customers

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 17:30:00

The catalogue of documents an agent may send from a call's disposition, and one row per request to
e-mail some of them to a customer: its status, attempts, next retry and last error (issue #13).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("mime_type", sa.String(length=100), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("added_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("name", name=op.f("uq_documents_name")),
    )
    op.create_table(
        "fulfilments",
        sa.Column("id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("linkedid", sa.String(length=150), nullable=False),
        sa.Column("agent", sa.String(length=100), nullable=False),
        sa.Column("documents", sa.JSON(), nullable=False),
        sa.Column("names", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", sa.Double(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.Double(), nullable=False),
        sa.Column("sent_at", sa.Double(), nullable=True),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_fulfilments_customer_id_customers"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fulfilments")),
    )
    op.create_index(op.f("ix_fulfilments_customer_id"), "fulfilments", ["customer_id"])
    op.create_index("ix_fulfilments_status_next", "fulfilments", ["status", "next_attempt"])


def downgrade() -> None:
    op.drop_index("ix_fulfilments_status_next", table_name="fulfilments")
    op.drop_index(op.f("ix_fulfilments_customer_id"), table_name="fulfilments")
    op.drop_table("fulfilments")
    op.drop_table("documents")
