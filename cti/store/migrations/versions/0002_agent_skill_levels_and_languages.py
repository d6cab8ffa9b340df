"""agent skill levels checked (1..10); agent languages

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 20:00:00

``agent_skills`` (one row per agent and skill, since 0001) gets a CHECK on its level; the new
``agent_languages`` holds the languages each agent speaks (BCP 47 tags). On SQLite the CHECK is added by
Alembic's batch mode (the table is copied). A level outside 1..10 written before this revision (the
store never accepted one) is clamped into the range first, so the upgrade cannot fail on old data.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE agent_skills SET level = 1 WHERE level < 1")
    op.execute("UPDATE agent_skills SET level = 10 WHERE level > 10")
    with op.batch_alter_table("agent_skills") as batch:
        batch.create_check_constraint(op.f("ck_agent_skills_level"), "level BETWEEN 1 AND 10")
    op.create_table(
        "agent_languages",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_languages_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", "language", name=op.f("pk_agent_languages")),
    )


def downgrade() -> None:
    op.drop_table("agent_languages")
    with op.batch_alter_table("agent_skills") as batch:
        batch.drop_constraint(op.f("ck_agent_skills_level"), type_="check")
