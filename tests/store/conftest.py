from collections.abc import AsyncIterator

import pytest

from cti.store import Store


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    """A migrated, empty store on SQLite and on PostgreSQL (US is the default country)."""
    opened = await Store.open(db_url, default_country="US")
    try:
        yield opened
    finally:
        await opened.close()
