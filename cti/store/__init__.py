"""The customer store: CRM history behind the screen pop, call records, agents, campaigns.

SQLite (WAL) by default, PostgreSQL by URL; async throughout. See docs/store.md.

    store = await Store.open("sqlite+aiosqlite:///var/cti.db", default_country="CN")
    pop = await store.customers.lookup_caller("138 1234 5678")
    await store.calls.record_journeys(journeys)
    levels = await store.skills.of_agent("alice")  # {"sales": 7, "support": 3}

One repository per aggregate, all on one engine: see cti/store/repository.py for the list.
"""

from cti.store.accounts import AgentAccount
from cti.store.caller import CallerLookup, CustomerCard, DoNotCall, InteractionSummary, TicketSummary
from cti.store.customers import NewCustomer
from cti.store.phones import normalize
from cti.store.repository import LeadToCall, Store
from cti.store.skills import SkillError, UnknownAgent
from cti.store.tiers import Tier, TierPolicy

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
