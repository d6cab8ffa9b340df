"""Alembic migrations of the cti store (the schema's source of truth)."""
