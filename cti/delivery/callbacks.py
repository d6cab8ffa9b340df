"""Callbacks at the edge: key presses in, Originates out, attempts into the store.

The rules are in cti.routing.callbacks (pure); this service applies them to the daemon's router
through the routing service (cti.delivery.service), whose hooks hand it, in the pump's task and in
order, the events that concern callbacks:

1. ``UserEvent(CtiCallbackRequest)`` (the sample dialplan's ``inbound,1``: the caller pressed the key
   while waiting): the held call leaves the holding extension without an ABANDON (queue_log
   EXITWITHKEY) and its router entry becomes the callback's virtual entry at once, with its place;
   the callback is stored (its ``origin`` is the held call, so two instances watching one Asterisk
   store it once) and offered as soon as it is stored.
2. A callback from the HTTP API or an agent's disposition is stored as ``scheduled``; ``run`` claims the
   due ones from the store (each by one instance) and enters them into the router at their place.
3. An offer of a virtual entry has reserved an agent: cti dials the customer with ``Originate``
   (``[routing.callbacks] channel``) into ``<agent_context>,<agent extension>`` - customer first, then
   the reserved agent (docs/design/callbacks.md says why) - and keeps the agent reserved while the
   customer's phone rings. ``OriginateResponse`` says how it went: answered, the call is a held call
   being delivered to the reserved agent (cti.delivery.service ``adopt``); else the attempt failed and
   the callback waits, with its place, ``spacing`` seconds for the next one, or has failed.
4. Every attempt and its outcome is stored (``store.callbacks``: the customer's callback history) and
   filed as a disposition of the attempt's call (``callback:<outcome>``), so the call record in the
   customer's contact history says it was a callback and how it went.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from cti.config import CallbacksConfig
from cti.core.events import DomainEvent, OriginateFinished, UserEventRaised
from cti.core.ids import AgentId
from cti.delivery.service import RoutingService, call_id
from cti.routing import callbacks as rules
from cti.routing.callbacks import Callback, CallbackStatus, RetryPolicy, Source
from cti.routing.router import Offer
from cti.screenpop.actions import reply_ok
from cti.store import phones
from cti.telemetry import Metric, counter, gauge

log = logging.getLogger("cti.delivery.callbacks")

REQUEST_EVENT = "CtiCallbackRequest"
FLUSH_TIMEOUT = 3.0  # seconds the outcomes being stored get at shutdown
PAST_GRACE = 300.0  # seconds in the past a requested time may be (a clock a little behind): due now
RESERVE_MARGIN = 10.0  # seconds the agent stays reserved beyond the customer's ring timeout


class CallbackError(ValueError):
    """A callback request is wrong: ``field`` names what, ``reason`` says why (the API's 400)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


class CallbackRecord(Protocol):
    """A stored callback (cti.store.callbacks_repo.CallbackRow)."""

    @property
    def id(self) -> int: ...

    @property
    def e164(self) -> str: ...

    @property
    def queue(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def agent(self) -> str | None: ...

    @property
    def due_at(self) -> float: ...

    @property
    def entered(self) -> float: ...

    @property
    def attempts(self) -> int: ...

    def to_json(self) -> dict[str, Any]: ...


class CallbackStore(Protocol):
    """``store.callbacks`` (cti.store.callbacks_repo.CallbackRepository)."""

    async def add(
        self,
        number: str,
        queue: str,
        source: str,
        *,
        due_at: float,
        entered: float | None = None,
        agent: str | None = None,
        created_by: str = "",
        note: str = "",
        origin: str | None = None,
        status: str = "scheduled",
        owner: str | None = None,
        at: float | None = None,
    ) -> CallbackRecord | None: ...

    async def claim_due(self, owner: str, until: float, *, limit: int = 100) -> Iterable[CallbackRecord]: ...

    async def record_attempt(
        self,
        callback_id: int,
        *,
        at: float,
        agent: str,
        outcome: str,
        status: str,
        linkedid: str | None = None,
    ) -> None: ...

    async def set_status(self, callback_id: int, status: str, *, at: float | None = None) -> bool: ...

    async def release(self, owner: str) -> int: ...

    async def of_agent(
        self, agent: str, *, open_only: bool = True, limit: int = 100
    ) -> Iterable[CallbackRecord]: ...

    async def of_number(self, number: str, *, limit: int = 20) -> list[Any]: ...


class Dispositions(Protocol):
    async def save_disposition(self, linkedid: str, agent: str, disposition: str, notes: str) -> Any: ...


@dataclass(slots=True)
class _Dialing:
    callback: int
    agent: AgentId
    server: str
    channel_id: str


@dataclass(slots=True)
class CallbackStats:
    requested: int = 0  # key presses taken
    scheduled: int = 0  # from the API and dispositions
    attempts: int = 0
    reached: int = 0
    failed: int = 0


class CallbackService:
    def __init__(
        self,
        routing: RoutingService,
        store: CallbackStore,
        cfg: CallbacksConfig,
        instance: str,
        *,
        dispositions: Dispositions | None = None,
        on_change: Callable[[AgentId | None], None] | None = None,
        default_country: str = "US",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.default_country = default_country
        self.routing = routing
        self.store = store
        self.cfg = cfg
        self.instance = instance
        self.dispositions = dispositions
        self.on_change = on_change  # an agent's callback list changed (None: someone's: anyone's)
        self.clock = clock
        self.policy = RetryPolicy(cfg.attempts, cfg.spacing, cfg.ring_timeout)
        self.stats = CallbackStats()
        self._book: dict[int, Callback] = {}  # in this router
        self._servers: dict[int, str] = {}  # the Asterisk server a key-press callback came from
        self._dialing: dict[str, _Dialing] = {}  # by the Originate's ChannelId
        self._pending = itertools.count(1)
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        routing.virtual = self

    # ---- hooks of the routing service (in the pump's task, in event order) ----------------------------
    def owns(self, call: str) -> bool:
        return rules.is_virtual(call)

    def numbers(self) -> dict[str, str]:
        return {cb.virtual: cb.number for cb in self._book.values()}

    def on_event(self, event: DomainEvent) -> bool:
        match event:
            case UserEventRaised(name=name) if name == REQUEST_EVENT:
                self._key_pressed(event)
                return True
            case OriginateFinished(channel_id=channel_id) if channel_id in self._dialing:
                self._attempt_over(event)
                return True
            case _:
                return False

    def _key_pressed(self, ev: UserEventRaised) -> None:
        uid = ev.headers.get("Uniqueid", "") or (ev.uniqueid or "")
        router, at = self.routing.router, ev.at
        cid = call_id(ev.server, uid)
        if router.call(cid) is None:
            log.warning("callback key pressed on %s, which is not waiting in the router", cid)
            return
        held = self.routing.take_held(ev.server, uid, at, ev.headers.get("Key", self.cfg.key))
        number = held.number if held is not None else ev.headers.get("Number", "")
        if held is None or not number:
            log.warning("callback key pressed on %s: no number to call back", cid)
            router.cancel(cid, at)
            return
        self.stats.requested += 1
        pending = f"{rules.VIRTUAL_PREFIX}pending-{next(self._pending)}"
        wc = router.rekey(cid, pending)
        if wc is None:
            return
        if wc.agent is not None:
            router.failed(pending, wc.agent, at)
        router.hold_call(pending, float("inf"))  # offered once stored (a virtual entry has a store id)
        self._spawn(self._store_key_press(pending, ev.server, cid, number, held.queue, wc.entered, at))

    async def _store_key_press(
        self, pending: str, server: str, origin: str, number: str, queue: str, entered: float, at: float
    ) -> None:
        router = self.routing.router
        row: CallbackRecord | None = None
        for attempt in range(3):
            try:
                row = await self.store.add(
                    number,
                    queue,
                    Source.KEY.value,
                    due_at=at,
                    entered=entered,
                    origin=origin,
                    status="queued",
                    owner=self.instance,
                    at=at,
                )
                break
            except Exception as e:  # keep the place and try again; the caller is gone, the entry is not
                log.error("could not store the callback of %s (%d): %s", number, attempt + 1, e)
                await asyncio.sleep(self.cfg.poll_interval)
        if row is None:  # another instance stored it first (or the store is down): it is not ours
            router.cancel(pending, self.routing.now())
            self.routing.wake()
            return
        cb = Callback(row.id, row.e164, queue, entered, at, Source.KEY, status=CallbackStatus.QUEUED)
        self._book[cb.id] = cb
        self._servers[cb.id] = server
        router.rekey(pending, cb.virtual)
        router.hold_call(cb.virtual, 0.0)
        self.routing.wake()
        self._changed(None)

    # ---- requests (the HTTP API, the agent console) ---------------------------------------------------
    def check(self, number: str, at: float | None, queue: str | None) -> tuple[str, float | None, str]:
        """(E.164 number, due time, queue) of a request, or CallbackError naming the field."""
        e164 = phones.normalize(number, self.default_country)
        if e164 is None:
            raise CallbackError("number", f"{number[:40]!r} is not a valid phone number")
        now = self.clock()
        if at is not None:
            if at < now - PAST_GRACE:
                raise CallbackError("at", "is in the past")
            if at > now + self.cfg.max_days_ahead * 86400.0:
                raise CallbackError("at", f"is more than {self.cfg.max_days_ahead:g} days ahead")
        name = queue or self.routing.cfg.default_queue
        if not name:
            raise CallbackError("queue", "is required (no [routing] default_queue)")
        if name not in self.routing.router.policies:
            raise CallbackError("queue", f"{name[:64]!r} is not a routed queue")
        return e164, at, name

    async def schedule(
        self, number: str, at: float, agent: AgentId | None, queue: str | None, created_by: str, note: str
    ) -> dict[str, Any]:
        """An agent's callback from the disposition (the console)."""
        e164, due, name = self.check(number, at, queue)
        row = await self.request(
            e164, name, due_at=due, agent=agent, created_by=created_by, note=note, source=Source.AGENT
        )
        return {"callback": row.to_json()}

    async def request(
        self,
        number: str,
        queue: str,
        *,
        due_at: float | None = None,
        agent: AgentId | None = None,
        created_by: str = "",
        note: str = "",
        source: Source = Source.WEB,
    ) -> CallbackRecord:
        """Store a callback; it enters the router when due (at once when ``due_at`` is now or past)."""
        now = self.clock()
        due = now if due_at is None else due_at
        row = await self.store.add(
            number,
            queue,
            source.value,
            due_at=due,
            entered=max(now, due),
            agent=agent,
            created_by=created_by,
            note=note,
            at=now,
        )
        assert row is not None  # no origin: never a duplicate
        self.stats.scheduled += 1
        self._wake.set()
        self._changed(agent)
        return row

    async def of_agent(self, agent: AgentId) -> list[dict[str, Any]]:
        return [r.to_json() for r in await self.store.of_agent(agent)]

    # ---- due callbacks into the router (the service's task) ---------------------------------------------
    async def run(self) -> None:
        try:
            released = await self.store.release(self.instance)  # what a previous run left queued
            if released:
                log.info("callbacks: %d queued by an earlier run are scheduled again", released)
        except Exception as e:
            log.warning("callbacks: could not release earlier claims: %s", e)
        try:
            while True:
                await self._claim()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.cfg.poll_interval):
                        await self._wake.wait()
        finally:  # what is being stored is written first (an attempt's outcome), then the claims end
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=FLUSH_TIMEOUT)
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self.store.release(self.instance)

    async def _claim(self) -> None:
        try:
            rows = list(await self.store.claim_due(self.instance, self.clock()))
        except Exception as e:
            log.warning("callbacks: could not read the due ones: %s", e)
            return
        router = self.routing.router
        for row in rows:
            if row.queue not in router.policies:
                log.error("callback %d: queue %r has no routing policy; cancelled", row.id, row.queue)
                await self.store.set_status(row.id, "cancelled")
                continue
            agent = AgentId(row.agent) if row.agent else None
            cb = Callback(row.id, row.e164, row.queue, row.entered, row.due_at, Source(row.source), agent)
            cb.attempts = [rules.Attempt(0.0, AgentId(""), "") for _ in range(row.attempts)]
            self._book[cb.id] = cb
            rules.enter(router, cb, self.routing.now())
        if rows:
            self.routing.wake()
            self._changed(None)

    # ---- an offer: dial the customer, then the reserved agent --------------------------------------------
    async def deliver(self, offer: Offer) -> None:
        r = self.routing.router
        cb_id = rules.callback_of(offer.call)
        cb = self._book.get(cb_id) if cb_id is not None else None
        if cb is None:
            r.cancel(offer.call, self.routing.now())
            self.routing.wake()
            return
        server = self._servers.get(cb.id) or self.routing.local_server()
        ext = self.routing.extension(offer.agent)
        link = self.routing.links(server) if server else None
        if server is None or link is None or ext is None:
            log.error(
                "callback %d: cannot dial (%s)", cb.id, "no extension" if ext is None else "no AMI link"
            )
            r.failed(offer.call, offer.agent, self.routing.now())
            r.block(offer.agent, self.routing.now() + 60.0)
            self.routing.wake()
            return
        hold = self.cfg.ring_timeout + RESERVE_MARGIN  # the customer's ring: the agent is held meanwhile
        if not await self.routing.lease_agent(server, offer.agent, hold):  # another instance holds it
            r.failed(offer.call, offer.agent, self.routing.now())
            self.routing.wake()
            return
        wc = r.call(offer.call)
        if wc is None or wc.token != offer.token:
            return  # fenced: the reservation ended meanwhile
        if cb.status is CallbackStatus.DIALING:  # an attempt is under way (its reservation ended early)
            r.failed(offer.call, offer.agent, self.routing.now())
            r.hold_call(offer.call, float("inf"))  # until that attempt's outcome
            self.routing.wake()
            return
        rules.dialing(cb)
        channel_id = str(uuid.uuid4())
        self._dialing[channel_id] = _Dialing(cb.id, offer.agent, server, channel_id)
        r.extend(offer.call, self.routing.now() + self.cfg.ring_timeout + RESERVE_MARGIN)
        context = self.routing.servers[server].agent_context if server in self.routing.servers else "deliver"
        action = {
            "Action": "Originate",
            "Channel": self.cfg.channel.format(number=cb.number.lstrip("+"), e164=cb.number),
            "Context": context,
            "Exten": ext,
            "Priority": "1",
            "Async": "true",
            "Timeout": str(int(self.cfg.ring_timeout * 1000)),
            "ChannelId": channel_id,
            "Variable": f"CTI_CALLBACK={cb.id}",
        }
        if self.cfg.caller_id:
            action["CallerID"] = self.cfg.caller_id
        self.stats.attempts += 1
        self._spawn(self._set_status(cb.id, "dialing"))
        try:
            async with asyncio.timeout(self.routing.action_timeout):
                reply = await link.send_action(action)
            ok, message = reply_ok(reply)
        except Exception as e:
            ok, message = False, str(e)
        if not ok:
            log.warning("callback %d: Originate refused: %s", cb.id, message)
            if self._dialing.pop(channel_id, None) is not None:
                self._failed(cb, offer.agent, "failed", self.routing.now(), channel_id)
        self.routing.wake()

    def _attempt_over(self, ev: OriginateFinished) -> None:
        d = self._dialing.pop(ev.channel_id)
        cb = self._book.get(d.callback)
        if cb is None:
            return
        if ev.outcome == rules.ANSWERED:
            self.stats.reached += 1
            rules.reached(self.routing.router, cb, d.agent, call_id(d.server, ev.channel_id), ev.at)
            self.routing.adopt(
                d.server,
                ev.channel_id,
                ev.linkedid or ev.channel_id,
                cb.number,
                cb.queue,
                cb.entered,
                d.agent,
            )
            self._book.pop(cb.id, None)
            self._spawn(
                self._record(cb, d.agent, rules.ANSWERED, ev.at, "done", ev.linkedid or ev.channel_id)
            )
        else:
            self.routing.router.hold_call(cb.virtual, 0.0)  # (held when its reservation ended early)
            self._failed(cb, d.agent, ev.outcome, ev.at, ev.linkedid or ev.channel_id)

    def _failed(self, cb: Callback, agent: AgentId, outcome: str, at: float, linkedid: str) -> None:
        rules.attempt_failed(self.routing.router, cb, agent, outcome, at, self.policy)
        status = "failed" if cb.status is CallbackStatus.FAILED else "queued"
        if cb.status is CallbackStatus.FAILED:
            self.stats.failed += 1
            self._book.pop(cb.id, None)
        self._spawn(self._record(cb, agent, cb.attempts[-1].outcome, at, status, linkedid))

    async def _record(
        self, cb: Callback, agent: AgentId, outcome: str, at: float, status: str, linkedid: str
    ) -> None:
        try:
            await self.store.record_attempt(
                cb.id, at=at, agent=agent, outcome=outcome, status=status, linkedid=linkedid
            )
            if self.dispositions is not None:
                await self.dispositions.save_disposition(
                    linkedid, "cti", f"callback:{outcome}", f"callback {cb.id}"
                )
        except Exception as e:
            log.warning("callback %d: attempt not stored: %s", cb.id, e)
        self._changed(cb.agent)

    async def _set_status(self, callback_id: int, status: str) -> None:
        try:
            await self.store.set_status(callback_id, status)
        except Exception as e:
            log.warning("callback %d: status not stored: %s", callback_id, e)

    def _changed(self, agent: AgentId | None) -> None:
        if self.on_change is not None:
            self.on_change(agent)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def collect(self) -> Iterable[Metric]:
        st = self.stats
        yield counter("callbacks_requested_total", "callback keys pressed by waiting callers", st.requested)
        yield counter("callbacks_scheduled_total", "callbacks from the API and dispositions", st.scheduled)
        yield counter("callbacks_attempts_total", "customers dialled for a callback", st.attempts)
        yield counter("callbacks_reached_total", "callback attempts the customer answered", st.reached)
        yield counter("callbacks_failed_total", "callbacks whose every attempt failed", st.failed)
        yield gauge("callbacks_in_router", "callbacks waiting in the router", len(self._book))
