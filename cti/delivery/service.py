"""CTI-mode delivery: held calls in, Redirects out. The edge around the pure router (cti.routing.router).

Flow (config/asterisk/extensions.conf, ``[routing] enabled = true``):

1. A call reaches the holding extension; the dialplan raises ``UserEvent(CtiWaiting)`` and the tracker
   publishes ``CallWaiting``. The service picks its queue (``[routing] dids``, then ``choices``, then
   ``default_queue``), asks the caller directory what the CRM knows (value tier, account owner, last
   agent: at most ``lookup_timeout`` seconds, never blocking the pump) and enqueues the call in the router
   with the time it reached the holding extension, so a slow look-up costs no place.
2. After every change the router decides; each offer reserves an agent, and the service sends
   ``Redirect`` of the caller's channel to ``<agent_context>,<agent extension>,1`` (deliver). With Redis,
   it first takes the call's and the agent's leases (cti.delivery.leases), so two instances watching one
   Asterisk never deliver one call twice nor two calls to one agent.
3. The tracker reports the ring (``AgentRinging``: the pop goes out now, before the answer), the answer
   (``CallAnswered``), a ring-no-answer (``AgentRingNoAnswer``, or the dialplan's
   ``UserEvent(CtiDeliveryFailed)``): the router keeps the caller's place and offers the next agent;
   N misses pause the agent (``QueuePause`` with the reason). A Redirect that Asterisk refuses, or that
   is lost with the link, puts the call back; a channel that is gone ends it.
4. Agent states: the tracker's observations feed the router; the router's own moves (RESERVED, cti's
   wrap-up, a pause not yet confirmed) are published as ``RoutedAgentState`` so consoles show them.
5. For every call it routes cti appends Asterisk-format queue_log lines (cti.delivery.queue_log).

Single writer: ``on_events`` runs inside the bus's delivery, in the AMI pump's task; ``run`` only decides
and sends actions; both are on the one event loop, so the router never sees two writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cti.config import AsteriskConfig, RoutingConfig
from cti.core.events import (
    AgentRinging,
    AgentRingNoAnswer,
    AgentSkillsChanged,
    AgentState,
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallWaiting,
    DomainEvent,
    Resynced,
    RoutedAgentState,
    UserEventRaised,
)
from cti.core.ids import AgentId, QueueName
from cti.core.journey import CallJourney
from cti.delivery.inbound import caller_facts, offer_callback, placed, send_closed
from cti.delivery.leases import Leases
from cti.delivery.queue_log import QueueLogWriter
from cti.routing.ewt import Announcing, Estimate, WaitModel, callback_due, estimate, reannounce
from cti.routing.policy import Requirements, SkillNeed
from cti.routing.router import (
    AgentAutoPaused,
    AgentMoved,
    CallLeft,
    CallServed,
    CallStatus,
    Offer,
    RingMissed,
    Router,
    RoutingEvent,
)
from cti.routing.rules import Closed, InboundCall, Route, RuleSet
from cti.screenpop.actions import extension_of, reply_ok
from cti.telemetry import Metric, counter, gauge

log = logging.getLogger("cti.delivery")

# Asterisk's Redirect errors that mean the caller's channel is no more (the call cannot be delivered)
_GONE = ("no such channel", "channel not up", "redirect failed")
LEASE_RETRY = 2.0  # seconds before a call another instance held is tried again (unless it rang there)
REFUSED_BACKOFF = 5.0  # seconds an agent is not offered again after Asterisk refused its Redirect


class AmiLink(Protocol):
    async def send_action(self, action: dict[str, str]) -> Any: ...


class CallerCards(Protocol):
    """The screen pop's caller directory (cti.screenpop.directory.CallerDirectory)."""

    def cached(self, number: str) -> Any: ...

    def request(self, number: str, done: Callable[[Any], None]) -> None: ...


class VirtualCalls(Protocol):
    """Entries of the router that are not held channels: callbacks (cti.delivery.callbacks)."""

    def on_event(self, event: DomainEvent) -> bool: ...

    def owns(self, call: str) -> bool: ...

    async def deliver(self, offer: Offer) -> None: ...

    def numbers(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class AgentSeat:
    """What delivery needs of an agent: who it is and which extension the deliver context dials."""

    member: AgentId
    extension: str
    skills: Mapping[str, int]
    username: str = ""


class Seats(Protocol):
    async def seats(self) -> list[AgentSeat]: ...

    async def save_skills(self, member: AgentId, skills: Mapping[str, int]) -> AgentSeat | None: ...


@dataclass(slots=True)
class _Held:
    server: str
    uniqueid: str
    channel: str
    linkedid: str
    number: str
    queue: str  # "" until the inbound rules decided (after the CRM look-up)
    entered: float
    did: str = ""
    choice: str = ""
    route: Route | None = None  # the inbound rules' decision, once taken
    position: int = 1
    enqueued: bool = False
    lookup_deadline: float = 0.0
    needs: Requirements | None = None
    preferred: tuple[AgentId, ...] = ()
    agent_uid: str = ""  # the agent's channel once answered (queue_log CONNECT)
    ring_started: float | None = None
    answered_at: float | None = None
    agent: AgentId | None = None
    leases: list[tuple[str, int]] = field(default_factory=list)  # the call's lease, while it is routed
    elsewhere: bool = False  # another instance (same Asterisk) rang an agent for it
    announcing: Announcing = field(default_factory=Announcing)  # its last announcement (reannounce)


@dataclass(slots=True)
class DeliveryStats:
    offers: int = 0
    redirects: int = 0
    redirect_failures: int = 0
    lost: int = 0  # Redirects whose outcome is unknown (the link dropped)
    lease_refusals: int = 0
    auto_pauses: int = 0
    served: int = 0
    abandoned: int = 0
    missed: int = 0
    ewt_overflows: int = 0  # calls placed in a queue's overflow_to by their EWT at entry
    callback_offers: int = 0  # held calls offered a callback by their EWT at entry
    by_queue: dict[str, int] = field(default_factory=dict)


def call_id(server: str, uniqueid: str) -> str:
    return f"{server}/{uniqueid}"


class RoutingService:
    def __init__(
        self,
        router: Router,
        cfg: RoutingConfig,
        servers: Mapping[str, AsteriskConfig],
        links: Callable[[str], AmiLink | None],
        publish: Callable[[Sequence[DomainEvent]], None],
        *,
        seats: Seats | None = None,
        cards: CallerCards | None = None,
        leases: Leases | None = None,
        queue_log: QueueLogWriter | None = None,
        clock: Callable[[], float] = time.time,
        action_timeout: float = 5.0,
        board: Callable[[dict[str, Any]], None] | None = None,
        board_interval: float = 0.5,
        legs: Callable[[str, str, str, float, int], Sequence[DomainEvent]] | None = None,
        held: Callable[[str], Sequence[CallWaiting]] | None = None,
        virtual: VirtualCalls | None = None,
        exits: Callable[[str, str, float], Sequence[DomainEvent]] | None = None,
        rules: RuleSet | None = None,
        region: str = "US",
    ) -> None:
        self.router = router
        self.cfg = cfg
        self.servers = dict(servers)
        self.links = links
        self.publish = publish
        self.seats = seats
        self.cards = cards
        self.leases = leases
        self.queue_log = queue_log
        self.clock = clock
        self.action_timeout = action_timeout
        self.board = board
        self.board_interval = board_interval
        self.legs = legs  # the tracker's route_leg(server, uniqueid, queue, entered, position)
        self.held = held  # the tracker's held_calls of a server's holding extension
        self.virtual = virtual  # callbacks: entries without a held channel (set once, at assembly)
        self.exits = exits  # the tracker's exit_leg(server, uniqueid, at): a visit left with a key
        self.rules = rules if rules is not None else cfg.ruleset(region)  # which queue (cti.routing.rules)
        self.ewt = WaitModel(cfg.default_handle_seconds)  # what EWT learns (cti.routing.ewt)
        self._board_due = True
        self._board_sent = 0.0
        self.stats = DeliveryStats()
        self._held: dict[str, _Held] = {}
        self._by_linkedid: dict[str, set[str]] = {}
        self._extensions: dict[AgentId, str] = {}
        self._by_extension: dict[str, AgentId] = {}
        self._interfaces: dict[AgentId, tuple[str, str]] = {}  # agent -> (server, interface)
        self._usernames: dict[str, AgentId] = {}  # account username / display name -> member
        self._wake = asyncio.Event()
        self._last_at = 0.0  # event time of the newest event, and when (wall clock) it arrived
        self._last_wall = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._agent_leases: dict[AgentId, tuple[str, int]] = {}  # held until the agent's ring is over

    # ---- time: event time (Asterisk's Timestamp), carried forward by the wall clock between events ----
    def now(self) -> float:
        if self._last_wall == 0.0:
            return self.clock()
        return self._last_at + max(0.0, self.clock() - self._last_wall)

    def _saw(self, at: float) -> None:
        if at >= self._last_at:
            self._last_at, self._last_wall = at, self.clock()

    # ---- agents ------------------------------------------------------------------------------------------
    async def load_seats(self) -> None:
        if self.seats is None:
            return
        for seat in await self.seats.seats():
            self.set_seat(seat)

    def set_seat(self, seat: AgentSeat) -> None:
        """An agent's skills and extension (at start, and when a supervisor changes them)."""
        self.router.set_agent(seat.member, seat.skills, self.now())
        if seat.extension:
            self._extensions[seat.member] = seat.extension
            self._by_extension[seat.extension] = seat.member
        if seat.username:
            self._usernames[seat.username.casefold()] = seat.member
        self._usernames[seat.member.casefold()] = seat.member
        self._wake.set()

    def _agent_of_extension(self, ext: str) -> AgentId | None:
        return self._by_extension.get(ext)

    # ---- events (the bus handler: in the pump's task) -------------------------------------------------
    def on_events(self, events: Sequence[DomainEvent], origin: str = "") -> None:
        r = self.router
        for ev in events:
            self._saw(ev.at)
            if self.virtual is not None and self.virtual.on_event(ev):
                continue
            match ev:
                case RoutedAgentState():
                    continue  # our own
                case AgentSkillsChanged(agent=agent, skills=skills):
                    r.set_agent(agent, skills, ev.at)
                case AgentStateChanged(agent=agent, state=state, reason=reason, queues=queues, at=at):
                    if ev.interface:
                        self._interfaces[agent] = (ev.server, ev.interface)
                        ext = extension_of(ev.interface)
                        if ext and agent not in self._extensions:
                            self._extensions[agent] = ext
                            self._by_extension[ext] = agent
                    r.observe(agent, state, at, reason, queues)
                case CallWaiting():
                    self._waiting(ev)
                case AgentRinging(uniqueid=uid, agent=agent, at=at):
                    cid = call_id(ev.server, uid)
                    held = self._held.get(cid)
                    if r.ringing(cid, agent, at):
                        if held is not None:
                            held.ring_started = at
                    elif held is not None and r.call(cid) is not None:
                        held.elsewhere = True  # another instance delivered it: leave it to that one
                        r.hold_call(cid, math.inf)
                case CallAnswered(uniqueid=uid, agent=agent, at=at) if agent is not None:
                    cid = call_id(ev.server, uid)
                    held = self._held.get(cid)
                    if held is not None and r.answered(cid, agent, at):
                        held.answered_at, held.agent = at, agent
                    elif held is not None:
                        held.elsewhere = True  # answered, but not by our delivery: never deliver it again
                        self.forget_call(ev.server, uid, at)
                case AgentRingNoAnswer(uniqueid=uid, agent=agent, at=at):
                    r.missed(call_id(ev.server, uid), agent, at)
                case UserEventRaised(name="CtiDeliveryFailed", headers=headers, at=at):
                    failed_uid = headers.get("Uniqueid", "") or (ev.uniqueid or "")
                    failed_agent = self._agent_of_extension(headers.get("Agent", ""))
                    if failed_agent is not None:
                        r.missed(call_id(ev.server, failed_uid), failed_agent, at)
                case CallEnded(journey=journey, at=at):
                    self._ended(journey, at)
                case Resynced(at=at):
                    self._resynced(ev.server, at)
                case _:
                    pass
        self._events(r.drain())
        self._board_due = True
        self._wake.set()

    def on_remote(self, events: Sequence[DomainEvent], origin: str = "") -> None:
        """Events of other instances: only skill changes concern this router."""
        skills = [e for e in events if isinstance(e, AgentSkillsChanged)]
        if skills:
            self.on_events(skills, origin)

    def _waiting(self, ev: CallWaiting) -> None:
        cid = call_id(ev.server, ev.uniqueid)
        held = self._held.get(cid)
        if held is not None:
            held.channel = ev.channel or held.channel  # back in the holding extension: same place
            if held.elsewhere:  # the other instance's delivery failed: this one may try again
                held.elsewhere = False
                self.router.hold_call(cid, 0.0)
            return
        held = _Held(
            ev.server, ev.uniqueid, ev.channel, ev.linkedid, ev.caller.number, "", ev.at, ev.did, ev.choice
        )
        self._held[cid] = held
        self._by_linkedid.setdefault(ev.linkedid, set()).add(cid)
        card = self.cards.cached(ev.caller.number) if self.cards is not None and ev.caller.number else None
        call = InboundCall(held.did, held.number, held.choice, held.entered, caller_facts(card))
        if (card is not None or not self.rules.needs_facts(call)) and not self._choose(held, call):
            return  # the queue is known now (its leg starts at once), or the call is closed or unmatched
        if card is not None or self.cards is None or not ev.caller.number:
            self._decide(held, card)
            return
        held.lookup_deadline = self.now() + self.cfg.lookup_timeout

        def done(card: Any, cid: str = cid) -> None:
            h = self._held.get(cid)
            if h is not None and not h.enqueued:
                self._decide(h, card)
                self._events(self.router.drain())
                self._wake.set()

        self.cards.request(ev.caller.number, done)

    def _choose(self, held: _Held, call: InboundCall) -> bool:
        """The inbound rules: the call's queue (its leg starts), or closed hours / no queue (False)."""
        cid = call_id(held.server, held.uniqueid)
        decision = self.rules.decide(call)
        if decision is None or isinstance(decision, Closed):
            self._held.pop(cid, None)
            self._by_linkedid.get(held.linkedid, set()).discard(cid)
            if decision is None:
                log.warning("held call %s matches no queue (DID %r, choice %r)", cid, held.did, held.choice)
            else:
                log.info(
                    "held call %s: %s closed (rule %s): %s",
                    cid,
                    decision.schedule,
                    decision.rule,
                    decision.action.value,
                )
                link = self.links(held.server)
                if link is not None:
                    self._spawn(
                        send_closed(
                            link, held.channel, decision, self.cfg.closed_context, self.action_timeout
                        )
                    )
            return False
        route, _ = placed(decision, self.router.policies, self)  # the EWT's overflow (cti.routing.ewt)
        if route.queue != decision.queue:
            self.stats.ewt_overflows += 1
            held.announcing.overflowed = True  # one step: not again while it waits
        held.queue, held.route = route.queue, route
        held.position = 1 + sum(1 for h in self._held.values() if h.queue == held.queue and h is not held)
        if self.legs is not None:  # the call's queue leg in the tracker: stored and reported as app_queue's
            self.publish(self.legs(held.server, held.uniqueid, held.queue, held.entered, held.position))
        return True

    def _decide(self, held: _Held, card: Any) -> None:
        """Once the CRM answered (or did not in time): the queue, if the rules needed the caller, then the
        caller's needs (tier, owner, last agent) and its place in the router."""
        if held.route is None:
            call = InboundCall(held.did, held.number, held.choice, held.entered, caller_facts(card))
            if not self._choose(held, call):
                return
        assert held.route is not None
        self._apply_card(held, card)
        tier = held.needs.tier if held.needs is not None else None
        held.needs = (held.needs or Requirements()).merged(held.route.requirements(tier))
        self._enqueue(held)

    def queue_for(self, did: str, choice: str) -> str | None:
        """The queue the inbound rules give a call of this DID and IVR choice, the caller unknown."""
        d = self.rules.decide(InboundCall(did, "", choice, self.now()))
        return None if d is None or isinstance(d, Closed) else d.queue

    def estimate(
        self,
        queue: str | None = None,
        needs: tuple[SkillNeed, ...] = (),
        *,
        call: str | None = None,
        priority: int = 0,
    ) -> Estimate:
        """The estimated wait (cti.routing.ewt) of a waiting call (``call``: its id, ``server/uniqueid``)
        or of a call that would join ``queue`` now: for announcements, overflow and callback offers."""
        r = self.router
        now = self.now()
        return estimate(
            r.policies,
            r.agents(),
            r.waiting(now),
            self.ewt,
            call=call,
            queue=queue,
            needs=needs,
            priority=priority,
            at=now,
        )

    def _apply_card(self, held: _Held, card: Any) -> None:
        data = getattr(card, "data", None) or {}
        customers = data.get("customers") or []
        if not customers:
            return
        first = customers[0]
        held.needs = Requirements(tier=first.get("tier") or None)
        preferred: list[AgentId] = []
        owner = self._usernames.get(str(first.get("owner") or "").casefold())
        if owner is not None:
            preferred.append(owner)
        for interaction in first.get("interactions") or []:
            agent = interaction.get("agent")
            if agent and self.router.has_agent(AgentId(agent)) and AgentId(agent) not in preferred:
                preferred.append(AgentId(agent))
                break
        held.preferred = tuple(preferred)

    def _enqueue(self, held: _Held) -> None:
        cid = call_id(held.server, held.uniqueid)
        held.enqueued = True
        self._board_due = True
        wc = self.router.enqueue(cid, held.queue, held.entered, needs=held.needs, preferred=held.preferred)
        self.ewt.entered(wc.queue, wc.needs, wc.priority, self.now())  # rule 6: the arrival rates
        self.stats.by_queue[held.queue] = self.stats.by_queue.get(held.queue, 0) + 1
        self._offer_callback(held, cid)
        if self.queue_log is not None:
            self.queue_log.write(
                held.entered, held.uniqueid, held.queue, "NONE", "ENTERQUEUE", "", held.number, held.position
            )

    def _offer_callback(self, held: _Held, cid: str) -> None:
        """At entry: a held call whose EWT (at its place, with its priority) is above its queue's
        ``offer_callback_above`` hears the callback offer; only with callbacks on and a known number."""
        policy = self.router.policies.get(held.queue)
        if policy is None or policy.offer_callback_above <= 0 or self.virtual is None or not held.number:
            return
        link = self.links(held.server)
        try:
            seconds = self.estimate(call=cid).seconds
        except KeyError:
            return
        if link is None or not callback_due(policy, seconds, self.now(), held.announcing):
            return
        self.stats.callback_offers += 1
        server = self.servers.get(held.server)
        context = server.holding_context if server is not None else "inbound"
        log.info("held call %s: EWT %.0f s in %s: callback offered", cid, seconds, held.queue)

        def still(cid: str = cid) -> bool:
            wc = self.router.call(cid)
            return cid in self._held and wc is not None and wc.status is CallStatus.WAITING

        self._spawn(offer_callback(link, held.channel, seconds, context, self.action_timeout, still))

    def announce(self, uniqueid: str) -> dict[str, str]:
        """The dialplan's periodic announcement of a held call (FastAGI ``/announce``, the holding
        extension's ``t``): ``cti.routing.ewt.reannounce``: CTI_EWT again (whole seconds; empty when
        unknown or no longer waiting), the call moved to its queue's ``overflow_to`` when its EWT is
        now above ``overflow_if_ewt_above`` (CTI_QUEUE), and CTI_OFFER_CALLBACK=1 when the EWT rose past
        ``offer_callback_above`` or the last offer is ``offer_callback_every`` seconds old (with callbacks
        on and a known number); CTI_ANNOUNCE_EVERY, the queue's ``announce_every`` when set."""
        held = next((h for h in self._held.values() if h.uniqueid == uniqueid), None)
        cid = call_id(held.server, held.uniqueid) if held is not None else ""
        wc = self.router.call(cid) if held is not None else None
        if held is None or held.route is None or wc is None or wc.status is not CallStatus.WAITING:
            return {"CTI_EWT": "", "CTI_OFFER_CALLBACK": ""}  # not (or no longer) waiting
        route, before = held.route, held.queue
        a = reannounce(
            self.router.policies,
            held.queue,
            self.now(),
            held.announcing,
            here=lambda: self.estimate(call=cid).seconds,
            there=lambda q: self.estimate(q, route.skills, priority=route.priority).seconds,
            move=lambda q: self.router.requeue(cid, q) is not None,
            offers=self.virtual is not None and bool(held.number) and self.links(held.server) is not None,
        )
        if a.overflowed:
            held.queue = a.queue
            self.stats.ewt_overflows += 1
            self._board_due = True
            log.info("held call %s: EWT in %s above its threshold: overflow to %s", cid, before, a.queue)
            self._wake.set()
        if a.offer:
            self.stats.callback_offers += 1
            log.info("held call %s: EWT %.0f s in %s: callback offered again", cid, a.seconds, a.queue)
        out = {
            "CTI_EWT": str(round(a.seconds)) if math.isfinite(a.seconds) else "",
            "CTI_OFFER_CALLBACK": "1" if a.offer else "",
            "CTI_QUEUE": a.queue,
        }
        every = self.router.policies[a.queue].announce_every
        if every > 0:
            out["CTI_ANNOUNCE_EVERY"] = str(round(every))
        return out

    def _ended(self, journey: CallJourney, at: float) -> None:
        for cid in self._by_linkedid.pop(journey.linkedid, set()):
            held = self._held.get(cid)
            if held is None:
                continue
            if self.router.call(cid) is not None:
                self.router.cancel(cid, at)  # CallLeft -> ABANDON
                self._events(self.router.drain())
            elif held.answered_at is not None and held.agent is not None:
                talked = max(0.0, (journey.ended_at or at) - held.answered_at)
                policy = self.router.policies.get(held.queue)
                wrap = policy.wrapup_seconds if policy is not None else 0.0
                self.ewt.handled(held.queue, talked + wrap, wrap)
                if self.queue_log is not None:
                    self._log_completed(journey, held, talked, at)
            self._release_leases(self._held.pop(cid, held))

    def _log_completed(self, journey: CallJourney, held: _Held, talked: float, at: float) -> None:
        assert self.queue_log is not None and held.answered_at is not None and held.agent is not None
        hold = int(held.answered_at - held.entered)
        talk = int(talked)
        if journey.transfers:
            event = "BLINDTRANSFER"
            data: tuple[object, ...] = ("", "", hold, talk, held.position)
        else:
            event = "COMPLETEAGENT" if journey.hangup_cause == 16 else "COMPLETECALLER"
            data = (hold, talk, held.position)
        self.queue_log.write(at, held.uniqueid, held.queue, held.agent, event, *data)

    def _resynced(self, server: str, at: float) -> None:
        """After a gap. Held calls that hung up meanwhile have ended (the resync ended their journeys:
        ``CallEnded``); calls that reached the holding extension during the gap raised a CtiWaiting this
        link never carried: they are taken from what the resync found there, at the time their call began.
        Reservations and rings the gap interrupted expire by their own deadlines."""
        found = [] if self.held is None else list(self.held(server))
        new = [w for w in found if call_id(w.server, w.uniqueid) not in self._held]
        for waiting in new:
            self._waiting(waiting)
        log.info(
            "routing: server %s resynced; %d held calls, %d found in the holding extension",
            server,
            len(self._held),
            len(new),
        )

    def take_held(self, server: str, uniqueid: str, at: float, key: str = "") -> _Held | None:
        """The held caller left the holding extension for a callback (the router entry stays, under the
        callback's name): no ABANDON; queue_log EXITWITHKEY as app_queue writes for an exit key."""
        cid = call_id(server, uniqueid)
        held = self._held.pop(cid, None)
        if held is None:
            return None
        self._by_linkedid.get(held.linkedid, set()).discard(cid)
        self._release_leases(held)
        if self.exits is not None:  # the stored queue leg says so too (reports: not an abandon)
            self.publish(self.exits(server, uniqueid, at))
        if self.queue_log is not None:
            self.queue_log.write(at, held.uniqueid, held.queue, "NONE", "EXITWITHKEY", key, held.position)
        return held

    def adopt(
        self,
        server: str,
        uniqueid: str,
        linkedid: str,
        number: str,
        queue: str,
        entered: float,
        agent: AgentId,
    ) -> None:
        """A callback reached its customer (an originated channel now dialling the reserved agent in the
        deliver context): from here on it is a held call like any other, with the callback's place."""
        cid = call_id(server, uniqueid)
        held = _Held(server, uniqueid, "", linkedid, number, queue, entered, enqueued=True, agent=None)
        wc = self.router.call(cid)
        if wc is not None and wc.agent != agent:  # the reservation ended while the customer's phone rang:
            held.elsewhere = True  # it rings that agent anyway; routed again only back in the holding
            self.router.hold_call(cid, math.inf)  # extension (CtiWaiting gives the channel's name)
        self._held[cid] = held
        self._by_linkedid.setdefault(linkedid, set()).add(cid)
        if self.legs is not None:
            self.publish(self.legs(server, uniqueid, queue, entered, 1))
        if self.queue_log is not None:
            self.queue_log.write(entered, uniqueid, queue, "NONE", "ENTERQUEUE", "", number, 1)
        log.info("callback reached %s: delivering to %s", number, agent)

    # ---- the dialer (cti.delivery.dialer) --------------------------------------------------------------
    def hold_outbound(
        self, server: str, uniqueid: str, channel: str, linkedid: str, number: str, queue: str, at: float
    ) -> None:
        """A live answer of the dialer, waiting in its holding context: routed to an agent of ``queue``
        like a held call (Redirect to the reserved agent); the dialer takes it back after 2 s."""
        cid = call_id(server, uniqueid)
        held = _Held(server, uniqueid, channel, linkedid, number, queue, at)
        self._held[cid] = held
        self._by_linkedid.setdefault(linkedid, set()).add(cid)
        self._enqueue(held)
        self._events(self.router.drain())
        self._wake.set()

    async def lease_agent(self, server: str, agent: AgentId, ttl: float = 0.0) -> bool:
        """With Redis: hold ``agent`` for a delivery this instance makes other than a Redirect (a
        callback), as ``_deliver`` does, so that no other instance offers it a call meanwhile."""
        if self.leases is None:
            return True
        name, ttl = f"agent:{server}/{agent}", max(ttl, self.cfg.lease_ttl)
        token = await self.leases.acquire(name, ttl)
        if token is None:
            self.stats.lease_refusals += 1
            self.router.block(agent, self.now() + self.cfg.lease_ttl)
            return False
        self._agent_leases[agent] = (name, token)  # released when the agent is neither reserved nor ringing
        return True

    def local_server(self) -> str | None:
        """The first Asterisk server this instance has a link to (where a callback is dialled)."""
        return next((name for name in self.servers if self.links(name) is not None), None)

    def extension(self, agent: AgentId) -> str | None:
        return self._extensions.get(agent)

    def wake(self) -> None:
        self._events(self.router.drain())
        self._board_due = True
        self._wake.set()

    def forget_call(self, server: str, uniqueid: str, at: float) -> None:
        """The held channel is known to be gone (a resync did not find it)."""
        cid = call_id(server, uniqueid)
        self.router.cancel(cid, at)
        self._events(self.router.drain())
        held = self._held.pop(cid, None)
        if held is not None:
            self._by_linkedid.get(held.linkedid, set()).discard(cid)
            self._release_leases(held)

    # ---- what the router did ------------------------------------------------------------------------------
    def _events(self, events: list[RoutingEvent]) -> None:
        out: list[DomainEvent] = []
        for e in events:
            match e:
                case AgentMoved(transition=t):
                    if t.new not in (AgentState.RESERVED, AgentState.RINGING):
                        self._release_agent(t.agent)
                    server, interface = self._interfaces.get(t.agent, ("routing", ""))
                    queues = tuple(QueueName(q) for q in sorted(self.router.queues_of(t.agent)))
                    out.append(RoutedAgentState(t.at, server, t.agent, interface, t.new, t.reason, queues))
                case CallServed(call=cid, agent=agent, waited=waited):
                    self.stats.served += 1
                    held = self._held.get(cid)
                    if held is not None:
                        self.ewt.left(held.queue, waited, abandoned=False)
                        if held.ring_started is not None:
                            self.ewt.delivered_after(held.queue, e.at - held.ring_started)
                    if held is not None:
                        self._release_leases(held)
                    if held is not None and self.queue_log is not None:
                        ring = int(e.at - held.ring_started) if held.ring_started is not None else 0
                        self.queue_log.write(
                            e.at,
                            held.uniqueid,
                            held.queue,
                            agent,
                            "CONNECT",
                            int(waited),
                            held.agent_uid,
                            ring,
                        )
                case RingMissed(call=cid, agent=agent):
                    self.stats.missed += 1
                    held = self._held.get(cid)
                    if held is not None:
                        # the call waits again: free its lease, or no instance (this one neither) could
                        # offer it to the next agent before the lease expired (lease_ttl, 30 s)
                        self._release_leases(held)
                        ring_ms = round((e.at - held.ring_started) * 1000) if held.ring_started else 0
                        held.ring_started = None
                        if self.queue_log is not None:
                            self.queue_log.write(
                                e.at, held.uniqueid, held.queue, agent, "RINGNOANSWER", ring_ms
                            )
                case CallLeft(call=cid, waited=waited, status=status) if status is not CallStatus.ANSWERED:
                    held = self._held.get(cid)
                    if held is None and self.virtual is not None and self.virtual.owns(cid):
                        continue  # a callback's entry: not a caller who gave up
                    if held is not None and held.elsewhere:
                        continue  # delivered by another instance: its record, not ours
                    self.stats.abandoned += 1
                    if held is not None:
                        self.ewt.left(held.queue, waited, abandoned=True)
                    if held is not None and self.queue_log is not None:
                        self.queue_log.write(
                            e.at, held.uniqueid, held.queue, "NONE", "ABANDON", 1, held.position, int(waited)
                        )
                case AgentAutoPaused(agent=agent, reason=reason):
                    self.stats.auto_pauses += 1
                    self._spawn(self._pause(agent, reason))
                case _:
                    pass
        if out:
            self.publish(out)

    def _release_leases(self, held: _Held) -> None:
        if self.leases is not None and held.leases:
            leases, held.leases = held.leases, []
            self._spawn(self._release(leases))

    def _release_agent(self, agent: AgentId) -> None:
        lease = self._agent_leases.pop(agent, None)
        if lease is not None and self.leases is not None:
            self._spawn(self._release([lease]))

    async def _release(self, leases: list[tuple[str, int]]) -> None:
        assert self.leases is not None
        for name, token in leases:
            try:
                await self.leases.release(name, token)
            except Exception as e:  # it expires by itself after lease_ttl
                log.warning("could not release lease %s: %s", name, e)

    # ---- deciding and delivering (the service's task) ---------------------------------------------------
    async def run(self) -> None:
        await self.load_seats()
        try:
            while True:
                now = self.now()
                self._lookups_due(now)
                for offer in self.router.decide(now):
                    self.stats.offers += 1
                    if self.virtual is not None and self.virtual.owns(offer.call):
                        self._spawn(self.virtual.deliver(offer))
                    else:
                        self._spawn(self._deliver(offer))
                self._events(self.router.drain())
                self._push_board()
                self._wake.clear()
                timeout = self._next_timer(now)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def board_payload(self) -> dict[str, Any]:
        """What supervisors see of routing: agents with skills and reservations, calls with their needs."""
        now = self.now()
        numbers = {cid: h.number for cid, h in self._held.items()}
        if self.virtual is not None:
            numbers.update(self.virtual.numbers())  # a callback's entry: the number it will call
        return {
            "agents": [
                {
                    "agent": a.agent,
                    "state": a.state.value,
                    "reason": a.reason,
                    "since": a.since,
                    "skills": dict(sorted(a.skills.items())),
                    "reserved_for": a.reserved_for,
                    "calls": a.calls,
                    "misses": a.misses_in_a_row,
                }
                for a in sorted(self.router.agents(), key=lambda a: a.agent)
            ],
            "waiting": [
                {
                    "call": w.call,
                    "queue": w.queue,
                    "position": w.position,
                    "entered": now - w.waited,
                    "priority": w.priority,
                    "needs": [f"{n.skill}:{n.level}" for n in w.needs],
                    "status": w.status.value,
                    "agent": w.agent,
                    "step": w.step,
                    "number": numbers.get(w.call, ""),
                }
                for w in self.router.waiting(now)
            ],
        }

    def _push_board(self) -> None:
        if self.board is None or not self._board_due:
            return
        wall = self.clock()
        if wall - self._board_sent < self.board_interval:
            return
        self._board_due = False
        self._board_sent = wall
        self.board(self.board_payload())

    async def save_skills(self, agent: AgentId, skills: Mapping[str, int]) -> Mapping[str, int]:
        """A supervisor's change: saved in the store, taken by this router and (over the bus) the others."""
        if self.seats is not None:
            seat = await self.seats.save_skills(agent, skills)
            if seat is None:
                raise KeyError(agent)
        self.publish([AgentSkillsChanged(self.now(), "routing", agent, dict(skills))])
        return dict(skills)

    def _next_timer(self, now: float) -> float:
        due = self.router.next_deadline()
        if self._board_due and self.board is not None:
            due = min(due, now + self.board_interval)
        for held in self._held.values():
            if not held.enqueued:
                due = min(due, held.lookup_deadline)
        return min(1.0, max(0.01, due - now))

    def _lookups_due(self, now: float) -> None:
        for held in list(self._held.values()):
            if not held.enqueued and held.lookup_deadline <= now:
                log.info("caller look-up for a held call timed out: routed without CRM data")
                self._decide(held, None)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, offer: Offer) -> None:
        held = self._held.get(offer.call)
        r = self.router
        if held is None:
            r.cancel(offer.call, self.now())
            return
        ext = self._extensions.get(offer.agent)
        link = self.links(held.server)
        if ext is None or link is None:
            log.error(
                "cannot deliver to %s: %s", offer.agent, "no extension" if ext is None else "no AMI link"
            )
            r.failed(offer.call, offer.agent, self.now())
            r.block(offer.agent, self.now() + 60.0)
            return
        tokens: list[tuple[str, int]] = []
        if self.leases is not None:
            for name in (f"call:{offer.call}", f"agent:{held.server}/{offer.agent}"):
                token = await self.leases.acquire(name, self.cfg.lease_ttl)
                if token is None:
                    self.stats.lease_refusals += 1
                    await self._release(tokens)
                    r.failed(offer.call, offer.agent, self.now())
                    if name.startswith("agent:"):
                        r.block(offer.agent, self.now() + self.cfg.lease_ttl)
                    else:  # another instance is delivering this call: try again later unless it rings
                        wc = r.call(offer.call)
                        if wc is not None:
                            r.hold_call(offer.call, max(wc.held_until, self.now() + LEASE_RETRY))
                    self._events(r.drain())
                    self._wake.set()
                    return
                tokens.append((name, token))
            held.leases.append(tokens[0])
            self._agent_leases[offer.agent] = tokens[1]
        wc = r.call(offer.call)
        if wc is None or wc.token != offer.token or wc.status is not CallStatus.OFFERED:
            return  # fenced: the reservation ended while we waited for the leases
        server = self.servers.get(held.server)
        context = server.agent_context if server is not None else "deliver"
        action = {
            "Action": "Redirect",
            "Channel": held.channel,
            "Context": context,
            "Exten": ext,
            "Priority": "1",
        }
        try:
            async with asyncio.timeout(self.action_timeout):
                reply = await link.send_action(action)
        except Exception as e:
            # lost with the link (never re-sent: it may have run) or timed out: back to waiting
            self.stats.lost += 1
            log.warning("Redirect of %s to %s: %s", held.channel, offer.agent, e)
            r.failed(offer.call, offer.agent, self.now())
            # it may have run: the agent's phone may ring for it; offer the agent nothing else meanwhile
            r.block(offer.agent, self.now() + r.policies[offer.queue].reservation_timeout)
        else:
            ok, message = reply_ok(reply)
            if ok:
                self.stats.redirects += 1
            else:
                self.stats.redirect_failures += 1
                log.warning("Asterisk refused Redirect of %s to %s: %s", held.channel, offer.agent, message)
                if any(g in message.lower() for g in _GONE):
                    self.forget_call(held.server, held.uniqueid, self.now())
                else:
                    r.failed(offer.call, offer.agent, self.now())
                    r.block(offer.agent, self.now() + REFUSED_BACKOFF)  # not the same agent in a loop
                    self._release_leases(held)  # it never left the holding extension
        self._events(r.drain())
        self._wake.set()

    async def _pause(self, agent: AgentId, reason: str) -> None:
        server, interface = self._interfaces.get(agent, ("", ""))
        link = self.links(server) if server else None
        if link is None or not interface:
            log.warning("cannot pause %s in Asterisk: no interface known", agent)
            return
        action = {"Action": "QueuePause", "Interface": interface, "Paused": "true", "Reason": reason}
        try:
            async with asyncio.timeout(self.action_timeout):
                reply = await link.send_action(action)
            ok, message = reply_ok(reply)
            if not ok:
                log.warning("Asterisk refused QueuePause of %s: %s", agent, message)
        except Exception as e:
            log.warning("QueuePause of %s failed: %s", agent, e)

    async def close(self) -> None:
        if self.queue_log is not None:
            self.queue_log.close()
        close = getattr(self.leases, "close", None)
        if close is not None:
            await close()

    def collect(self) -> Iterable[Metric]:
        st = self.stats
        yield counter("routing_offers_total", "agents reserved for a held call", st.offers)
        yield counter("routing_redirects_total", "held calls Redirected to an agent", st.redirects)
        yield counter("routing_redirect_failures_total", "Redirects Asterisk refused", st.redirect_failures)
        yield counter("routing_redirects_lost_total", "Redirects lost with the AMI link", st.lost)
        yield counter("routing_lease_refusals_total", "deliveries another instance held", st.lease_refusals)
        yield counter("routing_ring_no_answer_total", "delivered rings not answered", st.missed)
        yield counter("routing_auto_pauses_total", "agents paused after ring-no-answers", st.auto_pauses)
        yield counter("routing_served_total", "routed calls answered", st.served)
        yield counter("routing_abandoned_total", "routed calls that left before an answer", st.abandoned)
        yield counter("routing_ewt_overflows_total", "held calls overflowed by their EWT", st.ewt_overflows)
        yield counter("routing_callback_offers_total", "held calls offered a callback", st.callback_offers)
        yield gauge("routing_waiting_calls", "calls waiting for an agent", self.router.waiting_count)

    # ---- console commands ----------------------------------------------------------------------------
    def end_wrapup(self, agent: AgentId) -> bool:
        ok = self.router.end_wrapup(agent, self.now())
        self._events(self.router.drain())
        self._board_due = True
        self._wake.set()
        return ok

    def disposition_filed(self, agent: AgentId) -> None:
        self.router.disposition_filed(agent, self.now())
        self._events(self.router.drain())
        self._wake.set()
