"""`cti run --config FILE`: the daemon's composition root.

One ``asyncio.TaskGroup`` holds every long-lived task:

* per Asterisk server: its AMI connection (login, keepalive, reconnect, resync) and ONE pump task that
  feeds the call tracker in order and publishes the domain events on the bus;
* the bus (in-process, or Redis Streams across instances: ``[redis] url``);
* the journey writer (finished calls to the store in batches);
* the caller directory's lookup workers (screen pop enrichment);
* the console server (websocket API, consoles, ``/healthz``, ``/metrics``);
* with ``[routing]``: the router's service, and the callbacks (due ones from the store into the router);
* with ``[api] enabled``: the HTTP API for CRM integration, on its own listener (docs/design/api.md).

The daemon is assembled from ports (``StorePort``, ``BusPort``, ``AmiLink``): one ``AsteriskServer`` handle
per ``[[asterisk]]`` server (its link, pump, tracker and its own dialplan contexts), and a list of
``Component``s (a name and a ``run()``) for the TaskGroup; a new service is one more ``Component`` and,
for ``/metrics``, one more collector in the registry.

SIGTERM or SIGINT stops the AMI links first (no new events), then writes every finished journey still
buffered, writes what the Redis outbox still holds, closes the websocket clients and the store.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import secrets
import signal
import sys
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cti import gctune
from cti.agentstates import AgentStateStore, AgentStateWriter
from cti.asterisk.calls import CallTracker
from cti.asterisk.durable.repair import RecordsRepair, RepairStore
from cti.bus.commands import CommandService, LocalServer, OwnerSeat, RemoteServers
from cti.bus.local import Handler, LocalBus
from cti.config import AsteriskConfig, Config, load_config
from cti.core.clock import Clock, SystemClock
from cti.core.errors import ConfigError
from cti.core.events import CallWaiting, DomainEvent
from cti.core.ids import AgentId
from cti.delivery.agi import AgiServer
from cti.delivery.callbacks import CallbackService, CallbackStore
from cti.delivery.campaigns import CampaignControl, SettingsStore, StoreLeadImport
from cti.delivery.dialer import (
    AttemptRecord,
    BoardFigures,
    CampaignRows,
    CampaignStore,
    DialerService,
    PredictivePacer,
    StoreAttempts,
    StoreLeads,
)
from cti.delivery.seats import AccountSource, SkillSource
from cti.delivery.service import RoutingService
from cti.dialer.compliance import WindowState
from cti.dialer.hopper import HopperPolicy
from cti.records import JourneyStore, JourneyWriter
from cti.reports.cli import ReportCalls, ReportStates
from cti.reports.kpi import KpiEvaluator
from cti.reports.metrics import AgentRollup, QueueRollup
from cti.reports.web import endpoint as reports_endpoint
from cti.screenpop.actions import (
    AccountLookup,
    AmiActions,
    Contexts,
    Desk,
    DeskRequests,
    DispositionStore,
    LeadDispositions,
    extension_of,
)
from cti.screenpop.channels import TrackerChannels
from cti.screenpop.directory import CallerDirectory, CallerStore
from cti.screenpop.dispositions import DispositionList, DispositionRows
from cti.screenpop.hub import Hub
from cti.screenpop.live import LiveBoard
from cti.screenpop.server import Accounts, ConsoleServer, Limits, kept_secret
from cti.screenpop.tokens import TokenSigner
from cti.telemetry import Merged, Metric, gauge, new_registry, setup_logging
from cti.tierschedule import Tiers, TierSchedule

if TYPE_CHECKING:
    from cti.mail.component import EmailStore
    from cti.mail.fulfilment import FulfilmentStore

log = logging.getLogger("cti.app")


# ---- ports: what the daemon needs of the store, the bus and each AMI link ------------------------------
class CallsPort(JourneyStore, DispositionStore, RepairStore, ReportCalls, Protocol):
    """``store.calls``: call records and dispositions."""


class AgentStatesPort(AgentStateStore, ReportStates, Protocol):
    """``store.agent_states``: the agents' state history."""


class AccountsPort(Accounts, AccountSource, AccountLookup, Protocol):
    """``store.accounts``: logins and the agents' seats."""


class CampaignsPort(CampaignRows, LeadDispositions, Protocol):
    """``store.campaigns``: the dialer's leads and their dispositions from the console."""


class StorePort(Protocol):
    """The customer store (``cti.store.Store``) as the daemon's components use it: its repositories."""

    @property
    def customers(self) -> CallerStore: ...

    @property
    def calls(self) -> CallsPort: ...

    @property
    def accounts(self) -> AccountsPort: ...

    @property
    def agent_states(self) -> AgentStatesPort: ...

    @property
    def tiers(self) -> Tiers: ...

    @property
    def skills(self) -> SkillSource: ...

    @property
    def callbacks(self) -> CallbackStore: ...

    @property
    def campaigns(self) -> CampaignsPort: ...

    @property
    def rollups(self) -> RollupsPort: ...

    @property
    def dial_attempts(self) -> DialAttemptsPort: ...

    @property
    def email(self) -> EmailStore: ...

    @property
    def fulfilment(self) -> FulfilmentStore: ...

    @property
    def campaign_settings(self) -> CampaignSettingsPort: ...

    @property
    def dispositions(self) -> DispositionRows: ...

    async def close(self) -> None: ...


class RollupsPort(Protocol):
    """The store's 15-minute rollups (``cti.store.rollups_repo.RollupRepository``)."""

    def use_thresholds(
        self, threshold: Callable[[str], float], short_abandon: Callable[[str], float]
    ) -> None: ...

    async def queue_totals(
        self, start: float, end: float, *, by: int | None = None
    ) -> dict[tuple[str, int | None], QueueRollup]: ...

    async def agent_totals(self, start: float, end: float) -> AgentRollup: ...


class DialAttemptsPort(Protocol):
    """The store's dial-attempt records (``cti.store.dial_attempts_repo``): the compliance windows' data."""

    async def record_attempt(self, attempt: Any) -> int: ...

    async def windows(self, campaign: str, now: float) -> Sequence[WindowState]: ...


class CampaignSettingsPort(SettingsStore, CampaignStore, Protocol):
    """``store.campaign_settings`` (cti.store.campaign_settings_repo): the campaign page, the dialer."""

    async def seed(self, configured: Iterable[Any]) -> Any: ...

    async def budgets(self) -> dict[str, float]: ...


# what the dialer records that ends an attempt (an "answered" live answer is followed by one of these)
_FINAL_OUTCOMES = frozenset(
    ("connected", "abandoned", "busy", "no-answer", "congestion", "failed", "machine", "unknown")
)


class RecordedAttempts(StoreAttempts):
    """The dialer's attempts on their leads (recycling) and, once each has ended, in ``dial_attempts``
    (the records `cti campaign report` computes the FTC, Ofcom and CRTC windows from)."""

    def __init__(self, rows: CampaignRows, attempts: DialAttemptsPort) -> None:
        super().__init__(rows)
        self.attempts = attempts

    async def record(self, attempt: AttemptRecord) -> None:
        await super().record(attempt)
        if attempt.outcome not in _FINAL_OUTCOMES:
            return
        from cti.store.dial_attempts_repo import AttemptRecord as StoredAttempt

        live = attempt.outcome in ("connected", "abandoned")
        await self.attempts.record_attempt(
            StoredAttempt(
                campaign=attempt.campaign,
                e164=attempt.number,
                started_at=attempt.at,
                outcome=attempt.outcome,
                lead_id=attempt.lead_id,
                answered_at=attempt.at if live or attempt.outcome == "machine" else None,
                amd_result="MACHINE" if attempt.outcome == "machine" else ("HUMAN" if live else ""),
                agent=attempt.agent,
                connected_after=attempt.connected_after,
                live_answer=live,
                abandoned=attempt.outcome == "abandoned",
                message_played=attempt.message_played,
            )
        )


async def seed_today(board: LiveBoard, store: StorePort, cfg: Config, now: float) -> None:
    """The supervisor's "today" from the store: the rollups since local midnight (the same figures as
    ``cti report`` for today), so a restart does not drop the day's figures to zero. The rollups count
    at the configured thresholds from here on."""
    rollups = store.rollups
    rollups.use_thresholds(cfg.reports.threshold, cfg.reports.short_abandon)
    day = dt.datetime.fromtimestamp(now).date()
    midnight = dt.datetime.combine(day, dt.time()).timestamp()
    queues = await rollups.queue_totals(midnight, now + 1.0)
    agents = await rollups.agent_totals(midnight, now + 1.0)
    board.seed(day, {q: r for (q, _), r in queues.items()}, agents)


class BusPort(Protocol):
    """Event fan-out: ``LocalBus`` in-process, ``RedisBus`` across instances."""

    @property
    def connected(self) -> bool: ...

    def subscribe(self, name: str, handler: Handler, *, local_only: bool = False) -> None: ...

    def publish(self, events: Sequence[DomainEvent]) -> None: ...

    async def run(self) -> None: ...

    async def flush(self, within: float = 5.0) -> None: ...

    def collect(self) -> Iterable[Metric]: ...


class AmiLink(AmiActions, Protocol):
    """One Asterisk server's AMI session (``AmiConnection``): login, keepalive, reconnect, resync."""

    @property
    def connected(self) -> bool: ...

    @property
    def links_lost(self) -> int: ...

    async def wait_connected(self, limit: float | None = None) -> None: ...

    async def run(self) -> None: ...

    def collect(self) -> Iterable[Metric]: ...


class Pump(Protocol):
    """The one task feeding a link's events to its call tracker, in order (``EventPump``)."""

    async def run(self) -> None: ...

    def collect(self) -> Iterable[Metric]: ...


@dataclass(frozen=True, slots=True)
class Component:
    """A long-lived task of the daemon's TaskGroup."""

    name: str
    run: Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class AsteriskServer:
    """One ``[[asterisk]]`` server: its link, its pump, its call tracker and its own dialplan contexts."""

    name: str
    link: AmiLink
    pump: Pump
    tracker: CallTracker
    contexts: Contexts
    config: AsteriskConfig


def asterisk_server(
    a: AsteriskConfig, publish: Callable[[Sequence[DomainEvent]], None], clock: Clock
) -> AsteriskServer:
    from cti.asterisk.connection import AmiConnection
    from cti.asterisk.pump import EventPump

    tracker = CallTracker(
        a.name,
        inbound_contexts={*a.inbound_contexts, a.holding_context, a.queue_context},
        deliver_contexts=(a.agent_context,),
        wrapup_seconds=a.wrapup_seconds,
    )
    connection = AmiConnection(a, wall_clock=clock.now)  # the receive time of events without Timestamp
    return AsteriskServer(
        name=a.name,
        link=connection,
        pump=EventPump(
            connection.queue, tracker, publish, server=a.name, clock=clock.now
        ),  # wrap-ups end on time
        tracker=tracker,
        contexts=Contexts(agent=a.agent_context, queue=a.queue_context, dial=a.dial_context),
        config=a,
    )


def make_bus(cfg: Config) -> BusPort:
    if cfg.redis.url:
        from cti.bus.redis import RedisBus

        return RedisBus(cfg.redis.url, cfg.redis.stream, cfg.daemon.name)
    return LocalBus(cfg.daemon.name)


async def open_store(cfg: Config) -> StorePort:
    """The store of ``[store] url`` (seeded with the demo customers when ``seed_demo`` asks for it)."""
    from cti.store import Store
    from cti.store.tiers import TierPolicy

    store = await Store.open(
        cfg.store.url,
        default_country=cfg.store.default_country,
        policy=TierPolicy(window_days=cfg.tiers.window_days),
    )
    if cfg.store.seed_demo and not await store.demo.seeded():
        log.info("seeding the demo customers")
        await store.demo.seed()
    return store


class Daemon:
    def __init__(self, cfg: Config, *, store: StorePort | None = None, clock: Clock | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self._own_store = store is None
        self.clock = clock or SystemClock()
        self.registry = new_registry()
        self.started_at = self.clock.now()
        self.servers: dict[str, AsteriskServer] = {}
        self.channels = TrackerChannels()
        self.remote: RemoteServers | None = None
        self.commands: CommandService | None = None
        self.bus: BusPort = make_bus(cfg)
        self.board = LiveBoard(cfg.reports.threshold, cfg.reports.short_abandon)
        self.stopping = asyncio.Event()
        self.server: ConsoleServer | None = None
        self.writer: JourneyWriter | None = None
        self.state_writer: AgentStateWriter | None = None
        self.hub: Hub | None = None
        self.directory: CallerDirectory | None = None
        self.routing: RoutingService | None = None
        self.callbacks: CallbackService | None = None
        self.dialer: DialerService | None = None
        self.campaigns: CampaignControl | None = None  # the campaign page's actions
        self.api: Any = None  # cti.api.http.JsonServer with [api] enabled
        self.tier_schedule: TierSchedule | None = None
        self.desk: Desk | None = None
        self.agi: AgiServer | None = None
        # the TaskGroup's tasks: the AMI links and pumps (stopped first), then every other component
        self.links: list[Component] = []
        self.components: list[Component] = []
        self.repairs: list[RecordsRepair] = []  # one per server whose logs are read (``records``)

    async def open(self) -> None:
        """Everything but the long-running tasks: the store, the hub, the console server (bound)."""
        cfg = self.cfg
        if self.store is None:
            self.store = await open_store(cfg)
        store = self.store
        await seed_today(self.board, store, cfg, self.clock.now())
        self.directory = CallerDirectory(store.customers, clock=self.clock)
        self.hub = Hub(
            board=self.board,
            directory=self.directory,
            resume_window=cfg.web.resume_window,
            client_buffer=cfg.web.client_buffer,
            default_country=cfg.store.default_country,
            clock=self.clock,
            kpi=KpiEvaluator(cfg.kpi.targets(cfg.path)),
        )
        self.writer = JourneyWriter(
            store.calls,
            batch_size=cfg.store.batch_size,
            flush_interval=cfg.store.flush_interval,
            max_pending=cfg.store.max_pending,
            spill_path=Path(cfg.store.spill_file) if cfg.store.spill_file else None,
        )
        self.bus.subscribe("hub", self.hub.on_events)
        self.bus.subscribe("store", self.writer.on_events, local_only=True)
        self.state_writer = AgentStateWriter(
            store.agent_states, batch_size=cfg.store.batch_size, flush_interval=cfg.store.flush_interval
        )
        self.bus.subscribe("agent-states", self.state_writer.on_events, local_only=True)
        for a in cfg.asterisk:
            srv = self.servers[a.name] = asterisk_server(a, self.publish, self.clock)
            self.channels.trackers[a.name] = srv.tracker
            self.links += [
                Component(f"ami-link-{a.name}", srv.link.run),
                Component(f"ami-pump-{a.name}", srv.pump.run),
            ]
        self.repairs = [self._make_repair(a, store) for a in cfg.asterisk if a.records]
        for repair in self.repairs:
            self.bus.subscribe(f"repair-{repair.server}", repair.on_events, local_only=True)
            self.components.append(Component(f"records-repair-{repair.server}", repair.run))
            self.registry.register(repair)
        if cfg.redis.url:
            # consoles here act on calls of servers other instances are connected to, and the reverse
            key = cfg.redis.command_key.encode()
            self.remote = RemoteServers(
                cfg.redis.url, cfg.daemon.name, key=key, prefix=cfg.redis.command_prefix, clock=self.clock
            )
            self.channels.remote = self.remote
            self.commands = CommandService(
                cfg.redis.url,
                cfg.daemon.name,
                {name: self._local_server(name, srv) for name, srv in self.servers.items()},
                key=key,
                prefix=cfg.redis.command_prefix,
                clock=self.clock,
            )
        if cfg.routing.enabled:
            self.routing = self._make_routing(store)
            self.bus.subscribe("routing", self.routing.on_events, local_only=True)
            self.bus.subscribe("routing-remote", self.routing.on_remote)
            self.components.append(Component("routing", self.routing.run))
            if cfg.routing.callbacks.enabled:
                self.callbacks = CallbackService(
                    self.routing,
                    store.callbacks,
                    cfg.routing.callbacks,
                    cfg.daemon.name,
                    dispositions=store.calls,
                    on_change=self.hub.callbacks_changed,
                    default_country=cfg.store.default_country,
                    clock=self.clock.now,
                )
                self.components.append(Component("callbacks", self.callbacks.run))
            if cfg.dialer.enabled:  # the dialer's ports (cti.delivery.dialer): leads, attempts, pacer
                # [[dialer.campaign]] into the store (cti.toml wins for its dialling fields); the dialer
                # then reads its campaigns, and their start and pause, from the store
                await store.campaign_settings.seed([dataclasses.asdict(c) for c in cfg.dialer.campaign])
                scripts = {c.name: c.script for c in cfg.dialer.campaign}
                self.dialer = DialerService(
                    self.routing,
                    cfg.dialer,
                    StoreLeads(
                        store.campaigns,
                        scripts,
                        HopperPolicy(
                            ahead_minutes=cfg.dialer.hopper_ahead_minutes,
                            alarm_minutes=cfg.dialer.hopper_alarm_minutes,
                        ),
                        on_alarm=self.hub.alert,
                    ),
                    RecordedAttempts(store.campaigns, store.dial_attempts),
                    PredictivePacer(),
                    clock=self.clock.now,
                )
                self.dialer.store = store.campaign_settings  # campaigns, start and pause from the store
                self.dialer.windows = store.dial_attempts  # predictive: the compliance windows
                self.dialer.console = self.hub  # preview cards
                self.dialer.inbound = BoardFigures(self.hub.board)  # blending
                self.bus.subscribe("dialer", self.dialer.on_events, local_only=True)
                self.components.append(Component("dialer", self.dialer.run))
        self.desk = Desk(
            self.hub,
            self._link,
            self.channels,
            store.calls,
            {n: s.contexts for n, s in self.servers.items()},
            self.routing,
            self.callbacks,
        )
        self.desk.preview = self.dialer  # preview_dial / preview_skip (None: [dialer] off)
        web = self.cfg.web  # CTI hold and parking (docs/design/hold-and-park.md)
        self.desk.hold_timeout, self.desk.park_timeout = web.hold_timeout, web.park_timeout
        self.desk.parking_lot, self.desk.parking_context = web.parking_lot, web.parking_context
        self.campaigns = CampaignControl(  # the campaign page (cti.delivery.campaigns)
            store.campaign_settings,
            store.dial_attempts,
            StoreLeadImport(store),
            dialer=self.dialer,
            queues=set(cfg.routing.queues) if cfg.routing.enabled else None,
            configured={c.name for c in cfg.dialer.campaign} if cfg.dialer.enabled else (),
            clock=self.clock.now,
        )
        self.desk.campaigns = self.campaigns
        self.desk.leads = store.campaigns  # a dialer call's disposition reaches its lead
        self.desk.accounts = store.accounts  # supervisors' phones (listen, whisper, barge)
        # the inbound disposition list (issue #12): seeded from [[disposition]] when the store has none
        self.desk.dispositions = DispositionList(store.dispositions, self.hub)
        await self.desk.dispositions.load(cfg.dispositions())
        self.components.append(Component("dispositions", self.desk.dispositions.run))
        if cfg.web.secret:
            secret = cfg.web.secret.encode()
        elif cfg.web.secret_file:  # a random key kept across restarts: a console's reload keeps working
            secret = kept_secret(cfg.web.secret_file)
        else:
            secret = secrets.token_bytes(32)
        if cfg.web.secret and len(secret) < 16:
            raise ConfigError(cfg.path, "web.secret", "must be at least 16 characters (or empty: random)")
        signer = TokenSigner(secret, cfg.web.token_ttl)  # one signer: consoles and the HTTP API
        self.server = ConsoleServer(
            self.hub,
            self.desk,
            store.accounts,
            signer,
            host=cfg.web.host,
            port=cfg.web.port,
            limits=Limits(max_message_bytes=cfg.web.max_message_bytes, client_buffer=cfg.web.client_buffer),
            registry=self.registry,
            health=self.health,
            clock=self.clock,
            reports=reports_endpoint(
                store.calls, cfg, store.agent_states, store.campaign_settings, store.dispositions
            ),
        )
        every = cfg.tiers.recompute_every_hours * 3600.0
        self.tier_schedule = TierSchedule(store.tiers, every, clock=self.clock.now) if every > 0 else None
        self.components += [
            Component("bus", self.bus.run),
            Component("store-writer", self.writer.run),
            Component("agent-state-writer", self.state_writer.run),
            Component("caller-lookups", self.directory.run),
            Component("consoles", self.server.run),
        ]
        if self.commands is not None:
            self.components.append(Component("commands", self.commands.run))
        if cfg.agi.enabled:
            self.agi = await self._make_agi()
            self.components.append(Component("fastagi", self.agi.run))
            self.registry.register(self.agi)
        if self.tier_schedule is not None:
            self.components.append(Component("tier-schedule", self.tier_schedule.run))
        if cfg.api.enabled:
            self.api = self._make_api(store, signer)
            self.components.append(Component("api", self.api.run))
        if cfg.email.enabled:  # the e-mail channel (issue #13, cti/mail)
            from cti.mail.component import EmailComponent, router_feed

            feed = router_feed(self.routing) if self.routing is not None else None
            hub = self.hub
            routing = self.routing

            def working(agent: str, task: str | None, allow: bool) -> None:
                if routing is not None:  # the router rings no agent working a task unless it allows it
                    routing.router.working_task(AgentId(agent), task, interruptible=allow)
                    routing.wake()

            self.email = EmailComponent(
                cfg.email, store.email, push=hub.email_task, feed=feed, done=hub.email_done, working=working
            )
            self.desk.email = self.email
            from cti.mail.fulfilment import FulfilmentSender

            self.fulfilment = FulfilmentSender(cfg.email, store.fulfilment)
            self.desk.fulfilment = self.fulfilment
            self.components.append(Component("fulfilment", self.fulfilment.run))
            if feed is not None:  # after "routing": the router has seen the events first
                self.bus.subscribe("email", self.email.on_events, local_only=True)
            self.components.append(Component("email", self.email.run))
        # /metrics: each component reports its own counters
        servers = list(self.servers.values())
        self.registry.register(Merged(lambda: [s.link for s in servers]))
        self.registry.register(Merged(lambda: [s.pump for s in servers]))
        for collector in (
            self.hub,
            self.server,
            self.desk,
            self.writer,
            self.state_writer,
            self.directory,
            self.bus,
        ):
            self.registry.register(collector)
        for optional in (
            self.remote,
            self.commands,
            self.routing,
            self.callbacks,
            self.dialer,
            self.tier_schedule,
        ):
            if optional is not None:
                self.registry.register(optional)
        self.registry.register(self)
        await self.server.start()
        if self.api is not None:
            await self.api.start()

    def _make_api(self, store: StorePort, signer: TokenSigner) -> Any:
        from cti.api.crm import CrmApi
        from cti.api.http import JsonServer

        cfg = self.cfg
        api = CrmApi(
            signer,
            store.accounts,
            desk=self.desk,
            callbacks=self.callbacks,
            history=store.callbacks,
            cards=self.directory,
            default_country=cfg.store.default_country,
            clock=self.clock.now,
            campaigns=self.campaigns,
        )
        return JsonServer(api, host=cfg.api.host, port=cfg.api.port, max_body=cfg.api.max_body_bytes)

    def _make_repair(self, a: AsteriskConfig, store: StorePort) -> RecordsRepair:
        from cti.asterisk.durable.sources import FileLogs, LogSource, PgLogs

        source: LogSource
        if a.records == "pgsql":
            source = PgLogs(
                a.records_url,
                cdr_table=a.records_cdr_table,
                cel_table=a.records_cel_table,
                queue_log_table=a.records_queue_log_table,
            )
        else:
            source = FileLogs(a.records_queue_log, a.records_cdr, a.records_cel)
        assert self.writer is not None
        link = self.servers[a.name].link
        return RecordsRepair(
            a.name,
            source,
            store.calls,
            self.writer,
            inbound_contexts={*a.inbound_contexts, a.holding_context, a.queue_context},
            poll=a.records_poll,
            settle=a.records_settle,
            keep=a.records_keep_hours * 3600.0,
            links_lost=lambda: link.links_lost,
        )

    def _make_routing(self, store: StorePort) -> RoutingService:
        from cti.delivery.queue_log import QueueLogWriter
        from cti.delivery.seats import StoreSeats
        from cti.routing.router import Router

        cfg = self.cfg
        leases = None
        if cfg.redis.url:
            from cti.delivery.leases import RedisLeases

            leases = RedisLeases(cfg.redis.url, cfg.daemon.name, prefix=cfg.redis.command_prefix)
        return RoutingService(
            Router(cfg.routing.policies(cfg.path)),
            cfg.routing,
            {a.name: a for a in cfg.asterisk},
            self._local_link,
            self.publish,
            seats=StoreSeats(store.accounts, store.skills),
            cards=self.directory,
            leases=leases,
            queue_log=QueueLogWriter(cfg.routing.queue_log) if cfg.routing.queue_log else None,
            board=self.hub.routing_board if self.hub is not None else None,
            clock=self.clock.now,
            legs=self._route_leg,
            held=self._held_calls,
            exits=self._exit_leg,
            region=cfg.store.default_country,
        )

    async def _make_agi(self) -> AgiServer:
        """``[agi]``: the dialplan's ``AGI(agi://cti-host:4573/route)`` (cti.delivery.agi)."""
        from cti.delivery.inbound import InboundDecider

        cfg = self.cfg
        a = cfg.agi
        rules = (  # the routing service's own rules when it runs: built once
            self.routing.rules
            if self.routing is not None
            else cfg.routing.ruleset(cfg.store.default_country, cfg.path)
        )
        decider = InboundDecider(
            rules,
            cards=self.directory,
            estimator=self.routing,
            policies=self.routing.router.policies if self.routing is not None else None,
            callbacks=cfg.routing.callbacks.enabled,
            clock=self.clock.now,
            lookup=a.deadline * 0.6,
        )
        server = AgiServer(
            decider.variables,
            host=a.listen,
            port=a.port,
            deadline=a.deadline,
            header_timeout=a.header_timeout,
            announce=self.routing.announce if self.routing is not None else None,
        )
        await server.start()
        return server

    def _held_calls(self, server: str) -> list[CallWaiting]:
        srv = self.servers.get(server)
        if srv is None:
            return []
        return srv.tracker.held_calls(srv.config.holding_context, srv.config.holding_exten)

    def _route_leg(
        self, server: str, uniqueid: str, queue: str, at: float, position: int
    ) -> list[DomainEvent]:
        srv = self.servers.get(server)
        return [] if srv is None else srv.tracker.route_leg(uniqueid, queue, at, position)

    def _exit_leg(self, server: str, uniqueid: str, at: float) -> list[DomainEvent]:
        srv = self.servers.get(server)
        return [] if srv is None else srv.tracker.exit_leg(uniqueid, at)

    def _local_link(self, server: str) -> AmiActions | None:
        """Routing Redirects only the calls of this instance's own Asterisk servers."""
        local = self.servers.get(server)
        return None if local is None else local.link

    def _link(self, server: str) -> AmiActions | DeskRequests | None:
        """The AMI link of ``server``: this instance's connection, or the instance connected to it."""
        local = self.servers.get(server)
        if local is not None:
            return local.link
        return None if self.remote is None else self.remote.link(server)

    def _local_server(self, name: str, srv: AsteriskServer) -> LocalServer:
        """What this instance checks another instance's requests for ``name`` against: its own call
        tracker (the calls and their channels) and its own view of the agents' seats on that server."""
        channels, hub, contexts = self.channels, self.hub, srv.contexts
        assert hub is not None

        def seat(agent: AgentId) -> OwnerSeat | None:
            found = hub.seats.get(agent)
            if found is None or found.server != name:
                return None
            return OwnerSeat(found.interface, found.queues, extension_of(found.interface))

        return LocalServer(
            send_action=srv.link.send_action,
            agent_channel=lambda lid, agent: channels.local_agent_channel(name, lid, agent),
            caller_channel=lambda lid: channels.local_caller_channel(name, lid),
            on_call=lambda lid, agent: any(c.agent == agent for c in srv.tracker.channels_of(lid)),
            seat=seat,
            channel_like=lambda lid, prefix, suffix: channels.channel_like(name, lid, prefix, suffix),
            contexts={"agent": contexts.agent, "queue": contexts.queue, "dial": contexts.dial},
            holding={
                "hold": contexts.hold,
                "hold_agent": contexts.hold_agent,
                "lot": self.cfg.web.parking_lot,
                "parking": self.cfg.web.parking_context,
                "park_timeout": str(self.cfg.web.park_timeout),
            },
        )

    def publish(self, events: Sequence[DomainEvent]) -> None:
        self.bus.publish(events)

    async def run(self) -> None:
        """Until ``stopping`` is set (SIGTERM/SIGINT); then a clean, flushing shutdown."""
        if self.server is None:
            await self.open()
        assert self.server is not None
        log.info(
            "cti daemon %s running",
            self.cfg.daemon.name,
            extra={"url": self.server.url, "servers": ",".join(self.servers)},
        )
        try:
            async with asyncio.TaskGroup() as tg:
                links = [tg.create_task(c.run(), name=c.name) for c in self.links]
                others = [tg.create_task(c.run(), name=c.name) for c in self.components]
                await self.stopping.wait()
                log.info("shutting down: stopping the AMI links")
                for task in links:
                    task.cancel()
                await asyncio.gather(*links, return_exceptions=True)
                for task in others:
                    task.cancel()
        finally:
            await self.close()

    async def close(self) -> None:
        if self.writer is not None:
            try:
                await self.writer.flush()
                log.info("flushed the call records", extra={"rows": self.writer.rows})
            except Exception as e:
                log.error("could not write %d call records at shutdown: %s", self.writer.pending, e)
        if self.state_writer is not None:
            try:
                await self.state_writer.flush(self.clock.now())
            except Exception as e:
                log.error(
                    "could not write %d agent state changes at shutdown: %s", self.state_writer.pending, e
                )
        await self.bus.flush()
        if self.server is not None:
            await self.server.close()
        if self.api is not None:
            await self.api.close()
        if self.remote is not None:
            await self.remote.close()
        if self.routing is not None:
            await self.routing.close()
        if self._own_store and self.store is not None:
            await self.store.close()
            self.store = None

    # ---- health and metrics --------------------------------------------------------------------------
    def uptime(self) -> float:
        return self.clock.now() - self.started_at

    def health(self) -> dict[str, Any]:
        ami = {name: srv.link.connected for name, srv in self.servers.items()}
        # unhealthy from the first failed write until one succeeds, not once 500 records are waiting
        writer_ok = self.writer is None or not self.writer.failing
        ok = all(ami.values()) and writer_ok and self.bus.connected
        return {
            "status": "ok" if ok else "degraded",
            "instance": self.cfg.daemon.name,
            "uptime": round(self.uptime(), 1),
            "ami": ami,
            "bus": {"kind": type(self.bus).__name__, "connected": self.bus.connected},
            "store": {
                "ok": writer_ok,
                "pending": self.writer.pending if self.writer else 0,
                "last_error": self.writer.last_error if self.writer else "",
            },
            "clients": self.hub.client_count if self.hub else 0,
        }

    def collect(self) -> Iterable[Metric]:
        yield gauge("uptime_seconds", "seconds since start", self.uptime())


def install_signal_handlers(stop: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)


async def serve(cfg: Config) -> None:
    daemon = Daemon(cfg)
    install_signal_handlers(daemon.stopping.set)
    await daemon.open()
    assert daemon.server is not None
    gctune.settle()  # what start-up loaded is never garbage: no full pass visits it again
    print(f"cti: consoles on {daemon.server.url}", file=sys.stderr, flush=True)
    await daemon.run()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run the daemon (AMI, screen pops, consoles, store writer)")
    p.add_argument("--config", required=True, help="TOML configuration file (see config/cti.toml)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
    except ConfigError as e:
        print(f"cti: {e}", file=sys.stderr)
        return 2
    setup_logging(cfg.daemon.log_level, cfg.daemon.log_format)
    try:
        asyncio.run(serve(cfg))
    except ConfigError as e:
        print(f"cti: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        log.error("cannot start: %s", e)
        return 1
    return 0
