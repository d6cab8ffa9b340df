"""The outbound dialer at the edge: Originates out, AMD and outcomes in, live answers to reserved agents.

The decisions are pure (cti.dialer.session: the attempt's transition table, progressive lines, blending);
this service applies them. Its PORTS are Protocols so that the campaign store and the pacer can be bound
at assembly (cti/app.py):

- ``LeadSource``: the next callable leads of a campaign (eligibility: do-not-call, open complaints, call
  windows are the source's rules); bound to ``StoreLeads`` over ``store.campaigns`` here.
- ``AttemptSink``: an attempt's outcome (``AttemptRecord``); bound to ``StoreAttempts`` here.
- ``Pacer``: how many lines to dial now; bound to ``PredictivePacer`` at assembly: progressive lines for
  ``progressive`` and ``agentless`` campaigns, and for ``mode = "predictive"`` cti's pacing core
  (``cti.dialer.pacing``, the one the benchmark and ``cti simulate`` run) through ``Predicts``: it is given
  the campaign's agents (idle, in wrap-up with the seconds left, talking with the seconds talked), the
  lines ringing with their seconds, the live answers waiting, and a budget per compliance window
  (``WindowSource``: the store's ``dial_attempts`` windows, re-read every ``WINDOWS_REFRESH`` s, plus
  what this process has counted since), and it hears every attempt's outcome and talk (its online
  estimates of the answer rate per list and hour, the ring times and the talk time).

The flow of one attempt (docs/design/dialer.md): ``Originate`` Async with a ``ChannelId`` (and
``OtherChannelId``) to the campaign's channel and caller ID into ``[dialer] context``; the dialplan
answers, runs AMD() and raises ``UserEvent(AMDResult)``, then waits. HUMAN or NOTSURE: cti puts the
channel in the router under the campaign's queue (``RoutingService.hold_outbound``) with the lead and
the script for the pop; the router reserves an agent and the routing service Redirects the customer to
it. If no agent's phone rings for it ``connect_seconds`` (2 s) after the answer, it is taken back from
the router and Redirected to ``message_context`` (the safe-harbour message): abandoned, counted.
MACHINE: hung up, or Redirected to ``machine_context`` (a message). A lost AMI link (the Originate's
reply lost, or a ``Resynced``) turns every open attempt ``unknown``: resolved by later events or the
records, never dialled again by this service (its lead stays taken).

PREVIEW (``mode = "preview"``): each idle agent of the campaign's queue is reserved (the router offers
it nothing: ``Router.block``) and gets a ``preview`` card (protocol.preview_card: the lead and the
script) on its console (``PreviewConsole``: the hub). ``preview_dial`` originates the customer straight
into ``<agent_context>,<agent's extension>`` (no AMD, no 2 s rule: the agent is there) with the lead
published for the pop; ``preview_skip`` records ``skipped`` (not a dial attempt) and the next lead is
offered; a card not answered within ``[dialer] preview_seconds`` is returned: its lead goes back to
the source (``release``), the agent is free again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from cti.config import CampaignConfig, DialerConfig, DispositionConfig
from cti.core.events import (
    AgentRinging,
    AgentState,
    CallEnded,
    DomainEvent,
    OriginateFinished,
    Resynced,
    UserEventRaised,
)
from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.delivery.hopper import Hopper
from cti.delivery.service import RoutingService
from cti.dialer import session
from cti.dialer.compliance import DEFAULT_AMD_FALSE_POSITIVE_RATE, Window, WindowState
from cti.dialer.hopper import HopperPolicy
from cti.dialer.pacing import DialerState, PacerSettings, WindowBudget
from cti.dialer.session import Ev, State
from cti.dialer.settings import CampaignSettings
from cti.dialer.settings import State as RunState
from cti.dialer.strategies import Outcome, Predictive, Priors
from cti.screenpop import protocol
from cti.screenpop.actions import reply_ok
from cti.screenpop.live import LiveBoard
from cti.telemetry import Metric, counter, gauge

log = logging.getLogger("cti.delivery.dialer")

_FAIL_HEARD: dict[Ev, Outcome] = {Ev.BUSY: "busy", Ev.CONGESTION: "busy", Ev.NO_ANSWER: "noanswer"}


def _hour(at: float) -> int:
    """The local hour of the day (answer rates are estimated per list and hour)."""
    return datetime.fromtimestamp(at).hour


AMD_EVENT = "AMDResult"
LEAD_EVENT = "CtiLead"  # the hub pops Campaign/LeadId/LeadName/LeadNumber/Script of a linkedid (hub)


@dataclass(frozen=True, slots=True)
class Lead:
    lead_id: int
    number: str  # E.164
    customer_id: int | None
    name: str = ""
    script: str = ""


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    campaign: str
    lead_id: int
    number: str
    outcome: str  # answered, busy, no-answer, congestion, failed, machine, abandoned, connected, unknown
    at: float
    channel_id: str
    agent: str = ""
    connected_after: float | None = None  # seconds from the live answer to the agent's ring
    message_played: bool = False


class LeadSource(Protocol):
    async def next_leads(self, campaign: str, n: int, now: float) -> Sequence[Lead]: ...


@runtime_checkable
class Releases(Protocol):
    """A LeadSource that takes back a lead it handed out and that was not dialled (an expired preview)."""

    def release(self, campaign: str, lead_id: int) -> None: ...


class PreviewConsole(Protocol):
    """The agents' consoles (cti.screenpop.hub.Hub.push): a message to one agent."""

    def push(self, message: dict[str, Any], agent: AgentId) -> None: ...

    def online(self, agent: AgentId) -> bool: ...


class InboundFigures(Protocol):
    """Today's live inbound figures of a queue (``BoardFigures``: cti.screenpop.live.LiveBoard)."""

    def idle(self, queue: str) -> int: ...

    def service_level(self, queue: str) -> float | None: ...


class BoardFigures:
    """InboundFigures over the hub's LiveBoard: members ``available`` now, today's service level."""

    def __init__(self, board: LiveBoard) -> None:
        self.board = board

    def idle(self, queue: str) -> int:
        if queue not in self.board.queues:
            return 0
        return int(self.board.queue_figures(QueueName(queue))["agents"].get(AgentState.AVAILABLE.value, 0))

    def service_level(self, queue: str) -> float | None:
        if queue not in self.board.queues:
            return None
        value = self.board.queue_figures(QueueName(queue)).get("service_level")
        return None if value is None else float(value)


class AttemptSink(Protocol):
    async def record(self, attempt: AttemptRecord) -> None: ...


class Pacer(Protocol):
    def lines(
        self, campaign: str, idle_agents: int, soon_free: int, ringing: int, free_lines: int
    ) -> int: ...


class ProgressivePacer:
    def lines(self, campaign: str, idle_agents: int, soon_free: int, ringing: int, free_lines: int) -> int:
        return session.progressive_lines(idle_agents, soon_free, ringing, free_lines)


class CampaignStore(Protocol):
    """The campaigns' settings and run state (``store.campaign_settings``)."""

    async def all(self) -> Sequence[CampaignSettings]: ...


# the settings the dialer takes from the store onto its CampaignConfig (kept, so attempts keep theirs)
_DIALLING = ("mode", "queue", "channel", "caller_id", "max_lines", "ring_timeout", "amd_machine", "script")
WINDOWS_REFRESH = 30.0  # seconds between reads of a predictive campaign's compliance windows
DEFAULT_LIMIT = 0.03  # the session's own window when the store's are not known (FTC, Ofcom)


@dataclass(frozen=True, slots=True)
class PaceView:
    """A predictive campaign now, for ``Predicts.predict``: the local ``hour`` (answer rates are per list
    and hour), the agents and lines (``DialerState``), a budget per compliance window, the free lines."""

    now: float
    hour: int
    state: DialerState
    budgets: tuple[WindowBudget, ...]
    free_lines: int


@runtime_checkable
class Predicts(Protocol):
    """A Pacer that paces ``mode = "predictive"`` campaigns on the full state and hears the outcomes."""

    def predict(self, campaign: CampaignConfig, view: PaceView) -> int: ...

    def heard(self, campaign: CampaignConfig, hour: int, outcome: Outcome, ring: float) -> None: ...

    def talked(self, campaign: CampaignConfig, seconds: float) -> None: ...


class PredictivePacer(ProgressivePacer):
    """Progressive lines (``lines``) and, for predictive campaigns, cti's pacer on online estimates: one
    ``cti.dialer.strategies.Predictive`` per campaign (its priors: the campaign's ``answer_rate`` and
    ``talk_seconds``), the same code as the benchmark's day model."""

    def __init__(self, settings: PacerSettings | None = None) -> None:
        self.settings = settings or PacerSettings()
        self.campaigns: dict[str, Predictive] = {}

    def estimates(self, c: CampaignConfig) -> Predictive:
        p = self.campaigns.get(c.name)
        if p is None:
            priors = Priors(live_rate=c.answer_rate, talk_mean=c.talk_seconds)
            p = self.campaigns[c.name] = Predictive(DEFAULT_LIMIT, self.settings, priors, list_id=c.name)
        return p

    def predict(self, campaign: CampaignConfig, view: PaceView) -> int:
        pacer = self.estimates(campaign).pacer(view.now, view.hour)
        return pacer.decide(view.state, view.budgets, capacity=view.free_lines).lines

    def heard(self, campaign: CampaignConfig, hour: int, outcome: Outcome, ring: float) -> None:
        self.estimates(campaign).heard(hour, outcome, max(0.0, ring))

    def talked(self, campaign: CampaignConfig, seconds: float) -> None:
        self.estimates(campaign).talked(max(0.0, seconds))


class WindowSource(Protocol):
    """The compliance windows of a campaign from the stored dials (``store.dial_attempts.windows``)."""

    async def windows(self, campaign: str, now: float) -> Sequence[WindowState]: ...


@dataclass(slots=True)
class Tally:
    """A campaign's live answers, abandons and machine results counted by this process."""

    live: int = 0
    abandons: int = 0
    machines: int = 0


@dataclass(slots=True)
class Budgets:
    """A predictive campaign's windows as last read (``read_at``) and what this process counted since;
    ``session``: everything it counted (its own window when the store's are not known)."""

    windows: tuple[WindowState, ...] = ()
    read_at: float = -math.inf
    since: Tally = field(default_factory=Tally)
    session: Tally = field(default_factory=Tally)

    def budgets(self) -> tuple[WindowBudget, ...]:
        s = self.since
        if not self.windows:
            t = self.session
            return (WindowBudget(t.live, float(t.abandons), DEFAULT_LIMIT, "session"),)
        out = []
        for w in self.windows:
            # Ofcom counts each machine result as a possible person dropped (an AMD false positive)
            fp = DEFAULT_AMD_FALSE_POSITIVE_RATE * s.machines if w.window is Window.OFCOM_24H else 0.0
            live = int(w.denominator + s.live + fp)
            out.append(WindowBudget(live, w.abandons + s.abandons + fp, w.limit, w.window.value))
        return tuple(out)


class CampaignRows(Protocol):
    """``store.campaigns`` (cti.store.campaigns_repo.CampaignRepository)."""

    async def callable_leads(self, campaign: str, *, now: float | None = None, limit: int = 100) -> Any: ...

    async def record_lead_attempt(self, lead_id: int, outcome: str, *, at: float | None = None) -> str: ...

    async def count_callable(
        self, campaign: str, *, now: float | None = None, limit: int = 100_000
    ) -> int: ...


class StoreLeads:
    """A LeadSource over the store's rule (CampaignRepository.callable_leads) through a hopper per campaign
    (cti.delivery.hopper): leads are fetched ahead of the dial rate, checked again when taken, and the
    low-leads alarm goes to ``on_alarm`` (the supervisors). The leads this process has already dialled
    (their attempt is being recorded, or its outcome is unknown) are skipped."""

    RATE_WINDOW = 600.0  # seconds over which the dial rate (leads a minute) is measured

    def __init__(
        self,
        rows: CampaignRows,
        scripts: dict[str, str],
        policy: HopperPolicy | None = None,
        *,
        on_alarm: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.rows, self.scripts = rows, scripts
        self.policy = policy or HopperPolicy()
        self.on_alarm = on_alarm
        self.taken: set[int] = set()
        self.hoppers: dict[str, Hopper] = {}
        self._served: dict[str, deque[float]] = {}

    def _alarm(self, message: dict[str, Any]) -> None:
        if self.on_alarm is not None:
            self.on_alarm(message)

    def dial_rate(self, campaign: str, now: float) -> float:
        """Leads handed out a minute over the last ``RATE_WINDOW`` seconds."""
        served = self._served.setdefault(campaign, deque())
        while served and served[0] < now - self.RATE_WINDOW:
            served.popleft()
        return len(served) * 60.0 / self.RATE_WINDOW

    async def next_leads(self, campaign: str, n: int, now: float) -> list[Lead]:
        hopper = self.hoppers.get(campaign)
        if hopper is None:
            hopper = self.hoppers[campaign] = Hopper(self.rows, campaign, self.policy, on_alarm=self._alarm)
        await hopper.refill(self.dial_rate(campaign, now), now, need=n, skip=self.taken)
        out = [
            Lead(r.id, r.number, r.customer_id, r.name, self.scripts.get(campaign, ""))
            for r in hopper.take(n, now)
            if r.id not in self.taken
        ]
        self.taken.update(lead.lead_id for lead in out)
        self._served.setdefault(campaign, deque()).extend(now for _ in out)
        return out

    def release(self, campaign: str, lead_id: int) -> None:
        self.taken.discard(lead_id)

    def collect(self) -> Iterable[Metric]:
        for hopper in self.hoppers.values():
            yield from hopper.collect()


class StoreAttempts:
    """An AttemptSink over ``store.campaigns.record_lead_attempt`` (recycling is the store's rule)."""

    def __init__(self, rows: CampaignRows) -> None:
        self.rows = rows
        self.records: list[AttemptRecord] = []  # this run's, newest last (bounded)

    async def record(self, attempt: AttemptRecord) -> None:
        self.records.append(attempt)
        del self.records[:-1000]
        if attempt.outcome == "skipped":  # a preview the agent skipped: not a dial attempt
            return
        # an abandoned call is recycled by its own rule, never redialled within 72 h (cti.dialer.recycling)
        outcome = "answered" if attempt.outcome == "connected" else attempt.outcome
        await self.rows.record_lead_attempt(attempt.lead_id, outcome, at=attempt.at)


@dataclass(slots=True)
class Attempt:
    campaign: CampaignConfig
    lead: Lead
    server: str
    channel_id: str
    state: State = State.QUEUED
    dialled_at: float = 0.0
    connected_at: float | None = None
    answered_at: float | None = None
    live_at: float | None = None
    agent: str = ""
    channel: str = ""
    linkedid: str = ""
    recorded: bool = False
    message: bool = False
    preview: Preview | None = None


@dataclass(slots=True)
class Preview:
    """A lead on an agent's preview card (mode = "preview"); ``attempt`` once the agent dialled it."""

    id: str
    campaign: CampaignConfig
    lead: Lead
    agent: AgentId
    expires: float
    attempt: Attempt | None = None


@dataclass(slots=True)
class DialerStats:
    originated: int = 0
    answered: int = 0
    connected: int = 0
    abandoned: int = 0
    machines: int = 0
    failed: int = 0
    unknown: int = 0
    messages: int = 0
    rounds: int = 0  # pacing decisions taken
    previews: int = 0  # preview cards offered
    skipped: int = 0
    expired: int = 0
    blend_moves: int = 0  # blended agents moved between inbound and outbound work
    by_campaign: dict[str, dict[str, int]] = field(default_factory=dict)


class DialerService:
    def __init__(
        self,
        routing: RoutingService,
        cfg: DialerConfig,
        leads: LeadSource,
        sink: AttemptSink,
        pacer: Pacer,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.routing, self.cfg, self.leads, self.sink, self.pacer = routing, cfg, leads, sink, pacer
        self.clock = clock
        self.campaigns = {c.name: c for c in cfg.campaign}
        self.paused: set[str] = set()
        self.stats = DialerStats()
        self.attempts: dict[str, Attempt] = {}  # by ChannelId (= the customer channel's Uniqueid)
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.console: PreviewConsole | None = None  # the hub, for preview cards (set at assembly)
        self.previews: dict[str, Preview] = {}  # by id
        self.inbound: InboundFigures | None = None  # blending's live inbound figures (set at assembly)
        self.outbound_side: dict[str, bool] = {}  # blended agents: True while on outbound work
        self._blended = {AgentId(a): c for c in cfg.campaign for a in c.blended}
        # with a store (set at assembly): the campaigns and their start/pause come from it, re-read every
        # [dialer] reload_seconds and at once after ``reload_soon`` (the campaign page's changes)
        self.store: CampaignStore | None = None
        self._reload_at = 0.0
        self.reloads = 0
        self.windows: WindowSource | None = None  # predictive: the stored compliance windows (assembly)
        self.budgets: defaultdict[str, Budgets] = defaultdict(Budgets)  # per campaign (the store adds some)

    # ---- events (a bus subscriber: in the pump's task, in order) --------------------------------------
    def on_events(self, events: Sequence[DomainEvent], origin: str = "") -> None:
        for ev in events:
            match ev:
                case OriginateFinished(channel_id=cid) if cid in self.attempts:
                    a = self.attempts[cid]
                    a.linkedid = ev.linkedid or a.linkedid or cid
                    if ev.outcome == "answered":
                        a.answered_at = ev.at
                        if self._move(a, Ev.ANSWER, ev.at) and a.preview is not None:
                            self._adopt(a, ev.at)
                    else:
                        self._move(a, session.fail_event(ev.outcome), ev.at, ev.outcome)
                case UserEventRaised(name=name, headers=h) if name == AMD_EVENT:
                    found = self.attempts.get(h.get("Uniqueid", "") or (ev.uniqueid or ""))
                    if found is not None:
                        found.channel = h.get("CtiChannel", found.channel)
                        self._amd(found, h.get("Status", h.get("AMDSTATUS", "")), ev.at)
                case AgentRinging(uniqueid=uid, agent=agent) if uid in self.attempts:
                    a = self.attempts[uid]
                    a.agent = agent
                    if self._move(a, Ev.AGENT, ev.at):
                        self.stats.connected += 1
                        a.connected_at = ev.at
                        after = ev.at - (a.live_at or ev.at)
                        self._record(a, "connected", ev.at, connected_after=after)
                case CallEnded(journey=j):
                    for a in [a for a in self.attempts.values() if a.linkedid == j.linkedid]:
                        self._ended(a, ev.at)
                case Resynced(server=server):
                    self.link_lost(server, ev.at)
                case _:
                    pass

    def _move(self, a: Attempt, event: Ev, at: float, outcome: str = "") -> bool:
        nxt = session.step(a.state, event)
        if nxt is None:
            return False
        a.state = nxt
        if nxt is State.FAILED:
            self.stats.failed += 1
            if event in _FAIL_HEARD:
                self._heard(a, _FAIL_HEARD[event], at)
            self._record(a, outcome or "failed", at)
            self.attempts.pop(a.channel_id, None)
            if a.preview is not None:
                self._preview_over(a.preview, outcome or "failed")
        elif nxt is State.UNKNOWN and a.preview is not None:
            # the dial may have run: the agent stays blocked for its ring time, then gets the next card
            self._preview_over(a.preview, "unknown", unblock=False)
        elif nxt is State.ANSWERED:
            self.stats.answered += 1
        self._wake.set()
        return True

    def _amd(self, a: Attempt, status: str, at: float) -> None:
        event = session.amd_event(status)
        if not self._move(a, event, at):
            return
        link = self.routing.links(a.server)
        if a.state is State.MACHINE:
            self.stats.machines += 1
            self._heard(a, "machine", at)
            self.budgets[a.campaign.name].since.machines += 1
            self.budgets[a.campaign.name].session.machines += 1
            self._record(a, "machine", at)
            if a.campaign.amd_machine == "message" and link is not None:
                self._spawn(self._redirect(a, self.cfg.machine_context, Ev.PLAYED))
            elif link is not None:
                self._spawn(self._hangup(a))
            return
        a.live_at = at
        self._heard(a, "live", at)
        if a.campaign.mode != "agentless":  # agentless: a message, never an abandon
            b = self.budgets[a.campaign.name]
            b.since.live, b.session.live = b.since.live + 1, b.session.live + 1
        if a.campaign.mode == "agentless":
            self._spawn(self._redirect(a, self.cfg.message_context, Ev.PLAYED))
            return
        # the pop's lead and script (the hub keeps them by linkedid), then the router reserves an agent
        lead = a.lead
        self._publish_lead(a, at)
        self.routing.hold_outbound(
            a.server, a.channel_id, a.channel, a.linkedid or a.channel_id, lead.number, a.campaign.queue, at
        )
        self._spawn(self._two_seconds(a))

    def _publish_lead(self, a: Attempt, at: float) -> None:
        lead = a.lead
        self.routing.publish(
            [
                UserEventRaised(
                    at,
                    a.server,
                    LEAD_EVENT,
                    LinkedId(a.linkedid or a.channel_id),
                    UniqueId(a.channel_id),
                    {
                        "Campaign": a.campaign.name,
                        "LeadId": str(lead.lead_id),
                        "LeadName": lead.name,
                        "LeadNumber": lead.number,  # the callback's number (the channel shows our caller ID)
                        "Script": lead.script or a.campaign.script,
                        # the codes the agent gives the lead (cti.store.campaigns_repo.dispose_lead)
                        "Dispositions": json.dumps(
                            [{"code": d.code, "callback": d.callback} for d in a.campaign.disposition]
                        ),
                    },
                )
            ]
        )

    async def _two_seconds(self, a: Attempt) -> None:
        """The 2 s rule: no agent ringing for the live answer by then: the message, counted abandoned."""
        assert a.live_at is not None
        await asyncio.sleep(max(0.0, a.live_at + self.cfg.connect_seconds - self.routing.now()))
        if a.state is not State.LIVE:
            return
        self.routing.forget_call(a.server, a.channel_id, self.routing.now())
        if self._move(a, Ev.NO_AGENT, self.routing.now()):
            self.stats.abandoned += 1
            b = self.budgets[a.campaign.name]
            b.since.abandons, b.session.abandons = b.since.abandons + 1, b.session.abandons + 1
            self._record(a, "abandoned", self.routing.now(), message=True)
            await self._redirect(a, self.cfg.message_context, None)

    async def _redirect(self, a: Attempt, context: str, then: Ev | None) -> None:
        link = self.routing.links(a.server)
        if link is None or not a.channel:
            log.warning("dialer: cannot redirect %s to %s (no link or channel)", a.channel_id, context)
            return
        action = {
            "Action": "Redirect",
            "Channel": a.channel,
            "Context": context,
            "Exten": "s",
            "Priority": "1",
        }
        try:
            async with asyncio.timeout(self.routing.action_timeout):
                ok, message = reply_ok(await link.send_action(action))
        except Exception as e:
            ok, message = False, str(e)
        if not ok:
            log.warning("dialer: Redirect of %s to %s failed: %s", a.channel, context, message)
            return
        a.message = True
        self.stats.messages += 1
        if then is not None and self._move(a, then, self.routing.now()):
            self._record(a, "message" if a.campaign.mode == "agentless" else "machine", self.routing.now())

    async def _hangup(self, a: Attempt) -> None:
        link = self.routing.links(a.server)
        if link is not None and a.channel:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.routing.action_timeout):
                    await link.send_action({"Action": "Hangup", "Channel": a.channel, "Cause": "16"})

    def _heard(self, a: Attempt, outcome: Outcome, at: float) -> None:
        """A predictive campaign's line resolved: the pacer's estimates hear it (ring: since the dial)."""
        if a.campaign.mode == "predictive" and a.preview is None and isinstance(self.pacer, Predicts):
            self.pacer.heard(a.campaign, _hour(at), outcome, at - a.dialled_at)

    def _ended(self, a: Attempt, at: float) -> None:
        if a.state is State.CONNECTED and a.connected_at is not None and a.campaign.mode == "predictive":
            if isinstance(self.pacer, Predicts):
                self.pacer.talked(a.campaign, at - a.connected_at)
        if a.state is State.UNKNOWN:  # resolved from the records: it ran and ended
            self._record(a, "unknown", at)
        if a.state is State.LIVE:  # the customer hung up before an agent was reached
            self.routing.forget_call(a.server, a.channel_id, at)
        self._move(a, Ev.HANGUP, at)
        self.attempts.pop(a.channel_id, None)
        if a.preview is not None:
            self._preview_over(a.preview, "")

    def link_lost(self, server: str, at: float) -> None:
        """After a reconnect: open attempts of ``server`` are unknown; they are never dialled again."""
        for a in self.attempts.values():
            if a.server == server and self._move(a, Ev.LINK_LOST, at):
                self.stats.unknown += 1

    def _record(
        self,
        a: Attempt,
        outcome: str,
        at: float,
        *,
        connected_after: float | None = None,
        message: bool = False,
    ) -> None:
        if a.recorded and outcome not in ("connected", "abandoned"):
            return
        first, a.recorded = not a.recorded, True
        per = self.stats.by_campaign.setdefault(a.campaign.name, {})
        per[outcome] = per.get(outcome, 0) + 1
        rec = AttemptRecord(
            a.campaign.name,
            a.lead.lead_id,
            a.lead.number,
            outcome,
            at,
            a.channel_id,
            a.agent,
            connected_after,
            message or a.message,
        )
        if first or outcome in ("connected", "abandoned"):
            self._spawn(self._store(rec))

    async def _store(self, rec: AttemptRecord) -> None:
        try:
            await self.sink.record(rec)
        except Exception as e:
            log.warning("dialer: attempt of lead %d not stored: %s", rec.lead_id, e)

    # ---- the campaigns from the store ------------------------------------------------------------------
    async def reload(self) -> None:
        """The campaigns as the store has them now: running ones are dialled, paused ones kept (their
        attempts under way finish) but not dialled, drafts and ended ones dropped. A campaign already known
        keeps its CampaignConfig object (its attempts point at it); a failed read keeps the last ones."""
        assert self.store is not None
        try:
            rows = await self.store.all()
        except Exception as e:
            log.warning("dialer: campaigns not re-read from the store: %s", e)
            return
        self.reloads += 1
        kept: dict[str, CampaignConfig] = {}
        for row in rows:
            if row.state not in (RunState.RUNNING, RunState.PAUSED):
                continue
            c = self.campaigns.get(row.name) or CampaignConfig(name=row.name)
            for key in _DIALLING:
                setattr(c, key, getattr(row, key))
            c.blended = list(row.blended)
            c.disposition = [DispositionConfig(d.code, d.final, d.sale, d.callback) for d in row.dispositions]
            kept[row.name] = c
        self.campaigns = kept
        self.paused = {row.name for row in rows if row.state is RunState.PAUSED}
        self._blended = {AgentId(a): c for c in kept.values() for a in c.blended}
        if isinstance(self.leads, StoreLeads):
            self.leads.scripts.clear()
            self.leads.scripts.update({c.name: c.script for c in kept.values()})

    def reload_soon(self) -> None:
        """Re-read the campaigns before the next pacing round (a campaign was started, paused or edited)."""
        self._reload_at = 0.0
        self._wake.set()

    def live(self, campaign: str) -> dict[str, Any]:
        """The campaign's live figures in this process: lines in use, attempts by outcome, dialling or not."""
        c = self.campaigns.get(campaign)
        mine = [a for a in self.attempts.values() if a.campaign.name == campaign]
        return {
            "dialling": c is not None and campaign not in self.paused,
            "lines_in_use": sum(1 for a in mine if a.state is not State.QUEUED),
            "max_lines": c.max_lines if c is not None else 0,
            "live_waiting": sum(1 for a in mine if a.state is State.LIVE),
            "previews": sum(1 for pv in self.previews.values() if pv.campaign.name == campaign),
            "outcomes": dict(self.stats.by_campaign.get(campaign, {})),
        }

    # ---- pacing and Originates (the service's task) ----------------------------------------------------
    async def run(self) -> None:
        try:
            while True:
                if self.store is not None and self.clock() >= self._reload_at:
                    await self.reload()
                    self._reload_at = self.clock() + self.cfg.reload_seconds
                self.apply_blend()
                for c in self.campaigns.values():
                    if c.name in self.paused:
                        continue
                    if c.mode in ("progressive", "predictive", "agentless"):
                        await self._pace(c)
                    elif c.mode == "preview":
                        await self._offer_previews(c)
                self.stats.rounds += 1
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.cfg.poll_interval):
                        await self._wake.wait()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- blending ---------------------------------------------------------------------------------------
    def apply_blend(self) -> None:
        """``session.blend`` on the live inbound figures: each campaign's blended agents work outbound
        (counted by its pacing, offered its previews) or inbound (not counted, not offered). The inbound
        queues watched are the blended agents' queues other than the campaign's (none: the campaign's
        own queue): the fewest idle agents among them, the lowest service level today."""
        if self.inbound is None:
            return
        rule = session.BlendRule(self.cfg.blend_idle_above, self.cfg.blend_service_level_below)
        r = self.routing.router
        for c in self.campaigns.values():
            agents = [AgentId(a) for a in c.blended if r.has_agent(AgentId(a))]
            if not agents:
                continue
            queues = sorted({q for a in agents for q in r.queues_of(a) if q != c.queue}) or [c.queue]
            current: dict[str, bool] = {a: self.outbound_side.get(a, False) for a in agents}
            away = [a for a in agents if current[a] and r.state(a) is AgentState.AVAILABLE]
            idle = min(
                self.inbound.idle(q) - sum(1 for a in away if q in r.queues_of(a)) for q in queues
            )  # idle on inbound work: the blended agents now outbound do not count
            levels = [sl for q in queues if (sl := self.inbound.service_level(q)) is not None]
            decided = session.blend(current, idle, min(levels) if levels else None, rule)
            for agent, outbound in decided.items():
                if outbound != current[agent]:
                    self.stats.blend_moves += 1
                    log.info("dialer: %s moves to %s work", agent, "outbound" if outbound else "inbound")
            self.outbound_side.update(decided)

    def _works_for(self, c: CampaignConfig, agent: AgentId) -> bool:
        """Whether ``agent`` takes campaign ``c``'s calls now: not a blended agent on inbound work."""
        blended = self._blended.get(agent)
        return blended is not c or self.outbound_side.get(agent, False)

    def _idle_agents(self, c: CampaignConfig) -> int:
        if c.mode == "agentless":
            return c.max_lines
        r = self.routing.router
        return sum(
            1
            for a in r.agents()
            if a.state is AgentState.AVAILABLE
            and c.queue in r.queues_of(a.agent)
            and self._works_for(c, a.agent)
        )

    async def _pace(self, c: CampaignConfig) -> None:
        mine = [a for a in self.attempts.values() if a.campaign is c]
        ringing = sum(1 for a in mine if a.state in (State.ORIGINATING, State.RINGING, State.ANSWERED))
        ringing += sum(1 for a in mine if a.state is State.LIVE)  # waiting for an agent: it takes one
        free = c.max_lines - sum(1 for a in mine if a.state is not State.QUEUED)
        if c.mode == "predictive" and isinstance(self.pacer, Predicts):
            n = self.pacer.predict(c, await self.pace_view(c, max(0, free)))
        else:
            n = self.pacer.lines(c.name, self._idle_agents(c), 0, ringing, max(0, free))
        if n <= 0:
            return
        server = self.routing.local_server()
        if server is None:
            return
        try:
            leads = await self.leads.next_leads(c.name, n, self.clock())
        except Exception as e:
            log.warning("dialer: no leads for %s: %s", c.name, e)
            return
        for lead in leads:
            await self.originate(c, lead, server)

    async def pace_view(self, c: CampaignConfig, free_lines: int) -> PaceView:
        """A predictive campaign's agents, lines and window budgets now (the windows re-read when due)."""
        b = self.budgets[c.name]
        now = self.routing.now()
        if self.windows is not None and now - b.read_at >= WINDOWS_REFRESH:
            b.read_at, since = now, b.since
            b.since = Tally()  # what comes while the store is read counts again: on the safe side
            try:
                b.windows = tuple(await self.windows.windows(c.name, self.clock()))
            except Exception as e:
                log.warning("dialer: the compliance windows of %s not read (%s): counting on", c.name, e)
                now_since = b.since
                b.since = Tally(
                    since.live + now_since.live,
                    since.abandons + now_since.abandons,
                    since.machines + now_since.machines,
                )
        r = self.routing.router
        idle, wraps, talks = 0, [], []
        for v in r.agents():
            if c.queue not in r.queues_of(v.agent) or not self._works_for(c, v.agent):
                continue
            if v.state is AgentState.AVAILABLE and v.reserved_for is None:
                idle += 1
            elif v.state is AgentState.WRAP_UP:
                ends = r.wrapup_ends(v.agent)
                if ends != math.inf:  # awaiting a disposition: not known to come free
                    wraps.append(max(0.0, ends - now))
            elif v.state is AgentState.ON_CALL:
                talks.append(max(0.0, now - v.since))
            elif v.state in (AgentState.RINGING, AgentState.RESERVED):
                talks.append(0.0)  # about to talk
        mine = [a for a in self.attempts.values() if a.campaign is c]
        ringing = tuple(
            max(0.0, now - a.dialled_at)
            for a in mine
            if a.state in (State.ORIGINATING, State.RINGING, State.ANSWERED)
        )
        waiting = sum(1 for a in mine if a.state is State.LIVE)
        policy = r.policies.get(c.queue)
        wrap = policy.wrapup_seconds if policy is not None else 0.0
        state = DialerState(idle, tuple(wraps), tuple(talks), ringing, waiting, wrap)
        return PaceView(now, _hour(self.clock()), state, b.budgets(), free_lines)

    async def originate(
        self, c: CampaignConfig, lead: Lead, server: str, preview: Preview | None = None
    ) -> Attempt:
        """Dial ``lead``: into ``[dialer] context`` (AMD), or for a preview straight to its agent."""
        channel_id = str(uuid.uuid4())
        a = Attempt(c, lead, server, channel_id, preview=preview, dialled_at=self.routing.now())
        self.attempts[channel_id] = a
        self._move(a, Ev.SEND, self.routing.now())
        context, exten = self.cfg.context, "s"
        if preview is not None:
            preview.attempt = a
            known = self.routing.servers.get(server)
            context = known.agent_context if known is not None else "deliver"
            exten = self.routing.extension(preview.agent) or ""
            self._publish_lead(a, self.routing.now())  # the pop of the agent's ring has the lead
        action = {
            "Action": "Originate",
            "Channel": c.channel.format(number=lead.number.lstrip("+"), e164=lead.number),
            "Context": context,
            "Exten": exten,
            "Priority": "1",
            "Async": "true",
            "Timeout": str(int(c.ring_timeout * 1000)),
            "ChannelId": channel_id,
            "OtherChannelId": f"{channel_id}-2",
            "Variable": f"CTI_CAMPAIGN={c.name},CTI_LEAD={lead.lead_id}",
        }
        if c.caller_id:
            action["CallerID"] = c.caller_id
        link = self.routing.links(server)
        self.stats.originated += 1
        try:
            if link is None:
                raise ConnectionError("no AMI link")
            async with asyncio.timeout(self.routing.action_timeout):
                ok, message = reply_ok(await link.send_action(action))
        except Exception as e:  # it may have run: unknown, never sent again
            log.warning("dialer: Originate of lead %d: reply lost (%s): outcome unknown", lead.lead_id, e)
            if self._move(a, Ev.LINK_LOST, self.routing.now()):
                self.stats.unknown += 1
            return a
        if ok:
            self._move(a, Ev.ACCEPTED, self.routing.now())
        else:
            log.warning("dialer: Originate of lead %d refused: %s", lead.lead_id, message)
            self._move(a, Ev.REFUSED, self.routing.now(), "failed")
        return a

    # ---- preview (mode = "preview") ------------------------------------------------------------------
    async def _offer_previews(self, c: CampaignConfig) -> None:
        now = self.routing.now()
        for pv in [pv for pv in self.previews.values() if pv.campaign is c and pv.attempt is None]:
            if pv.expires <= now:  # returned: the lead goes back, the agent is free
                self.stats.expired += 1
                if isinstance(self.leads, Releases):
                    self.leads.release(c.name, pv.lead.lead_id)
                self._preview_over(pv, "expired")
        if self.console is None:
            return
        r = self.routing.router
        busy = {pv.agent for pv in self.previews.values()}
        for view in r.agents():
            if (
                view.state is not AgentState.AVAILABLE
                or view.reserved_for is not None
                or view.agent in busy
                or c.queue not in r.queues_of(view.agent)
                or self.routing.extension(view.agent) is None
                or not self._works_for(c, view.agent)
                or not self.console.online(view.agent)  # no console open: nobody would see the card
            ):
                continue
            try:
                leads = await self.leads.next_leads(c.name, 1, self.clock())
            except Exception as e:
                log.warning("dialer: no leads for %s: %s", c.name, e)
                return
            if not leads:
                return
            expires = self.routing.now() + self.cfg.preview_seconds
            pv = Preview(uuid.uuid4().hex, c, leads[0], view.agent, expires)
            self.previews[pv.id] = pv
            r.block(view.agent, expires)  # reserved: the router offers it no inbound call meanwhile
            self.stats.previews += 1
            lead = pv.lead
            card = protocol.preview_card(
                pv.id,
                pv.agent,
                c.name,
                lead.lead_id,
                lead.name,
                lead.number,
                lead.script or c.script,
                expires,
            )
            self.console.push(card, pv.agent)

    def _preview_of(self, agent: AgentId, preview: str) -> Preview:
        pv = self.previews.get(preview)
        if pv is None or pv.agent != agent:
            raise ValueError("no_preview", "no such preview card for you (returned or answered)")
        if pv.attempt is not None:
            raise ValueError("already_dialled", "this preview's lead is being dialled")
        return pv

    async def preview_dial(self, agent: AgentId, preview: str) -> dict[str, Any]:
        """The agent dials the card's lead: the customer is originated and connected to the agent."""
        pv = self._preview_of(agent, preview)
        server = self.routing.local_server()
        if server is None or self.routing.extension(agent) is None:
            raise ValueError("no_server", "no Asterisk link or no extension for this agent")
        c = pv.campaign
        self.routing.router.block(agent, self.routing.now() + c.ring_timeout + 10.0)  # while it rings
        a = await self.originate(c, pv.lead, server, pv)
        if a.state is State.FAILED:
            raise ValueError("ami_refused", "Asterisk refused the Originate")
        if self.console is not None:  # the card gives way to the call card (the pop of the agent's ring)
            self.console.push(protocol.preview_over(pv.id, agent, "dialled"), agent)
        return {"preview": pv.id, "channel_id": a.channel_id, "number": pv.lead.number}

    async def preview_skip(self, agent: AgentId, preview: str) -> dict[str, Any]:
        """The agent skips the card's lead: recorded ``skipped``, the next lead is offered."""
        pv = self._preview_of(agent, preview)
        self.stats.skipped += 1
        at = self.routing.now()
        rec = AttemptRecord(pv.campaign.name, pv.lead.lead_id, pv.lead.number, "skipped", at, "", agent)
        self._spawn(self._store(rec))
        self._preview_over(pv, "skipped")
        return {"preview": pv.id, "lead": pv.lead.lead_id}

    def _adopt(self, a: Attempt, at: float) -> None:
        """A preview's customer answered: the call rings the agent from the deliver context, a held call
        being delivered to that agent (as a callback's: RoutingService.adopt)."""
        assert a.preview is not None
        lid = a.linkedid or a.channel_id
        self.routing.adopt(a.server, a.channel_id, lid, a.lead.number, a.campaign.queue, at, a.preview.agent)

    def _preview_over(self, pv: Preview, outcome: str, *, unblock: bool = True) -> None:
        if self.previews.pop(pv.id, None) is None:
            return
        if unblock:
            with contextlib.suppress(KeyError):
                self.routing.router.block(pv.agent, 0.0)
        if outcome and self.console is not None:
            self.console.push(protocol.preview_over(pv.id, pv.agent, outcome), pv.agent)
        self._wake.set()

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def collect(self) -> Iterable[Metric]:
        st = self.stats
        yield counter("dialer_originated_total", "outbound attempts originated", st.originated)
        yield counter("dialer_answered_total", "outbound attempts answered", st.answered)
        yield counter("dialer_connected_total", "live answers that reached an agent", st.connected)
        yield counter("dialer_abandoned_total", "live answers dropped with the message", st.abandoned)
        yield counter("dialer_machines_total", "answering machines detected", st.machines)
        yield counter("dialer_failed_total", "busy, no answer, congestion, refused", st.failed)
        yield counter("dialer_unknown_total", "attempts whose outcome a lost link hid", st.unknown)
        yield gauge("dialer_attempts_open", "attempts under way", len(self.attempts))
        if isinstance(self.leads, StoreLeads):  # the hoppers: leads held ahead, callable left, the alarm
            yield from self.leads.collect()
