"""calls keyed by Asterisk server and Linkedid; queue legs found by their waiting channel; repaired legs

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 03:30:00

A Linkedid is unique only within one Asterisk server: two servers sharing one store overwrote each
other's call records when their Linkedids collided (``interactions.linkedid`` was unique on its own).
Now:

- ``interactions`` is unique by (server, linkedid) (a unique index, the upsert's conflict target);
- ``queue_legs`` gets ``server``, filled from its interaction, is unique by (server, linkedid, seq),
  references its interaction by (server, linkedid), and is indexed by its waiting channel
  (server, uniqueid); it also gets ``repaired`` (the leg spanned an AMI gap), false for old rows;
- ``dispositions`` gets ``server`` (filled from the call it belongs to, '' when that call is not
  stored) and is keyed by (server, linkedid, agent).

On SQLite the tables are rebuilt by Alembic's batch mode, and the order matters: a rebuilt parent table
is dropped, and with foreign keys on that drop cascades to its children, so ``queue_legs`` loses its
foreign key before ``interactions`` is rebuilt and gets the new one after.

Downgrading fails if two servers' calls share a Linkedid (the old schema cannot hold both).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_OLD_LEG_FK = "fk_queue_legs_linkedid_interactions"
_NEW_LEG_FK = "fk_queue_legs_server_interactions"


def upgrade() -> None:
    with op.batch_alter_table("queue_legs") as batch:
        batch.add_column(sa.Column("server", sa.String(length=64), nullable=False, server_default=""))
    with op.batch_alter_table("dispositions") as batch:
        batch.add_column(sa.Column("server", sa.String(length=64), nullable=False, server_default=""))
    op.execute(
        "UPDATE queue_legs SET server = coalesce((SELECT i.server FROM interactions i"
        " WHERE i.linkedid = queue_legs.linkedid), '')"
    )
    op.execute(
        "UPDATE dispositions SET server = coalesce((SELECT i.server FROM interactions i"
        " WHERE i.linkedid = dispositions.linkedid), '')"
    )
    with op.batch_alter_table("queue_legs") as batch:
        batch.drop_constraint(_OLD_LEG_FK, type_="foreignkey")
        batch.drop_constraint(op.f("uq_queue_legs_linkedid_seq"), type_="unique")
        batch.create_unique_constraint(op.f("uq_queue_legs_server_linkedid_seq"), ["server", "linkedid", "seq"])
        batch.create_index("ix_queue_legs_server_uniqueid", ["server", "uniqueid"])
        batch.add_column(sa.Column("repaired", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("interactions") as batch:
        batch.drop_constraint(op.f("uq_interactions_linkedid"), type_="unique")
        batch.create_index("ix_interactions_server_linkedid", ["server", "linkedid"], unique=True)
    with op.batch_alter_table("queue_legs") as batch:
        batch.create_foreign_key(
            _NEW_LEG_FK, "interactions", ["server", "linkedid"], ["server", "linkedid"], ondelete="CASCADE"
        )
    with op.batch_alter_table("dispositions") as batch:
        batch.drop_constraint(op.f("pk_dispositions"), type_="primary")
        batch.create_primary_key(op.f("pk_dispositions"), ["server", "linkedid", "agent"])


def downgrade() -> None:
    with op.batch_alter_table("dispositions") as batch:
        batch.drop_constraint(op.f("pk_dispositions"), type_="primary")
        batch.create_primary_key(op.f("pk_dispositions"), ["linkedid", "agent"])
    with op.batch_alter_table("queue_legs") as batch:
        batch.drop_constraint(_NEW_LEG_FK, type_="foreignkey")
    with op.batch_alter_table("interactions") as batch:
        batch.drop_index("ix_interactions_server_linkedid")
        batch.create_unique_constraint(op.f("uq_interactions_linkedid"), ["linkedid"])
    with op.batch_alter_table("queue_legs") as batch:
        batch.drop_column("repaired")
        batch.drop_index("ix_queue_legs_server_uniqueid")
        batch.drop_constraint(op.f("uq_queue_legs_server_linkedid_seq"), type_="unique")
        batch.create_unique_constraint(op.f("uq_queue_legs_linkedid_seq"), ["linkedid", "seq"])
    with op.batch_alter_table("queue_legs") as batch:
        batch.create_foreign_key(_OLD_LEG_FK, "interactions", ["linkedid"], ["linkedid"], ondelete="CASCADE")
        batch.drop_column("server")
    with op.batch_alter_table("dispositions") as batch:
        batch.drop_column("server")
