"""The store the daemon codes against: one engine, migrated at open, and a repository per aggregate.

    store = await Store.open("sqlite+aiosqlite:///var/cti.db", default_country="CN")
    pop = await store.customers.lookup_caller("138 1234 5678")
    await store.calls.record_journeys(journeys)

================ ================================ ==========================================================
attribute        class                            what it keeps
================ ================================ ==========================================================
``customers``    :class:`CustomerRepository`      the caller lookup (screen pop), customers, orders, tickets
``calls``        :class:`CallRepository`          call records (journeys, queue legs), dispositions
``accounts``     :class:`AccountRepository`       agent and supervisor accounts, sign-in
``skills``       :class:`SkillRepository`         agents' skills (levels 1..10) and languages
``queues``       :class:`QueueRepository`         queues: display name, required skill, service level
``dnc``          :class:`DoNotCallRepository`     the do-not-call list and customers' do-not-call flags
``campaigns``    :class:`CampaignRepository`      campaigns, lead lists, leads, who may be dialled now
``tiers``        :class:`TierRepository`          value tiers: recompute once, when last computed, counts
``demo``         :class:`DemoRepository`          the generated demo data set, the simulator's callers
``callbacks``    :class:`CallbackRepository`      callbacks: their place in the queue, attempts, outcomes
``rollups``      :class:`RollupRepository`        15-minute totals per queue and agent, kept with the records
``agent_states`` :class:`AgentStateRepository`    agents' state intervals with reasons: time in state
``email``        :class:`EmailRepository`         e-mail tasks, quarantined messages, a customer's e-mails
``fulfilment``   :class:`FulfilmentRepository`    the document catalogue, documents e-mailed to customers
``dispositions`` :class:`DispositionRepository`   the inbound disposition codes (issue #12)
``campaign_settings`` :class:`CampaignSettingsRepository`: a campaign's settings, abandon rule, budget, state
================ ================================ ==========================================================

Everything is async (SQLAlchemy asyncio over aiosqlite or asyncpg), so the daemon's loop never waits on
the database; CPU-heavy work (password hashing, demo generation) runs in worker threads. The repositories
share one :class:`~cti.store.database.Database` (engine, SQLite write lock, background checkpoints).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from cti.core.errors import UsageError
from cti.store import phones
from cti.store.accounts_repo import AccountRepository
from cti.store.agent_states_repo import AgentStateRepository
from cti.store.callbacks_repo import CallbackRepository
from cti.store.calls_repo import CallRepository
from cti.store.campaign_settings_repo import CampaignSettingsRepository
from cti.store.campaigns_repo import CampaignRepository, LeadToCall
from cti.store.customers_repo import CustomerRepository
from cti.store.database import Database
from cti.store.demo_repo import DemoParts, DemoRepository
from cti.store.dial_attempts_repo import DialAttemptRepository
from cti.store.dispositions_repo import DispositionRepository
from cti.store.dnc_repo import DoNotCallRepository
from cti.store.email_repo import EmailRepository
from cti.store.fulfilment_repo import FulfilmentRepository
from cti.store.queues_repo import QueueRepository
from cti.store.rollups_repo import RollupRepository
from cti.store.schema import create_engine, dialect_of, upgrade
from cti.store.skills_repo import SkillRepository
from cti.store.tiers import TierPolicy
from cti.store.tiers_repo import TierRepository

__all__ = ["LeadToCall", "Store"]


class Store:
    """Open with ``await Store.open(url)``; close with ``await store.close()``."""

    def __init__(self, engine: AsyncEngine, *, default_country: str = "US", policy: TierPolicy | None = None):
        self.db = Database(engine, default_country=default_country)
        self.engine = engine
        self.dialect = self.db.dialect
        self.default_country = self.db.default_country
        self.customers = CustomerRepository(self.db)
        self.rollups = RollupRepository(self.db)
        self.calls = CallRepository(self.db, self.rollups)
        self.accounts = AccountRepository(self.db)
        self.skills = SkillRepository(self.db)
        self.queues = QueueRepository(self.db)
        self.dnc = DoNotCallRepository(self.db)
        self.campaigns = CampaignRepository(self.db)
        self.dial_attempts = DialAttemptRepository(self.db)
        self.tiers = TierRepository(self.db, policy)
        self.callbacks = CallbackRepository(self.db)
        self.agent_states = AgentStateRepository(self.db)
        self.email = EmailRepository(self.db)
        self.fulfilment = FulfilmentRepository(self.db)
        self.campaign_settings = CampaignSettingsRepository(self.db)
        self.dispositions = DispositionRepository(self.db)
        self.demo = DemoRepository(
            self.db, DemoParts(self.accounts, self.queues, self.customers, self.calls, self.dnc, self.tiers)
        )

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        default_country: str = "US",
        migrate: bool = True,
        policy: TierPolicy | None = None,
    ) -> Store:
        if not phones.is_known_region(default_country):
            raise UsageError(f"unknown default country {default_country!r}: use an ISO code such as US or CN")
        dialect_of(url)
        engine = create_engine(url)
        store = cls(engine, default_country=default_country, policy=policy)
        if migrate:
            try:
                await store.migrate()
            except BaseException:
                await engine.dispose()
                raise
        return store

    async def migrate(self) -> None:
        async with self.db.writing() as conn:
            await conn.run_sync(upgrade)

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def normalize(self, number: str | None) -> str | None:
        return self.db.normalize(number)

    @property
    def background_checkpoints(self) -> int:
        """WAL checkpoints completed in the background so far (SQLite files)."""
        return self.db.background_checkpoints
