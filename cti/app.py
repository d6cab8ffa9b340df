"""`cti run --config FILE`: the daemon's composition root.

One ``asyncio.TaskGroup`` holds every long-lived task:

* per Asterisk server: its AMI connection (login, keepalive, reconnect, resync) and ONE pump task that
  feeds the call tracker in order and publishes the domain events on the bus;
* the bus (in-process, or Redis Streams across instances: ``[redis] url``);
* the journey writer (finished calls to the store in batches);
* the caller directory's lookup workers (screen pop enrichment);
* the console server (websocket API, consoles, ``/healthz``, ``/metrics``).

SIGTERM or SIGINT stops the AMI links first (no new events), then writes every finished journey still
buffered, writes what the Redis outbox still holds, closes the websocket clients and the store.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import signal
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from cti.asterisk.calls import CallTracker, ChannelView
from cti.bus.commands import CommandService, LocalServer, RemoteServers
from cti.bus.local import LocalBus
from cti.config import AsteriskConfig, Config, load_config
from cti.core.errors import ConfigError
from cti.core.events import DomainEvent
from cti.core.ids import AgentId
from cti.records import JourneyWriter
from cti.screenpop.actions import Contexts, Desk
from cti.screenpop.directory import CallerDirectory
from cti.screenpop.hub import Hub
from cti.screenpop.live import LiveBoard
from cti.screenpop.server import ConsoleServer, Limits
from cti.screenpop.tokens import TokenSigner
from cti.telemetry import Family, Registry, setup_logging
from cti.tierschedule import TierSchedule

log = logging.getLogger("cti.app")


class TrackerChannels:
    """Channel names of live calls (for Hangup and transfers): from this instance's call tracker for its
    own Asterisk servers, and from the instance connected to any other server, over Redis."""

    def __init__(self) -> None:
        self.trackers: dict[str, CallTracker] = {}
        self.remote: RemoteServers | None = None

    def _channels(self, server: str, linkedid: str) -> list[ChannelView]:
        tracker = self.trackers.get(server)
        return [] if tracker is None else tracker.channels_of(linkedid)

    def local_agent_channel(self, server: str, linkedid: str, agent: AgentId) -> str | None:
        for ch in self._channels(server, linkedid):
            if ch.agent == agent and not ch.hangup_requested:
                return ch.name
        return None

    def local_caller_channel(self, server: str, linkedid: str) -> str | None:
        channels = self._channels(server, linkedid)
        for ch in channels:
            if ch.is_caller:
                return ch.name
        for ch in channels:
            if ch.agent is None:
                return ch.name
        return None

    async def agent_channel(self, server: str, linkedid: str, agent: AgentId) -> str | None:
        if server in self.trackers or self.remote is None:
            return self.local_agent_channel(server, linkedid, agent)
        return await self.remote.agent_channel(server, linkedid, agent)

    async def caller_channel(self, server: str, linkedid: str) -> str | None:
        if server in self.trackers or self.remote is None:
            return self.local_caller_channel(server, linkedid)
        return await self.remote.caller_channel(server, linkedid)


class Daemon:
    def __init__(self, cfg: Config, *, store: Any = None) -> None:
        self.cfg = cfg
        self.store: Any = store
        self._own_store = store is None
        self.registry = Registry()
        self.started_at = time.time()
        self.connections: dict[str, Any] = {}
        self.pumps: dict[str, Any] = {}
        self.channels = TrackerChannels()
        self.remote: RemoteServers | None = None
        self.commands: CommandService | None = None
        self.tier_schedule: TierSchedule | None = None
        self.bus: LocalBus = self._make_bus()
        self.board = LiveBoard(cfg.reports.threshold)
        self.stopping = asyncio.Event()
        self.server: ConsoleServer | None = None
        self.writer: JourneyWriter | None = None
        self.hub: Hub | None = None
        self.directory: CallerDirectory | None = None

    def _make_bus(self) -> LocalBus:
        if self.cfg.redis.url:
            from cti.bus.redis import RedisBus

            return RedisBus(self.cfg.redis.url, self.cfg.redis.stream, self.cfg.daemon.name)
        return LocalBus(self.cfg.daemon.name)

    async def open(self) -> None:
        """Everything but the long-running tasks: the store, the hub, the console server (bound)."""
        cfg = self.cfg
        if self.store is None:
            from cti.store import Store
            from cti.store.tiers import TierPolicy

            self.store = await Store.open(
                cfg.store.url,
                default_country=cfg.store.default_country,
                policy=TierPolicy(window_days=cfg.tiers.window_days),
            )
            if cfg.store.seed_demo and not await self.store.demo.seeded():
                log.info("seeding the demo customers")
                await self.store.demo.seed()
        self.directory = CallerDirectory(self.store.customers)
        self.hub = Hub(
            board=self.board,
            directory=self.directory,
            resume_window=cfg.web.resume_window,
            client_buffer=cfg.web.client_buffer,
            default_country=cfg.store.default_country,
        )
        self.writer = JourneyWriter(
            self.store.calls, batch_size=cfg.store.batch_size, flush_interval=cfg.store.flush_interval
        )
        self.bus.subscribe("hub", self.hub.on_events)
        self.bus.subscribe("store", self.writer.on_events, local_only=True)
        for a in cfg.asterisk:
            self._add_server(a)
        if cfg.redis.url:
            # consoles here act on calls of servers other instances are connected to, and the reverse
            self.remote = RemoteServers(cfg.redis.url, cfg.daemon.name, prefix=cfg.redis.command_prefix)
            self.channels.remote = self.remote
            self.commands = CommandService(
                cfg.redis.url,
                cfg.daemon.name,
                {name: self._local_server(name, c) for name, c in self.connections.items()},
                prefix=cfg.redis.command_prefix,
            )
        desk = Desk(self.hub, self._link, self.channels, self.store.calls, self._contexts())
        secret = cfg.web.secret.encode() if cfg.web.secret else secrets.token_bytes(32)
        if cfg.web.secret and len(secret) < 16:
            raise ConfigError(cfg.path, "web.secret", "must be at least 16 characters (or empty: random)")
        self.server = ConsoleServer(
            self.hub,
            desk,
            self.store.accounts,
            TokenSigner(secret, cfg.web.token_ttl),
            host=cfg.web.host,
            port=cfg.web.port,
            limits=Limits(max_message_bytes=cfg.web.max_message_bytes, client_buffer=cfg.web.client_buffer),
            registry=self.registry,
            health=self.health,
        )
        self._register_metrics(desk)
        await self.server.start()

    def _link(self, server: str) -> Any:
        """The AMI link of ``server``: this instance's connection, or the instance connected to it."""
        local = self.connections.get(server)
        if local is not None or self.remote is None:
            return local
        return self.remote.link(server)

    def _local_server(self, name: str, connection: Any) -> LocalServer:
        channels = self.channels
        return LocalServer(
            send_action=connection.send_action,
            agent_channel=lambda lid, agent: channels.local_agent_channel(name, lid, agent),
            caller_channel=lambda lid: channels.local_caller_channel(name, lid),
        )

    def _contexts(self) -> Contexts:
        first = self.cfg.asterisk[0] if self.cfg.asterisk else AsteriskConfig()
        return Contexts(agent=first.agent_context, queue=first.queue_context, dial=first.dial_context)

    def _add_server(self, a: AsteriskConfig) -> None:
        from cti.asterisk.connection import AmiConnection
        from cti.asterisk.pump import EventPump

        tracker = CallTracker(
            a.name,
            inbound_contexts={*a.inbound_contexts, a.holding_context, a.queue_context},
            deliver_contexts=(a.agent_context,),
            wrapup_seconds=a.wrapup_seconds,
        )
        connection = AmiConnection(a)
        self.connections[a.name] = connection
        self.channels.trackers[a.name] = tracker
        self.pumps[a.name] = EventPump(connection.queue, tracker, self.publish, server=a.name)

    def publish(self, events: Sequence[DomainEvent]) -> None:
        self.bus.publish(events)

    async def run(self) -> None:
        """Until ``stopping`` is set (SIGTERM/SIGINT); then a clean, flushing shutdown."""
        if self.server is None:
            await self.open()
        assert self.server is not None and self.writer is not None and self.directory is not None
        log.info(
            "cti daemon %s running",
            self.cfg.daemon.name,
            extra={"url": self.server.url, "servers": ",".join(self.connections)},
        )
        try:
            async with asyncio.TaskGroup() as tg:
                ami_tasks = []
                for name, connection in self.connections.items():
                    ami_tasks.append(tg.create_task(connection.run(), name=f"ami-link-{name}"))
                    ami_tasks.append(tg.create_task(self.pumps[name].run(), name=f"ami-pump-{name}"))
                others = [
                    tg.create_task(self.bus.run(), name="bus"),
                    tg.create_task(self.writer.run(), name="store-writer"),
                    tg.create_task(self.directory.run(), name="caller-lookups"),
                    tg.create_task(self.server.run(), name="consoles"),
                ]
                if self.commands is not None:
                    others.append(tg.create_task(self.commands.run(), name="commands"))
                every = self.cfg.tiers.recompute_every_hours * 3600.0
                if every > 0 and hasattr(self.store, "tiers"):
                    self.tier_schedule = TierSchedule(self.store.tiers, every)
                    others.append(tg.create_task(self.tier_schedule.run(), name="tier-schedule"))
                await self.stopping.wait()
                log.info("shutting down: stopping the AMI links")
                for task in ami_tasks:
                    task.cancel()
                await asyncio.gather(*ami_tasks, return_exceptions=True)
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
        flush = getattr(self.bus, "flush", None)
        if flush is not None:
            await flush()
        if self.server is not None:
            await self.server.close()
        if self.remote is not None:
            await self.remote.close()
        if self._own_store and self.store is not None:
            await self.store.close()
            self.store = None

    # ---- health and metrics --------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        ami = {name: bool(c.stats.connected) for name, c in self.connections.items()}
        writer_ok = (
            self.writer is None or self.writer.errors == 0 or self.writer.pending < self.cfg.store.batch_size
        )
        ok = all(ami.values()) and writer_ok and self.bus.connected
        return {
            "status": "ok" if ok else "degraded",
            "instance": self.cfg.daemon.name,
            "uptime": round(time.time() - self.started_at, 1),
            "ami": ami,
            "bus": {"kind": type(self.bus).__name__, "connected": self.bus.connected},
            "store": {
                "pending": self.writer.pending if self.writer else 0,
                "last_error": self.writer.last_error if self.writer else "",
            },
            "clients": self.hub.client_count if self.hub else 0,
        }

    def _register_metrics(self, desk: Desk) -> None:
        def ami() -> Iterable[Family]:
            fams = {
                "connected": Family("ami_connected", "gauge", "1 when the AMI link is logged in"),
                "reconnects": Family("ami_reconnects_total", "counter", "logins after the first one"),
                "messages": Family("ami_events_total", "counter", "AMI events received"),
                "queue_depth": Family("ami_queue_depth", "gauge", "events waiting for the tracker"),
                "dropped": Family("ami_events_dropped_total", "counter", "events dropped on queue overflow"),
                "resyncs": Family("ami_resyncs_total", "counter", "state rebuilds from list actions"),
                "auth_failures": Family("ami_auth_failures_total", "counter", "refused logins"),
                "problems": Family("ami_problems_total", "counter", "malformed AMI input reported"),
            }
            for name, c in self.connections.items():
                stats = c.metrics()
                for key, fam in fams.items():
                    fam.add(float(stats.get(key, 0) or 0), server=name)
            for name, pump in self.pumps.items():
                fams.setdefault(
                    "published", Family("domain_events_total", "counter", "domain events published")
                )
                fams["published"].add(pump.published, server=name)
            return fams.values()

        def web() -> Iterable[Family]:
            assert self.hub is not None and self.server is not None
            hub, srv = self.hub, self.server
            yield Family("ws_clients", "gauge", "connected console clients").add(hub.client_count)
            yield Family("ws_connections_total", "counter", "websocket connections").add(srv.connections)
            yield Family("ws_logins_total", "counter", "successful logins").add(srv.logins)
            yield Family("ws_login_failures_total", "counter", "refused logins and tokens").add(
                srv.logins_failed
            )
            yield Family("ws_refused_total", "counter", "bad, forbidden or rate-limited commands").add(
                srv.refused
            )
            yield Family("ws_clients_dropped_total", "counter", "clients dropped as too slow").add(
                hub.clients_dropped
            )
            yield Family("ws_messages_total", "counter", "messages queued to clients").add(hub.messages_sent)
            yield Family("pops_sent_total", "counter", "screen pops sent").add(hub.pops_sent)
            yield Family("live_calls", "gauge", "calls the hub follows").add(len(hub.calls))
            yield Family("actions_total", "counter", "AMI actions from consoles").add(desk.actions_sent)
            yield Family("actions_failed_total", "counter", "console actions that failed").add(
                desk.actions_failed
            )

        def store() -> Iterable[Family]:
            w, d = self.writer, self.directory
            assert w is not None and d is not None
            yield Family("store_batches_total", "counter", "call record batches written").add(w.batches)
            yield Family("store_rows_total", "counter", "call records written").add(w.rows)
            yield Family("store_errors_total", "counter", "failed batch writes").add(w.errors)
            yield Family("store_pending", "gauge", "finished calls waiting to be written").add(w.pending)
            yield Family("lookup_cache_hits_total", "counter", "caller lookups from cache").add(d.hits)
            yield Family("lookup_misses_total", "counter", "caller lookups sent to the store").add(d.misses)
            yield Family("lookup_failures_total", "counter", "caller lookups failed or timed out").add(
                d.failures
            )

        def bus() -> Iterable[Family]:
            b = self.bus
            yield Family("bus_published_total", "counter", "events published by this instance").add(
                b.published
            )
            yield Family("bus_received_total", "counter", "events from other instances").add(b.received)
            yield Family("bus_connected", "gauge", "1 when the bus is up").add(1 if b.connected else 0)
            yield Family("bus_handler_errors_total", "counter", "subscriber failures").add(b.handler_errors)
            yield Family("uptime_seconds", "gauge", "seconds since start").add(time.time() - self.started_at)
            if self.remote is not None:
                yield Family("commands_sent_total", "counter", "requests to other instances").add(
                    self.remote.sent
                )
            if self.commands is not None:
                c = self.commands
                yield Family("commands_done_total", "counter", "requests of other instances carried out").add(
                    c.done
                )
                yield Family("commands_expired_total", "counter", "requests dropped past their deadline").add(
                    c.expired
                )
                yield Family("commands_bad_total", "counter", "requests that did not decode").add(c.bad)
            if (t := self.tier_schedule) is not None:
                yield Family("tier_runs_total", "counter", "scheduled value-tier recomputations").add(
                    t.tier_runs
                )
                yield Family("tier_failures_total", "counter", "failed scheduled tier runs").add(
                    t.tier_failures
                )

        for collector in (ami, web, store, bus):
            self.registry.register(collector)


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
