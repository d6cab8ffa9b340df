"""The customer store: CRM history behind the screen pop, call records, agents, campaigns.

SQLite (WAL) by default, PostgreSQL by URL; async throughout. See docs/store.md.

    store = await Store.open("sqlite+aiosqlite:///var/cti.db", default_country="CN")
    pop = await store.customers.lookup_caller("138 1234 5678")
    await store.calls.record_journeys(journeys)
    levels = await store.skills.of_agent("alice")  # {"sales": 7, "support": 3}

One repository per aggregate, all on one engine: see cti/store/repository.py for the list.
"""

import importlib
from typing import TYPE_CHECKING, Any

# Loaded when first used (PEP 562), so that the pure modules of this package (phones, tiers, callrecords)
# can be imported without SQLAlchemy and alembic, as the import contracts require.
_EXPORTS = {
    "AgentAccount": "cti.store.accounts",
    "CallerLookup": "cti.store.caller",
    "CustomerCard": "cti.store.caller",
    "DoNotCall": "cti.store.caller",
    "InteractionSummary": "cti.store.caller",
    "TicketSummary": "cti.store.caller",
    "NewCustomer": "cti.store.customers",
    "normalize": "cti.store.phones",
    "LeadToCall": "cti.store.repository",
    "Store": "cti.store.repository",
    "SkillError": "cti.store.skills",
    "UnknownAgent": "cti.store.skills",
    "Tier": "cti.store.tiers",
    "TierPolicy": "cti.store.tiers",
}

if TYPE_CHECKING:
    from cti.store.accounts import AgentAccount
    from cti.store.caller import CallerLookup, CustomerCard, DoNotCall, InteractionSummary, TicketSummary
    from cti.store.customers import NewCustomer
    from cti.store.phones import normalize
    from cti.store.repository import LeadToCall, Store
    from cti.store.skills import SkillError, UnknownAgent
    from cti.store.tiers import Tier, TierPolicy


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cti.store' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "AgentAccount",
    "CallerLookup",
    "CustomerCard",
    "DoNotCall",
    "InteractionSummary",
    "LeadToCall",
    "NewCustomer",
    "SkillError",
    "Store",
    "TicketSummary",
    "Tier",
    "TierPolicy",
    "UnknownAgent",
    "normalize",
]
