"""campaigns: the campaign's settings (dialling, trunk capacity, caller ID, script, abandon rule, budget, state)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 17:30:00

Columns on ``campaigns`` (issue #16): what ``[[dialer.campaign]]`` held only in cti.toml (mode, queue,
channel, caller ID, max_lines, ring timeout, AMD on a machine, script, blended agents), the abandon-rate
regime and target, the budget and its currency, and the run state (draft, running, paused, ended).
Existing campaigns become drafts: the daemon starts the ones cti.toml lists (cti.dialer.settings.seeded).
Downgrade drops the columns (the settings are lost; the campaigns, lists and leads stay). SQLite 3.35 or
later (DROP COLUMN).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any], str | None], ...] = (
    ("mode", sa.String(length=12), "progressive"),
    ("channel", sa.String(length=200), "PJSIP/{number}@trunk"),
    ("caller_id", sa.String(length=80), ""),
    ("max_lines", sa.Integer(), "10"),
    ("ring_timeout", sa.Double(), "25"),
    ("amd_machine", sa.String(length=8), "hangup"),
    ("script", sa.Text(), ""),
    ("blended", sa.Text(), ""),
    ("abandon_regime", sa.String(length=8), "ftc"),
    ("abandon_target", sa.Double(), None),
    ("budget", sa.Double(), None),
    ("currency", sa.String(length=3), ""),
    ("state", sa.String(length=8), "draft"),
    ("updated_at", sa.Double(), None),
)


def upgrade() -> None:
    # plain ADD/DROP COLUMN, never a batch "recreate" of the table: on SQLite, dropping ``campaigns`` to
    # rebuild it would cascade to its lead lists and leads (ON DELETE CASCADE) and lose them
    for name, kind, default in COLUMNS:
        if default is None:
            op.add_column("campaigns", sa.Column(name, kind, nullable=True))
        else:  # the existing rows get the default (kept as the column's server default)
            op.add_column("campaigns", sa.Column(name, kind, nullable=False, server_default=default))


def downgrade() -> None:
    for name, _, _ in reversed(COLUMNS):
        op.drop_column("campaigns", name)
