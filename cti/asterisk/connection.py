"""The AMI connection: one logged-in link at a time, kept alive, rebuilt after every loss, strictly ordered.

Theory of operation (design notes in docs/design/ami-client.md):

1. ``run()`` loops forever: connect, log in (MD5 challenge, or plain), resync, then watch the link until
   it ends; then wait an exponentially growing, jittered delay (``reconnect_min``..``reconnect_max``)
   and start again. A link that logged in and carried traffic for ``stable_after`` seconds was stable:
   the delay after its loss starts over from ``reconnect_min`` (a flaky network costs well under a
   second per cut, not a growing one), while a server that drops every link at once still backs off.
   Bad credentials follow the same growing delay, are counted, put the connection in state
   ``auth_failed`` and are reported as a ``StreamProblem`` on the event queue: never a silent
   re-login at full speed.
2. Keepalive: a ``Ping`` every ``ping_interval``. The link is declared dead, and dropped, when no byte at
   all arrived for ``dead_after`` seconds or a Ping stayed unanswered that long (Asterisk never sends
   keepalives of its own, and a half-open TCP link looks perfectly healthy to the writer).
3. After every login: a resync. ``CoreShowChannels`` then ``QueueStatus``, each collected until the item
   with ``EventList: Complete``, become one ``ResyncSnapshot`` (reason "login" the first time,
   "reconnect" afterwards). Events that arrive before the first list's response were written before the
   list was built: they are queued before the snapshot. Events that arrive after it are held back and
   queued *after* the snapshot, so the tracker rebuilds its state and then applies what happened since.
4. One queue, one order: every event (``Received``), every snapshot and every stream problem goes into
   ``self.queue``, in arrival order, for ONE consumer (cti/asterisk/pump.py). The read side never
   blocks: when ``event_queue_size`` events are waiting, the next event is not queued; instead a
   ``StreamProblem`` says so loudly, further events are counted as dropped, and a resync with reason
   "overflow" is read at once, whose snapshot covers the gap. Control items (problems, snapshots) are
   never refused, and events held during a resync are bounded by the same size.
5. Actions: ``send_action`` / ``send_list_action`` wait (up to their timeout) for a logged-in link.
   Originate is always sent with ``Async: true``. When the link drops before the reply, idempotent reads
   (``IDEMPOTENT_ACTIONS``) are sent once more on the next link; anything else (Originate, Redirect,
   Hangup, BlindTransfer, Atxfer, ...) fails with ``ActionLost`` and is never re-sent.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from cti.asterisk.ami import Message
from cti.asterisk.client import (
    IDEMPOTENT_ACTIONS,
    ActionInput,
    ActionLost,
    AmiProtocol,
    AuthenticationFailed,
    ListReply,
    NotConnected,
    action_pairs,
    header,
    login,
    request,
)
from cti.asterisk.snapshot import ResyncSnapshot
from cti.config import AsteriskConfig
from cti.core.errors import UsageError
from cti.core.events import StreamProblem
from cti.telemetry import Metric, counter, gauge

log = logging.getLogger("cti.asterisk.connection")

RESYNC_LISTS = ("CoreShowChannels", "QueueStatus")


@dataclass(frozen=True, slots=True)
class Received:
    """One AMI event as it arrived: ``at`` is the wall-clock receive time (epoch seconds)."""

    at: float
    message: Message


QueueItem = Received | ResyncSnapshot | StreamProblem


@dataclass(slots=True)
class ConnectionStats:
    """What /metrics shows about one AMI connection."""

    server: str
    state: str = "disconnected"  # disconnected, connecting, logging_in, connected, auth_failed, stopped
    connected: bool = False
    logins: int = 0
    reconnects: int = 0  # successful logins after the first one
    connect_failures: int = 0
    auth_failures: int = 0
    dead_links: int = 0  # links dropped by the keepalive
    messages: int = 0  # events received (list items and responses excluded)
    queue_depth: int = 0
    queue_peak: int = 0
    overflows: int = 0
    dropped: int = 0  # events not queued because of an overflow (each one covered by a resync)
    resyncs: int = 0
    links_lost: int = 0  # logged-in links that went down (the records repair dates its gaps by it)
    problems: int = 0  # malformed input reported
    actions_retried: int = 0
    actions_lost: int = 0
    stable_links: int = 0  # links that logged in and carried traffic for stable_after (backoff reset)
    last_reconnect_delay: float = 0.0  # the delay chosen before the latest attempt (seconds)
    last_error: str = ""


def backoff_delay(attempt: int, low: float, high: float, rng: random.Random) -> float:
    """Delay before reconnect attempt ``attempt`` (0-based): exponential, capped, with "equal jitter"
    (half fixed, half random) so a fleet of daemons does not reconnect in lockstep."""
    base = min(high, low * 2.0 ** min(attempt, 64))
    return base / 2 + rng.uniform(0, base / 2)


class AmiConnection:
    """One Asterisk server. Run ``run()`` in a TaskGroup and drain ``queue`` with one ``EventPump``."""

    def __init__(
        self,
        config: AsteriskConfig,
        *,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        action_timeout: float = 10.0,
    ) -> None:
        if config.event_queue_size < 1:
            raise UsageError("asterisk.event_queue_size must be at least 1")
        self.config = config
        self.server = config.name
        self.queue: asyncio.Queue[QueueItem] = asyncio.Queue()  # bounded by _admit (rule 4)
        self.stats = ConnectionStats(server=config.name)
        self.action_timeout = action_timeout
        self._wall = wall_clock
        self._rng = rng or random.Random()
        self._capacity = config.event_queue_size
        self._proto: AmiProtocol | None = None
        self._up = asyncio.Event()
        self._hold: list[QueueItem] | None = None  # set while a resync reads its lists (rule 3)
        self._overflowed = False
        self._overflow_wanted = asyncio.Event()
        self._logged_in_once = False
        self._login_at: float | None = None  # monotonic time of the current link's login
        self.reconnect_delays: collections.deque[float] = collections.deque(maxlen=256)  # oldest first

    # --- the read side (called synchronously from data_received) -----------------------------------
    def _on_event(self, msg: Message, received_at: float) -> None:
        self.stats.messages += 1
        self._admit(Received(received_at, msg))

    def _on_problem(self, problem: str) -> None:
        self.stats.problems += 1
        log.warning("%s: %s", self.server, problem)
        self._admit(StreamProblem(at=self._wall(), server=self.server, problem=problem))

    def _admit(self, item: QueueItem) -> None:
        if self._hold is not None:
            if len(self._hold) < self._capacity:
                self._hold.append(item)
            else:
                self._overflow(f"{len(self._hold)} events arrived while a resync was being read")
            return
        if self._overflowed:
            self.stats.dropped += 1
            return
        if self.queue.qsize() >= self._capacity:
            self._overflow(f"{self.queue.qsize()} events waiting")
            return
        self._put(item)

    def _put(self, item: QueueItem) -> None:
        self.queue.put_nowait(item)
        depth = self.queue.qsize()
        if depth > self.stats.queue_peak:
            self.stats.queue_peak = depth

    def _overflow(self, detail: str) -> None:
        self.stats.dropped += 1
        if self._overflowed:
            return
        self._overflowed = True
        self.stats.overflows += 1
        problem = (
            f"AMI event queue overflowed ({detail}, limit {self._capacity}): "
            "events are dropped until a resync rebuilds the state"
        )
        log.error("%s: %s", self.server, problem)
        self._put(StreamProblem(at=self._wall(), server=self.server, problem=problem))
        self._overflow_wanted.set()

    def _start_hold(self, _response: Message) -> None:
        # The first list's response is in: Asterisk wrote every event before it before building the list,
        # so those are queued before the snapshot (an overflow's drops included: the snapshot covers them).
        # From here on events wait behind the snapshot.
        self._hold = []
        self._overflowed = False

    def _finish_resync(self, snapshot: ResyncSnapshot) -> None:
        self._put(snapshot)
        self._release_hold()
        self.stats.resyncs += 1

    def _release_hold(self) -> None:
        held, self._hold = self._hold, None
        for item in held or ():
            self._put(item)  # admitted into the bounded hold already

    # --- the link loop (rule 1) --------------------------------------------------------------------
    async def run(self) -> None:
        """Connect and stay connected until cancelled."""
        failures = 0
        try:
            while True:
                stable = False
                try:
                    stable = await self._link()
                except AuthenticationFailed as exc:
                    self.stats.auth_failures += 1
                    self._set_state("auth_failed", str(exc))
                    delay = self._backoff(failures)
                    problem = f"{exc}; check asterisk.username/secret; next attempt in {delay:.1f} s"
                    log.error("%s: %s", self.server, problem)
                    self._put(StreamProblem(at=self._wall(), server=self.server, problem=problem))
                    failures += 1
                    self._chose(delay)
                    await asyncio.sleep(delay)
                    continue
                except (OSError, TimeoutError, ActionLost) as exc:
                    self.stats.connect_failures += 1
                    self._set_state("disconnected", f"{type(exc).__name__}: {exc}")
                    log.warning("%s: AMI connection to %s:%s failed: %s", self.server, *self._addr(), exc)
                if stable:
                    failures = 0
                delay = self._backoff(failures)
                failures += 1
                self._chose(delay)
                log.info("%s: reconnecting in %.2f s", self.server, delay)
                await asyncio.sleep(delay)
        finally:
            self._set_state("stopped")

    def _chose(self, delay: float) -> None:
        self.stats.last_reconnect_delay = delay
        self.reconnect_delays.append(delay)

    def _backoff(self, failures: int) -> float:
        return backoff_delay(failures, self.config.reconnect_min, self.config.reconnect_max, self._rng)

    def _addr(self) -> tuple[str, int]:
        return self.config.host, self.config.port

    def _set_state(self, state: str, error: str | None = None) -> None:
        if self.stats.state == "auth_failed" and state in ("connecting", "logging_in"):
            state = "auth_failed"  # stays visible while retrying, until a login succeeds
        self.stats.state = state
        self.stats.connected = state == "connected"
        if error is not None:
            self.stats.last_error = error

    def _tls(self) -> tuple[ssl.SSLContext | None, str | None]:
        """The TLS context and the name to verify, or (None, None) for plain TCP."""
        cfg = self.config
        if not cfg.tls:
            return None, None
        context = ssl.create_default_context(cafile=cfg.tls_ca_file or None)
        if not cfg.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context, cfg.tls_server_name or cfg.host

    async def _link(self) -> bool:
        """One link from connect to loss. Returns whether it was stable: logged in, and data kept
        arriving for ``stable_after`` seconds (the resync's lists, events, Pongs)."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        self._set_state("connecting")
        tls, server_name = self._tls()
        async with asyncio.timeout(cfg.dead_after):
            _, proto = await loop.create_connection(
                lambda: AmiProtocol(
                    on_event=self._on_event,
                    on_problem=self._on_problem,
                    wall_clock=self._wall,
                    on_close=self._link_down,
                ),
                cfg.host,
                cfg.port,
                ssl=tls,
                server_hostname=server_name,
            )
        try:
            self._set_state("logging_in")
            await login(proto, username=cfg.username, secret=cfg.secret, auth=cfg.auth, limit=cfg.dead_after)
            reason = "reconnect" if self._logged_in_once else "login"
            if self._logged_in_once:
                self.stats.reconnects += 1
            self._logged_in_once = True
            self.stats.logins += 1
            self._set_state("connected")
            log.info("%s: logged in to %s:%s (%s)", self.server, *self._addr(), proto.banner.result())
            self._proto = proto
            self._up.set()
            self._overflow_wanted.clear()  # this link's resync covers any earlier overflow
            started = self._login_at = time.monotonic()
            async with asyncio.TaskGroup() as tg:
                keepalive = tg.create_task(self._keepalive(proto))
                resyncs = tg.create_task(self._resyncs(proto, reason))
                why = await asyncio.shield(proto.closed)  # a cancel must not cancel the link's own future
                keepalive.cancel()
                resyncs.cancel()
            lived = time.monotonic() - started
            self._set_state("disconnected", why)
            log.warning("%s: AMI link lost after %.1f s: %s", self.server, lived, why)
            stable = proto.last_rx - started >= cfg.stable_after
            self.stats.stable_links += stable
            return stable
        finally:
            self._up.clear()
            self._proto = None
            self._login_at = None
            task = asyncio.current_task()
            if proto.is_open and task is not None and task.cancelling():
                proto.logoff()  # shutting down: leave politely
            else:
                proto.abort("connection closed by cti")
            if self._hold is not None:
                self._release_hold()  # the next link's resync follows them
            self._overflowed = False

    def _link_down(self, proto: AmiProtocol) -> None:
        if self._proto is proto:
            self._proto = None
            self._up.clear()
            if self.stats.connected:
                self.stats.links_lost += 1
            self.stats.connected = False

    # --- keepalive (rule 2) ------------------------------------------------------------------------
    async def _keepalive(self, proto: AmiProtocol) -> None:
        cfg = self.config
        tick = max(0.005, min(cfg.ping_interval, cfg.dead_after) / 4)
        last_ping = time.monotonic()
        ping: asyncio.Future[Message | ListReply] | None = None
        try:
            while proto.is_open:
                await asyncio.sleep(tick)
                now = time.monotonic()
                if ping is not None and ping.done():
                    if ping.cancelled() or ping.exception() is not None:
                        return  # the link is gone; proto.closed resolves
                    ping = None
                silent = now - proto.last_rx
                if silent >= cfg.dead_after:
                    self._dead(proto, f"no data for {silent:.2f} s (dead_after {cfg.dead_after} s)")
                    return
                if ping is not None and now - last_ping >= cfg.dead_after:
                    self._dead(proto, f"no Pong for {now - last_ping:.2f} s (dead_after {cfg.dead_after} s)")
                    return
                if ping is None and now - last_ping >= cfg.ping_interval:
                    ping = proto.send({"Action": "Ping"})
                    last_ping = now
        finally:
            if ping is not None:
                ping.add_done_callback(_consume)

    def _dead(self, proto: AmiProtocol, why: str) -> None:
        self.stats.dead_links += 1
        self.stats.last_error = f"dead link: {why}"  # visible now, not only once the link has unwound
        log.error("%s: AMI link dead: %s", self.server, why)
        proto.abort(f"dead link: {why}")

    # --- resync (rules 3 and 4) --------------------------------------------------------------------
    async def _resyncs(self, proto: AmiProtocol, reason: str) -> None:
        try:
            await self._resync(proto, reason)
            while True:
                await self._overflow_wanted.wait()
                self._overflow_wanted.clear()
                await self._resync(proto, "overflow")
        except ActionLost:
            return  # the link dropped; the next login resyncs
        except TimeoutError:
            proto.abort("resync lists did not complete in time")

    async def _resync(self, proto: AmiProtocol, reason: str) -> None:
        at = self._wall()
        lists: list[list[Message]] = []
        for name in RESYNC_LISTS:
            hold = self._start_hold if not lists else None
            reply = await request(proto, {"Action": name}, self.config.dead_after, on_reply=hold)
            if not isinstance(reply, ListReply):
                # Never hand the tracker an empty snapshot it would take for "no calls": say so instead.
                problem = f"resync impossible: {name} refused ({reply.get('Message')}); state may be stale"
                log.error("%s: %s", self.server, problem)
                self._put(StreamProblem(at=self._wall(), server=self.server, problem=problem))
                self._release_hold()
                return
            lists.append(reply.items)
        self._finish_resync(ResyncSnapshot(at=at, reason=reason, channels=lists[0], queue_status=lists[1]))
        log.info(
            "%s: resync (%s): %d channels, %d queue items", self.server, reason, len(lists[0]), len(lists[1])
        )

    # --- actions (rule 5) --------------------------------------------------------------------------
    async def wait_connected(self, limit: float | None = None) -> None:
        """Wait for a logged-in link, at most ``limit`` seconds (then ``NotConnected``)."""
        try:
            async with asyncio.timeout(limit):
                await self._up.wait()
        except TimeoutError:
            raise NotConnected(
                f"{self.server}: no logged-in AMI link ({self.stats.state}: {self.stats.last_error})"
            ) from None

    async def send_action(self, action: ActionInput) -> Message:
        """Send one action and return its response (``Response: Error`` is returned, not raised).

        Gives up after ``action_timeout`` seconds (``TimeoutError``); wrap the call in ``asyncio.timeout``
        for a shorter limit. A reply that comes later is dropped."""
        reply = await self._send(action)
        if isinstance(reply, ListReply):
            raise UsageError(f"{reply.response.get('Message')}: a list action; use send_list_action")
        return reply

    async def send_list_action(self, action: ActionInput) -> ListReply:
        """Send a list action (QueueStatus, CoreShowChannels, Status...) and collect its items."""
        reply = await self._send(action)
        if isinstance(reply, Message):  # refused: no list follows
            return ListReply(reply)
        return reply

    async def _send(self, action: ActionInput) -> Message | ListReply:
        pairs = action_pairs(action)
        name = header(pairs, "Action")
        if not name:
            raise UsageError("an AMI action needs an 'Action' header")
        if name.lower() == "originate":
            mode = header(pairs, "Async")
            if mode is None:
                pairs.append(("Async", "true"))
            elif mode.lower() not in ("true", "yes", "1", "on"):
                raise UsageError("Originate must be Async: a synchronous Originate blocks all AMI events")
        retryable = name.lower() in IDEMPOTENT_ACTIONS
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.action_timeout
        attempts = 2 if retryable else 1
        for attempt in range(attempts):
            await self.wait_connected(max(0.0, deadline - loop.time()))
            proto = self._proto
            if proto is None:
                continue
            try:
                return await request(proto, list(pairs), max(0.001, deadline - loop.time()))
            except ActionLost:
                if attempt + 1 < attempts:
                    self.stats.actions_retried += 1
                    log.info("%s: %s lost with the link; sending it again (idempotent)", self.server, name)
                    continue
                self.stats.actions_lost += 1
                raise
        raise NotConnected(f"{self.server}: {name}: no logged-in AMI link")

    # --- metrics -----------------------------------------------------------------------------------
    def metrics(self) -> dict[str, object]:
        self.stats.queue_depth = self.queue.qsize()
        return asdict(self.stats)

    @property
    def links_lost(self) -> int:
        return self.stats.links_lost

    @property
    def connected(self) -> bool:
        return self.stats.connected

    @property
    def stable(self) -> bool:
        """The current link logged in and carried traffic for ``stable_after``: its loss resets the
        reconnect delay."""
        proto, since = self._proto, self._login_at
        return proto is not None and since is not None and proto.last_rx - since >= self.config.stable_after

    def collect(self) -> Iterable[Metric]:
        """This link's metrics, labelled with its server (prometheus-client collector)."""
        s, server = self.stats, self.server
        yield gauge("ami_connected", "1 when the AMI link is logged in", s.connected, server=server)
        yield counter("ami_reconnects_total", "logins after the first one", s.reconnects, server=server)
        yield counter("ami_events_total", "AMI events received", s.messages, server=server)
        depth = self.queue.qsize()
        yield gauge("ami_queue_depth", "events waiting for the tracker", depth, server=server)
        yield counter(
            "ami_events_dropped_total", "events dropped on queue overflow", s.dropped, server=server
        )
        yield counter("ami_resyncs_total", "state rebuilds from list actions", s.resyncs, server=server)
        yield counter("ami_auth_failures_total", "refused logins", s.auth_failures, server=server)
        yield counter("ami_problems_total", "malformed AMI input reported", s.problems, server=server)


def _consume(future: asyncio.Future[Message | ListReply]) -> None:
    """Retrieve a finished future's exception so asyncio does not log it as never retrieved."""
    if not future.cancelled():
        with contextlib.suppress(Exception):
            future.exception()
