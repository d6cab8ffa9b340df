"""The hub: domain events in, per-client JSON messages out, with sequence numbers, roles and resume.

Theory of operation
1. Everything runs on the event loop's one thread; the bus calls ``on_events`` synchronously. Nothing
   here awaits, so the AMI pump is never slowed by the consoles.
2. An outgoing message is encoded once, stamped with the next sequence number, kept in the resume log
   for ``resume_window`` seconds, and offered to every client allowed to see it: supervisors see every
   message; an agent sees only messages addressed to their own member name (their pops, updates of
   calls that rang them, their own state).
3. Each client has a bounded buffer drained by its own writer task. Offering never waits: a client whose
   buffer is full is disconnected ("too slow") and everyone else carries on.
4. Screen pops need the store. On ``AgentRinging`` the hub asks the caller directory; on a cache miss it
   opens a *gate* for that call: later events of the same call wait behind the pop (so no client sees
   "answered" before the pop), other calls flow freely. When the lookup finishes (or times out) the pop
   is sent and the gated events are replayed in order.
5. A reconnecting client sends the session id and the last sequence number it saw. If the session is
   this one and nothing it could have missed has left the log, it gets exactly the messages it missed;
   otherwise it gets a fresh snapshot and ``resync: true``. The resume log is indexed: supervisors read
   the whole log, each agent a log of only the messages addressed to them, both from the newest end
   back to ``last_seq``, so a resume costs what it returns, not the size of the log.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import phonenumbers

from cti.core.clock import Clock, SystemClock
from cti.core.events import (
    AgentRinging,
    AgentRingNoAnswer,
    AgentState,
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallerInfo,
    CallHoldChanged,
    CallLeftQueue,
    CallParked,
    CallQueued,
    CallTransferred,
    CallUnparked,
    DomainEvent,
    OriginateFinished,
    Resynced,
    SpyStarted,
    SpyStopped,
    StreamProblem,
    UserEventRaised,
)
from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import Direction
from cti.reports.kpi import KpiEvaluator, Scope, center_figures
from cti.screenpop.directory import CallerCard, CallerDirectory
from cti.screenpop.live import Changes, LiveBoard
from cti.screenpop.protocol import VERSION, encode, kpi_alert
from cti.screenpop.spying import Spies, SpySession
from cti.screenpop.tokens import Identity
from cti.telemetry import Metric, counter, gauge

CLOSE_TOO_SLOW = 4008
# UserEvent headers a dialer raises on an outbound call (dialplan: UserEvent(CtiLead,Campaign: x,LeadId: n))
_LEAD_KEYS = frozenset({"Campaign", "LeadId", "LeadName", "LeadNumber", "Script", "Dispositions"})
_LEADS_KEPT = 10_000  # the leads of recent calls, for their disposition after the call ended
RECENT_CALLS = 50  # calls an agent may still disposition after they ended
WAITING_LIMIT = 10_000  # waiting callers listed for supervisors at most


@functools.lru_cache(maxsize=4096)
def _e164(number: str, country: str) -> str | None:
    """The caller's number in E.164, when the store did not say (unknown callers, a failed lookup)."""
    try:
        parsed = phonenumbers.parse(number, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class Client:
    """One websocket connection's outbox, bounded in messages and in characters. The server's writer
    task drains it (``take``).

    What a connection is sent first (its welcome and its catch-up: hundreds of missed messages on a
    resume) is one block, an exact tuple of strings (``start``), not hundreds of entries of the queue:
    the garbage collector stops tracking such a tuple the first time it sees it, so a full pass during
    a reconnect storm visits one entry per client instead of every message queued (500 resuming agents
    queue 200,000; visiting them cost a full pass about 40 ms). Live messages queue behind it."""

    def __init__(self, identity: Identity, buffer: int, max_chars: int = 4 * 1024 * 1024) -> None:
        self.identity = identity
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=buffer)
        self.max_chars = max_chars
        self.chars = 0  # characters waiting in ``queue`` and the first block
        self.closing: tuple[int, str] | None = None
        self.dead = asyncio.Event()
        self.last_seq = 0
        self.sending_since: float | None = None  # loop time the server's writer began the current send
        self._first: tuple[str, ...] = ()  # the first block (``start``) and how much of it was taken
        self._taken = 0

    @property
    def waiting(self) -> int:
        """Messages not yet taken by the writer."""
        return len(self._first) - self._taken + self.queue.qsize()

    def start(self, texts: Iterable[str]) -> None:
        """The first messages of the connection, before anything offered: one untracked block."""
        if self._first or not self.queue.empty():
            raise RuntimeError("start() comes before anything else is offered")
        block = tuple(texts)
        if self.queue.maxsize and len(block) > self.queue.maxsize:
            raise ValueError(f"{len(block)} messages to start with: over the buffer of {self.queue.maxsize}")
        self._first, self._taken = block, 0
        self.chars += sum(map(len, block))

    def offer(self, text: str) -> bool:
        if self.closing is not None:
            return False
        if self.chars + len(text) > self.max_chars and self.chars:
            self.kill(CLOSE_TOO_SLOW, f"too slow: more than {self.max_chars} characters waiting")
            return False
        if self.queue.maxsize and self.waiting >= self.queue.maxsize:
            self.kill(CLOSE_TOO_SLOW, f"too slow: more than {self.queue.maxsize} messages waiting")
            return False
        self.queue.put_nowait(text)
        self.chars += len(text)
        return True

    async def take(self) -> str:
        if self._taken < len(self._first):
            text = self._first[self._taken]
            self._taken += 1
            if self._taken == len(self._first):
                self._first, self._taken = (), 0
        else:
            text = await self.queue.get()
        self.chars -= len(text)
        return text

    def take_waiting(self) -> list[str]:
        """Everything not yet taken, at once (the last words before a close)."""
        out = list(self._first[self._taken :])
        self._first, self._taken = (), 0
        while not self.queue.empty():
            out.append(self.queue.get_nowait())
        self.chars = 0
        return out

    def kill(self, code: int, reason: str) -> None:
        if self.closing is None:
            self.closing = (code, reason)
            self.dead.set()


# One message of the resume log: (seq, time, encoded text); its audience is which logs hold it (the
# whole log, and each addressed agent's). An exact tuple of atomic values, not a NamedTuple: the garbage
# collector stops tracking it the first time it sees it (a tuple subclass it tracks for ever).
_Logged = tuple[int, float, str]
_SEQ: Final = 0
_T: Final = 1
_TEXT: Final = 2
_CHUNK: Final = 32


class _Log:
    """Messages in order of ``seq``, at most ``limit``, kept in sealed chunks of ``_CHUNK``.

    A full pass of the garbage collector visits every entry of a container, tracked or not: with the
    200,000 messages of a busy day in deques (the whole log and each agent's share) a pass took about
    30 ms (125 ms when the entries were NamedTuples), and a 500-agent reconnect storm allocates enough
    to run several. A sealed chunk is an exact tuple of untracked tuples, untracked itself, so a pass
    visits one entry per chunk."""

    __slots__ = ("_len", "_limit", "_open", "_sealed")

    def __init__(self, limit: int) -> None:
        self._sealed: collections.deque[tuple[_Logged, ...]] = collections.deque()
        self._open: list[_Logged] = []
        self._limit = limit
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def append(self, item: _Logged) -> None:
        self._open.append(item)
        self._len += 1
        if len(self._open) >= _CHUNK:
            self._sealed.append(tuple(self._open))
            self._open = []
        if self._len > self._limit:
            self._drop(self._len - self._limit)

    def first_seq(self) -> int | None:
        oldest = self._sealed[0][0] if self._sealed else self._open[0] if self._open else None
        return None if oldest is None else oldest[_SEQ]

    def newest_first(self) -> Iterator[_Logged]:
        yield from reversed(self._open)
        for chunk in reversed(self._sealed):
            yield from reversed(chunk)

    def prune(self, horizon: float) -> None:
        """Forgets the messages older than ``horizon``."""
        while self._sealed and self._sealed[0][-1][_T] < horizon:
            self._len -= len(self._sealed.popleft())
        old = 0
        for item in self._sealed[0] if self._sealed else self._open:
            if item[_T] >= horizon:
                break
            old += 1
        if old:
            self._drop(old)

    def _drop(self, n: int) -> None:
        """Forgets the ``n`` oldest messages."""
        self._len -= n
        while n and self._sealed:
            chunk = self._sealed[0]
            if len(chunk) <= n:
                self._sealed.popleft()
                n -= len(chunk)
            else:
                self._sealed[0] = chunk[n:]
                n = 0
        if n:
            del self._open[:n]


@dataclass(slots=True)
class CallView:
    """What the hub knows of a live call: enough to route its updates and authorise agent actions."""

    linkedid: LinkedId
    server: str
    uniqueid: str
    number: str = ""
    agents: set[AgentId] = field(default_factory=set)  # every agent it rang
    agent: AgentId | None = None  # the one who answered
    state: str = "ringing"
    pops: dict[AgentId, dict[str, Any]] = field(default_factory=dict)
    answered_at: float | None = None  # the talk timer of a console that connects mid-call
    held_since: float | None = None  # the hold timer likewise


class EventHook(Protocol):
    """Sees each event first (cti.screenpop.consult: warm transfers); True: it handled it entirely."""

    def handle(self, hub: Hub, event: DomainEvent) -> bool: ...

    def state_of(self, linkedid: str, agent: AgentId) -> dict[str, Any] | None:
        """The consultation or conference of call ``linkedid`` as ``agent``'s card shows it (a snapshot)."""
        ...

    def own_channel_id(self, linkedid: str, agent: AgentId) -> str | None:
        """The Uniqueid of ``agent``'s own channel in call ``linkedid`` (a colleague originated into its
        conference: that channel has a Linkedid of its own, its Uniqueid); None else."""
        ...


@dataclass(slots=True)
class AgentSeat:
    server: str
    interface: str
    queues: tuple[str, ...] = ()
    state: AgentState = AgentState.LOGGED_OUT


class Hub:
    def __init__(
        self,
        *,
        board: LiveBoard,
        directory: CallerDirectory | None = None,
        resume_window: float = 120.0,
        client_buffer: int = 1000,
        default_country: str = "US",
        clock: Clock | None = None,
        log_limit: int = 200_000,
        kpi: KpiEvaluator | None = None,
    ) -> None:
        self.session = uuid.uuid4().hex
        self.board = board
        self.kpi = kpi or KpiEvaluator(())  # targets judged on the board's figures: alerts to supervisors
        self.directory = directory
        self.resume_window = resume_window
        self.client_buffer = client_buffer
        self.default_country = default_country
        self._clock = clock or SystemClock()  # the resume window
        self.seq = 0
        self._log = _Log(log_limit)
        # the same messages, per agent in their audience (the index a resuming agent reads)
        self._agent_logs: dict[AgentId, _Log] = {}
        self._log_limit = log_limit
        self._supervisors: set[Client] = set()
        self._agents: dict[AgentId, set[Client]] = {}
        self.calls: dict[LinkedId, CallView] = {}
        # the calls each agent was offered lately, as (server, linkedid): what they may disposition
        self.recent: dict[AgentId, collections.deque[tuple[str, LinkedId]]] = {}
        self.seats: dict[AgentId, AgentSeat] = {}
        self._gates: dict[LinkedId, list[DomainEvent]] = {}
        self.leads: dict[LinkedId, dict[str, str]] = {}  # outbound calls: what the dialer said about them
        self.lead_of: dict[LinkedId, dict[str, str]] = {}  # likewise, kept after the call (oldest dropped)
        self.originates: dict[str, AgentId] = {}  # ChannelId of a console's Originate -> the agent
        self.dialled: dict[str, str] = {}  # ChannelId of a console's Originate -> the number dialled
        self.routing: dict[str, Any] | None = None  # the router's last board (CTI mode), for supervisors
        self.email_tasks: dict[AgentId, dict[str, Any]] = {}  # the e-mail task offered to each agent
        # callers waiting in a queue, by (server, uniqueid): listed on the supervisors' page
        self.waiting: dict[tuple[str, str], dict[str, Any]] = {}
        self.spies = Spies()  # supervisors listening in (cti.screenpop.spying): to supervisors only
        # parked calls by (server, linkedid): every agent's "Parked calls" list (docs/design/hold-and-park.md)
        self.parked: dict[tuple[str, str], dict[str, Any]] = {}
        self.consults: EventHook | None = None  # warm transfers and conferences (set by the desk)
        # the inbound disposition list (cti.screenpop.dispositions): in every snapshot, pushed on a change
        self.dispositions: list[dict[str, Any]] = []
        self.queue_of: dict[LinkedId, str] = {}  # the queue of recent calls: the codes offered on them
        self.pops_sent = 0
        self.messages_sent = 0
        self.clients_dropped = 0

    def collect(self) -> Iterable[Metric]:
        yield gauge("ws_clients", "connected console clients", self.client_count)
        yield counter("ws_clients_dropped_total", "clients dropped as too slow", self.clients_dropped)
        yield counter("ws_messages_total", "messages queued to clients", self.messages_sent)
        yield counter("pops_sent_total", "screen pops sent", self.pops_sent)
        yield gauge("live_calls", "calls the hub follows", len(self.calls))

    # ---- clients -------------------------------------------------------------------------------------
    @property
    def client_count(self) -> int:
        return len(self._supervisors) + sum(len(s) for s in self._agents.values())

    def attach(self, client: Client) -> None:
        """Register a client: from now on it gets the messages its identity may see."""
        ident = client.identity
        if ident.supervisor:
            self._supervisors.add(client)
        elif ident.agent is not None:
            self._agents.setdefault(ident.agent, set()).add(client)

    def clients(self) -> list[Client]:
        return [*self._supervisors, *(c for cs in self._agents.values() for c in cs)]

    def detach(self, client: Client) -> None:
        self._supervisors.discard(client)
        ident = client.identity
        if ident.agent is not None and ident.agent in self._agents:
            self._agents[ident.agent].discard(client)
            if not self._agents[ident.agent]:
                del self._agents[ident.agent]

    def missed(
        self, identity: Identity, session: str | None, last_seq: int | None, limit: int
    ) -> list[str] | None:
        """The messages after ``last_seq`` that ``identity`` may see, or None when they cannot all be given
        (another session, a sequence number from the future, pruned from the log, or more than ``limit``)."""
        if session != self.session or last_seq is None or last_seq > self.seq:
            return None
        self._prune(identity.agent if not identity.supervisor else None)
        first = self._log.first_seq()
        if first is None:
            first = self.seq + 1
        if last_seq + 1 < first:
            return None  # some of what it missed is gone
        if identity.supervisor:
            log = self._log
        elif identity.agent is not None and identity.agent in self._agent_logs:
            log = self._agent_logs[identity.agent]
        else:
            return []
        out: list[str] = []
        for item in log.newest_first():  # newest first: stop at what the client has
            if item[_SEQ] <= last_seq:
                break
            out.append(item[_TEXT])
            if len(out) > limit:
                return None
        out.reverse()
        return out

    def _prune(self, only: AgentId | None = None, every: bool = False) -> None:
        """Forget what is older than the resume window: the whole log, and one agent's or every agent's."""
        horizon = self._clock.now() - self.resume_window
        self._log.prune(horizon)
        agents = list(self._agent_logs) if every else [only] if only in self._agent_logs else []
        for agent in agents:
            assert agent is not None
            own = self._agent_logs[agent]
            own.prune(horizon)
            if not own:
                del self._agent_logs[agent]

    def snapshot(self, identity: Identity) -> dict[str, Any]:
        """What a client sees on (re)connecting without a usable resume: the present state."""
        calls = [  # each pop as it was sent, with the call's state now (a call up at login is not ringing)
            dict(
                pop,
                state=view.state,
                answered_at=view.answered_at,
                answered_by=view.agent,
                held_since=view.held_since,
                # the warm transfer or conference under way: a reloaded console gets its panel back
                consult=self.consults.state_of(view.linkedid, agent) if self.consults is not None else None,
            )
            for view in self.calls.values()
            for agent, pop in view.pops.items()
            if identity.supervisor or agent == identity.agent
        ]
        if identity.supervisor:
            queues = [self.board.queue_figures(q) for q in sorted(self.board.queues)]
            agents = [self.board.agent_figures(a) for a in sorted(self.board.agents)]
        else:
            queues = []
            agents = [self.board.agent_figures(a) for a in (identity.agent,) if a in self.board.agents]
        out = {
            "type": "snapshot",
            "v": VERSION,
            "seq": self.seq,
            "calls": calls,
            "queues": queues,
            "agents": agents,
        }
        if identity.supervisor:
            out["waiting"] = list(self.waiting.values())
        out["parked"] = list(self.parked.values())
        # whom a call can be transferred to (the console offers them; the desk matches them in any case)
        queues_known = set(self.board.queues) | {q for s in self.seats.values() for q in s.queues}
        out["targets"] = {"agents": sorted(self.seats), "queues": sorted(queues_known)}
        if identity.supervisor and self.routing is not None:
            out["routing"] = self.routing
        out["dispositions"] = self.dispositions
        if self.email_tasks:  # the e-mail channel: the task offered to this agent (supervisors: all)
            out["email_tasks"] = [
                m for a, m in sorted(self.email_tasks.items()) if identity.supervisor or a == identity.agent
            ]
        if identity.supervisor:
            out["kpi"] = [kpi_alert(alert) for alert in self.kpi.active()]
            out["spies"] = self.spies.snapshot()
        return out

    def now(self) -> float:
        return self._clock.now()

    def spy_changed(self, session: SpySession | None) -> None:
        """A supervisor's listening session started, changed mode or ended: to supervisors only."""
        if session is not None:
            self._emit(session.to_json(), None)

    def routing_board(self, board: dict[str, Any]) -> None:
        """The router's agents (skills, reservations) and waiting calls: to supervisors only."""
        self.routing = board
        self._emit({"type": "routing", **board}, None)

    def dispositions_changed(self, codes: Sequence[dict[str, Any]]) -> None:
        """The inbound disposition list changed (a supervisor's edit): to every console."""
        self.dispositions = list(codes)
        self._emit({"type": "dispositions", "dispositions": self.dispositions}, self._everyone())

    def callbacks_changed(self, agent: AgentId | None) -> None:
        """An agent's callback list changed (a callback scheduled, attempted, done): the console asks
        for it again (``callbacks``). Supervisors hear of every change."""
        self._emit({"type": "callbacks_changed", "agent": agent}, () if agent is None else (agent,))

    def alert(self, message: dict[str, Any]) -> None:
        """An alert for the supervisors only (a ``kpi_alert``-shaped message: the dialer's hopper)."""
        self._emit(dict(message), None)

    def push(self, message: dict[str, Any], agent: AgentId) -> None:
        """A message for one agent (and supervisors): the dialer's preview cards (protocol.preview_card)."""
        self._emit(message, (agent,))

    def online(self, agent: AgentId) -> bool:
        """Whether ``agent`` has a console connected (the dialer offers previews only then)."""
        return bool(self._agents.get(agent))

    def email_task(self, agent: str, message: dict[str, Any]) -> None:
        """An e-mail task offered to ``agent`` (cti.mail.component): ``{"type": "email_task", ...}``;
        kept for the agent's snapshot until ``email_done``."""
        msg = dict(message, type="email_task")
        self.email_tasks[AgentId(agent)] = msg
        self._emit(msg, (AgentId(agent),))

    def email_done(self, agent: str) -> None:
        """The agent's e-mail task was answered, closed or taken back: no longer in its snapshot."""
        self.email_tasks.pop(AgentId(agent), None)

    # ---- outgoing ------------------------------------------------------------------------------------
    def _emit(self, message: dict[str, Any], audience: Iterable[AgentId] | None) -> None:
        self.seq += 1
        message["seq"] = self.seq
        text = encode(message)
        who = frozenset(audience) if audience is not None else None
        item: _Logged = (self.seq, self._clock.now(), text)
        self._log.append(item)
        for agent in who or ():
            own = self._agent_logs.get(agent)
            if own is None:
                own = self._agent_logs[agent] = _Log(self._log_limit)
            own.append(item)
        if self.seq % 4096 == 0:
            self._prune(every=True)
        for client in list(self._supervisors):
            self._send(client, text)
        for agent in who or ():
            for client in list(self._agents.get(agent, ())):
                self._send(client, text)

    def _send(self, client: Client, text: str) -> None:
        if client.offer(text):
            self.messages_sent += 1
        elif client.closing is not None and client.closing[0] == CLOSE_TOO_SLOW:
            self.clients_dropped += 1
            self.detach(client)

    def drop(self, client: Client, reason: str) -> None:
        """The server's writer gave up on this client (write deadline, transport buffer): 4008."""
        if client.closing is None:
            client.kill(CLOSE_TOO_SLOW, reason)
            self.clients_dropped += 1
        self.detach(client)

    # ---- incoming domain events ----------------------------------------------------------------------
    def on_events(self, events: Sequence[DomainEvent], origin: str = "") -> None:
        changes = Changes()
        for event in events:
            self._handle(event, changes)
        if changes:
            self._push_board(changes)  # once per batch: a burst of events costs one row per queue

    def _linkedid(self, event: DomainEvent) -> LinkedId | None:
        if isinstance(event, CallEnded):
            return event.journey.linkedid
        lid = getattr(event, "linkedid", None)
        return LinkedId(lid) if isinstance(lid, str) else None

    def _handle(self, event: DomainEvent, changes: Changes) -> None:
        lid = self._linkedid(event)
        if lid is not None and lid in self._gates:
            self._gates[lid].append(event)
            return
        applied = self.board.apply(event)
        changes.queues |= applied.queues
        changes.agents |= applied.agents
        if self.consults is not None and self.consults.handle(self, event):
            return
        match event:
            case CallQueued():
                self._queued(event)
            case CallLeftQueue():
                self._left_queue(event.server, event.uniqueid, event.linkedid)
            case AgentRinging():
                self._ringing(event)
            case AgentRingNoAnswer(agent=agent):
                self._call_update(
                    event.linkedid, "missed", {"agent": agent, "ring_seconds": event.ring_seconds}, only=agent
                )
                view = self.calls.get(event.linkedid)
                if view is not None:
                    view.pops.pop(agent, None)
            case CallAnswered(agent=agent):
                view = self.calls.get(event.linkedid)
                if view is not None:
                    view.agent, view.state, view.answered_at = agent, "answered", event.at
                    for other in list(view.pops):
                        if other != agent:
                            view.pops.pop(other)
                self._call_update(
                    event.linkedid,
                    "answered",
                    {
                        "agent": agent,
                        "queue": event.queue,
                        "waited_seconds": event.waited_seconds,
                        "at": event.at,
                    },
                )
            case CallHoldChanged(on_hold=on_hold):
                view = self.calls.get(event.linkedid)
                if view is not None:
                    view.held_since = event.at if on_hold else None
                self._call_update(event.linkedid, "held" if on_hold else "resumed", {"at": event.at})
            case CallParked() | CallUnparked():
                self._parking(event, changes)
            case CallTransferred():
                self._call_update(
                    event.linkedid,
                    "transferred",
                    {"agent": event.agent, "target": event.target, "kind": event.kind},
                )
            case CallEnded(journey=journey):
                for leg in journey.queue_legs:  # a queue exit the stream never showed
                    self._left_queue(journey.server, leg.uniqueid, journey.linkedid)
                self._call_update(journey.linkedid, "ended", {"journey": journey.to_json()})
                if (journey.server, journey.linkedid) in self.parked:  # its ParkedCallGiveUp was missed
                    self._parking(
                        CallUnparked(
                            event.at, journey.server, journey.linkedid, UniqueId(""), "", "", "gave_up", None
                        ),
                        changes,
                    )
                self.calls.pop(journey.linkedid, None)
                self.leads.pop(journey.linkedid, None)
            case UserEventRaised(linkedid=lid_, headers=headers) if lid_ is not None and _LEAD_KEYS & set(
                headers
            ):
                lead = self.leads.setdefault(lid_, {})
                lead.update({k.lower(): v for k, v in headers.items() if k in _LEAD_KEYS})
                self.lead_of[lid_] = lead
                while len(self.lead_of) > _LEADS_KEPT:
                    del self.lead_of[next(iter(self.lead_of))]
            case AgentStateChanged():
                self.seats[event.agent] = AgentSeat(
                    event.server,
                    event.interface,
                    tuple(event.queues) or self._queues_of(event.agent),
                    event.state,
                )
            case OriginateFinished(channel_id=channel_id) if (
                event.outcome != "answered" and self.spies.of_channel(event.server, channel_id)
            ):
                self.spy_changed(self.spies.originate_failed(event.server, channel_id))
            case SpyStarted():
                self.spy_changed(self.spies.started(event))
            case SpyStopped():
                self.spy_changed(self.spies.stopped(event))
            case OriginateFinished(channel_id=channel_id):
                agent = self.originates.pop(channel_id, None)
                number = self.dialled.pop(channel_id, "")
                if agent is not None and event.outcome == "answered" and event.linkedid is not None:
                    self._dialled_card(event, agent, event.linkedid, number, changes)
                if agent is not None:  # a console's click-to-call; other originates are not news
                    self._emit(
                        {
                            "type": "dial_result",
                            "channel_id": channel_id,
                            "outcome": event.outcome,
                            "reason_code": event.reason_code,
                            "linkedid": event.linkedid,
                        },
                        (agent,),
                    )
            case Resynced() | StreamProblem():
                self._emit(
                    {
                        "type": "notice",
                        "event": type(event).__name__,
                        "server": event.server,
                        "at": event.at,
                        "detail": self._notice(event),
                    },
                    None,
                )
            case _:
                pass

    def _dialled_card(
        self, event: OriginateFinished, agent: AgentId, lid: LinkedId, number: str, changes: Changes
    ) -> None:
        """A click-to-call the agent picked up: a call card like a pop (hang up, disposition, notes),
        the customer looked up by the number dialled, the call followed until it ends."""
        if lid in self.calls:
            return  # the stream showed it already
        seat = self.seats.get(agent)
        caller = CallerInfo(number, "")
        uid = UniqueId(lid)
        ring = AgentRinging(
            event.at,
            event.server,
            lid,
            uid,
            agent,
            seat.interface if seat else "",
            None,
            caller,
            number,
            Direction.OUTBOUND,
            0.0,
        )
        self._handle(ring, changes)
        self._handle(CallAnswered(event.at, event.server, lid, uid, agent, None, 0.0), changes)

    # ---- parked calls (docs/design/hold-and-park.md) -----------------------------------------------------
    def _everyone(self) -> set[AgentId]:
        return set(self.seats) | set(self._agents)

    def _parking(self, event: CallParked | CallUnparked, changes: Changes) -> None:
        """A parked call is listed for every agent (and supervisors) until it leaves its space; the card
        of the call says where it is; an agent who picks it up gets the call's card."""
        key = (event.server, event.linkedid)
        if isinstance(event, CallParked):
            entry: dict[str, Any] = {
                "server": event.server,
                "linkedid": event.linkedid,
                "space": event.space,
                "lot": event.lot,
                "number": event.caller.number,
                "name": event.caller.name,
                "since": event.at,
                "until": event.at + event.timeout if event.timeout else None,
            }
            self.parked[key] = entry
            self._emit({"type": "parked", "event": "parked", **entry}, self._everyone())
            self._call_update(event.linkedid, "parked", {"space": event.space, "lot": event.lot})
            return
        row = self.parked.pop(key, None)
        self._emit(
            {
                "type": "parked",
                "event": event.outcome,
                "server": event.server,
                "linkedid": event.linkedid,
                "space": event.space,
                "agent": event.agent,
            },
            self._everyone(),
        )
        if event.outcome != "retrieved" or event.agent is None:
            return
        view = self.calls.get(event.linkedid)
        if view is not None:
            view.pops.pop(event.agent, None)
        seat = self.seats.get(event.agent)
        known: dict[str, Any] = row or {}
        caller = CallerInfo(
            str(known.get("number") or (view.number if view else "")), str(known.get("name", ""))
        )
        uid = UniqueId(view.uniqueid if view else event.uniqueid)
        ring = AgentRinging(
            event.at,
            event.server,
            event.linkedid,
            uid,
            event.agent,
            seat.interface if seat else "",
            None,
            caller,
            "",
            Direction.INBOUND,
            0.0,
        )
        self._handle(ring, changes)
        self._handle(
            CallAnswered(event.at, event.server, event.linkedid, uid, event.agent, None, 0.0), changes
        )

    def _queued(self, event: CallQueued) -> None:
        row = {
            "server": event.server,
            "uniqueid": event.uniqueid,
            "linkedid": event.linkedid,
            "queue": event.queue,
            "number": event.caller.number,
            "name": event.caller.name,
            "since": event.at,
        }
        self.waiting[(event.server, event.uniqueid)] = row
        if len(self.waiting) > WAITING_LIMIT:  # exits lost in a gap never pile up: the oldest go
            del self.waiting[next(iter(self.waiting))]
        self._emit({"type": "waiting", "event": "joined", **row}, None)

    def _left_queue(self, server: str, uniqueid: str, linkedid: str) -> None:
        if self.waiting.pop((server, uniqueid), None) is not None:
            self._emit(
                {
                    "type": "waiting",
                    "event": "left",
                    "server": server,
                    "uniqueid": uniqueid,
                    "linkedid": linkedid,
                },
                None,
            )

    def _queues_of(self, agent: AgentId) -> tuple[str, ...]:
        seat = self.seats.get(agent)
        return seat.queues if seat else ()

    def _notice(self, event: DomainEvent) -> str:
        if isinstance(event, Resynced):
            return f"state rebuilt after {event.reason}: {event.channels} channels, {event.queues} queues"
        if isinstance(event, StreamProblem):
            return event.problem
        return ""

    def _push_board(self, changes: Changes) -> None:
        queues = {q: self.board.queue_figures(q) for q in sorted(changes.queues)}
        agents = {a: self.board.agent_figures(a) for a in sorted(changes.agents)}
        for row in queues.values():
            self._emit({"type": "queue", **row}, None)
        for a, row in agents.items():
            self._emit({"type": "agent_state", **row}, (a,))
        if self.kpi:
            self._judge(queues, agents)

    def _judge(self, queues: dict[QueueName, dict[str, Any]], agents: dict[AgentId, dict[str, Any]]) -> None:
        """The targets over the rows that changed (the center's when a queue did): level changes go to
        supervisors only (``kpi_alert``)."""
        at = self._clock.now()
        alerts = [a for q, row in queues.items() for a in self.kpi.observe(Scope.QUEUE, q, row, at)]
        if queues and self.kpi.judges(Scope.CENTER):
            rows = [queues.get(q) or self.board.queue_figures(q) for q in self.board.queues]
            alerts += self.kpi.observe(Scope.CENTER, "", center_figures(rows), at)
        alerts += [a for agent, row in agents.items() for a in self.kpi.observe(Scope.AGENT, agent, row, at)]
        for alert in alerts:
            self._emit(kpi_alert(alert), None)

    def _call_update(
        self, lid: LinkedId, event: str, extra: dict[str, Any], only: AgentId | None = None
    ) -> None:
        view = self.calls.get(lid)
        audience: set[AgentId] = set(view.agents) if view is not None else set()
        if only is not None:
            audience = {only}
        if view is not None and event != "missed":
            view.state = "held" if event == "held" else ("answered" if event == "resumed" else event)
        # the server too: a Linkedid is unique per Asterisk server only (consoles key calls by both)
        message = {
            "type": "call",
            "event": event,
            "linkedid": lid,
            "server": view.server if view else "",
            **extra,
        }
        self._emit(message, audience)

    def _remember(self, agent: AgentId, server: str, lid: LinkedId) -> None:
        recent = self.recent.setdefault(agent, collections.deque(maxlen=RECENT_CALLS))
        if (server, lid) not in recent:
            recent.append((server, lid))

    def may_act_on(self, identity: Identity, lid: str) -> bool:
        if identity.supervisor:
            return True
        view = self.calls.get(LinkedId(lid))
        if view is not None and identity.agent in view.agents:
            return view.agent is None or view.agent == identity.agent
        return False

    def may_disposition(self, identity: Identity, lid: str) -> bool:
        if identity.supervisor:
            return True
        return identity.agent is not None and any(k == lid for _, k in self.recent.get(identity.agent, ()))

    def call_server(self, identity: Identity, lid: str) -> str:
        """The Asterisk server of call ``lid`` (a Linkedid is unique per server only): the one of the
        agent's own recent call, else of the live call, else of any agent's recent call ('' if none)."""
        mine = self.recent.get(identity.agent, ()) if identity.agent is not None else ()
        for server, known in reversed(mine):
            if known == lid:
                return server
        view = self.calls.get(LinkedId(lid))
        if view is not None:
            return view.server
        return next((s for recent in self.recent.values() for s, known in recent if known == lid), "")

    # ---- screen pops ---------------------------------------------------------------------------------
    def _ringing(self, event: AgentRinging) -> None:
        view = self.calls.get(event.linkedid)
        if view is None:
            view = self.calls[event.linkedid] = CallView(
                event.linkedid, event.server, event.uniqueid, event.caller.number
            )
        view.agents.add(event.agent)
        self._remember(event.agent, event.server, event.linkedid)
        number = event.caller.number
        card: CallerCard | None
        if self.directory is None or not number:
            card = CallerCard("not_found", {})
        else:
            card = self.directory.cached(number)
        if card is None:
            assert self.directory is not None
            self._gates[event.linkedid] = []
            self.directory.request(number, functools.partial(self._looked_up, event))
            return
        self._pop(event, card)

    def _looked_up(self, event: AgentRinging, card: CallerCard) -> None:
        self._pop(event, card)
        held = self._gates.pop(event.linkedid, [])
        self.on_events(held)

    def _lead(self, event: AgentRinging) -> dict[str, str] | None:
        lead = self.leads.get(event.linkedid)
        if not lead:
            return None
        return {k: v for k, v in lead.items() if k != "script"}

    def normalize(self, number: str) -> str | None:
        return _e164(number, self.default_country)

    def _pop(self, event: AgentRinging, card: CallerCard) -> None:
        data = card.data
        pop: dict[str, Any] = {
            "type": "screenpop",
            "v": VERSION,
            "at": event.at,
            "agent": event.agent,
            "call": {
                "linkedid": event.linkedid,
                "uniqueid": event.uniqueid,
                "server": event.server,
                "queue": event.queue,
                "waited_seconds": round(event.waited_seconds, 3),
                "did": event.did,
                "direction": event.direction.value,
            },
            "caller": {
                "number": event.caller.number,
                "normalized": data.get("normalized") or self.normalize(event.caller.number),
                "name": event.caller.name,
            },
            "lookup": card.status,
            "customers": data.get("customers") or [],
            "number_do_not_call": data.get("number_do_not_call"),
            "recent_calls": data.get("recent_calls") or [],
            "lead": self._lead(event) or data.get("lead"),
            "script": self.leads.get(event.linkedid, {}).get("script") or data.get("script"),
        }
        if event.queue:
            self.queue_of[event.linkedid] = event.queue
            while len(self.queue_of) > _LEADS_KEPT:
                del self.queue_of[next(iter(self.queue_of))]
        view = self.calls.get(event.linkedid)
        if view is not None and view.state != "ended":
            view.pops[event.agent] = pop
        self.pops_sent += 1
        self._emit(pop, (event.agent,))
