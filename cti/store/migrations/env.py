"""Alembic environment for the cti store.

Migrations run programmatically (``Store.open`` and ``cti store migrate`` call
:func:`cti.store.schema.upgrade`), which passes an open connection in ``config.attributes``.
"""

from __future__ import annotations

from alembic import context

from cti.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the cti store migrations with `cti store migrate --url URL` (or Store.open)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
