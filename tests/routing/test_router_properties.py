"""The router's "Must show" properties (issue #10), driven by random sequences of operations.

``RouterMachine`` plays a daemon: calls arrive and leave, agents log in, pause, take and miss calls,
time passes. After every step it checks what the router did against the rules restated in
``tests.routing.oracle`` and a small model of its own (who talks on which call, the misses in a row,
the wrap-ups). ``test_no_starvation_*`` drives a steady load through an escalating queue.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cti.core.events import AgentState
from cti.core.ids import AgentId
from cti.routing.agents import TRANSITIONS
from cti.routing.policy import Escalation, QueuePolicy, Requirements, Selection, SkillNeed
from cti.routing.router import (
    AgentAutoPaused,
    AgentMoved,
    CallStatus,
    Offer,
    ReservationExpired,
    RingMissed,
    Router,
    RoutingEvent,
    WaitingView,
)
from tests.routing.oracle import admits, eligible, steps_in_force

S = AgentState
# No HYPOTHESIS profile is registered in the repo (tests/conftest.py is shared): deterministic and
# small enough for CI here; a `ci`/`fuzz` profile would raise max_examples.
MACHINE_SETTINGS = settings(
    derandomize=True,
    max_examples=400,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

AGENTS = [AgentId(f"a{i}") for i in range(3)]
EXTRA = {8: "sales:6", 9: "vip:1", 10: "fr", 11: "gold"}
PREFERRED: dict[int, tuple[AgentId, ...]] = {6: (AgentId("a0"),), 7: (AgentId("a1"), AgentId("a2"))}
PROFILES: list[dict[str, int]] = [
    {"sales": 7, "support": 1},
    {"sales": 5, "support": 2},
    {"sales": 8, "support": 2, "general": 1},
    {"general": 1, "support": 1, "sales": 3},
    {"support": 4, "lang_fr": 2, "sales": 6},
    {"sales": 5, "lang_fr": 5, "vip": 1, "support": 1},
    {"support": 1, "sales": 9, "lang_fr": 9, "vip": 3},
    {"sales": 6},
]


def policies() -> dict[str, QueuePolicy]:
    sales = QueuePolicy(
        "sales",
        skills=(SkillNeed("sales", 5),),
        escalation=(
            Escalation(20, min_level=2),
            Escalation(40, add_agents_with=("general",), priority=1),
            Escalation(60, overflow_to="support"),
        ),
        reservation_timeout=5,
        ring_timeout=15,
        miss_retry=30,
        max_misses=2,
        wrapup_seconds=10,
        tier_priority={"gold": 2},
        tier_skills={"gold": SkillNeed("vip", 1)},
        members=frozenset(AGENTS[:2]),
    )
    support = QueuePolicy(
        "support",
        skills=(SkillNeed("support", 1),),
        selection=Selection.FEWEST_CALLS,
        escalation=(Escalation(30, drop=("lang_fr",)),),
        relationship_seconds=15,
        need_disposition=True,
        wrapup_seconds=30,
        max_misses=3,
        reservation_timeout=4,
        ring_timeout=10,
    )
    return {"sales": sales, "support": support}


@dataclass
class Entered:
    queue: str
    entered: float
    n: int  # the order of enqueueing
    priority: int
    preferred: tuple[AgentId, ...]


class RouterMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.policies = policies()
        self.router = Router(self.policies)
        self.now = 0.0
        self.n = 0
        self.entered: dict[str, Entered] = {}
        self.offers: dict[str, Offer] = {}  # the call's latest offer
        self.talking: dict[AgentId, str] = {}  # answered ACD calls not yet over
        self.in_a_row: dict[AgentId, int] = dict.fromkeys(AGENTS, 0)
        self.wrap: dict[AgentId, tuple[float, bool]] = {}  # agent -> (until, awaiting a disposition)
        self.observing = False

    # ---- setup -------------------------------------------------------------------------------------
    @initialize(
        profiles=st.lists(st.sampled_from(range(len(PROFILES))), min_size=3, max_size=3),
        logged_in=st.lists(st.booleans(), min_size=3, max_size=3),
    )
    def agents(self, profiles: list[int], logged_in: list[bool]) -> None:
        for agent, p, on in zip(AGENTS, profiles, logged_in, strict=True):
            self.router.set_agent(agent, PROFILES[p], 0.0)
            if on:
                self.observe(agent, S.AVAILABLE)

    def views(self) -> list[WaitingView]:
        return self.router.waiting(self.now)

    def pick(self, i: int, statuses: tuple[CallStatus, ...]) -> WaitingView | None:
        views = [v for v in self.views() if v.status in statuses]
        return views[i % len(views)] if views else None

    def observe(self, agent: AgentId, state: AgentState, reason: str = "") -> None:
        self.observing = True
        try:
            self.router.observe(agent, state, self.now, reason)
            self.check_events(self.router.drain())
        finally:
            self.observing = False
        if agent in self.talking and state is not S.ON_CALL:
            del self.talking[agent]

    # ---- calls -------------------------------------------------------------------------------------
    @rule(
        queue=st.sampled_from(["sales", "support"]),
        extra=st.integers(0, 11),
        urgent=st.integers(0, 3),
        prefer=st.integers(0, 7),
    )
    def enqueue(self, queue: str, extra: int, urgent: int, prefer: int) -> None:
        """Mostly plain calls (alike: FIFO applies); some need more, are urgent, or have an owner."""
        need = EXTRA.get(extra)
        skills = (SkillNeed.parse(need),) if need in ("sales:6", "vip:1") else ()
        language = "fr" if need == "fr" else None
        tier = "gold" if need == "gold" else None
        priority = 1 if urgent == 3 else 0
        preferred = PREFERRED.get(prefer, ())
        self.n += 1
        call = f"c{self.n}"
        wc = self.router.enqueue(
            call,
            queue,
            self.now,
            needs=Requirements(skills, language, tier, priority),
            preferred=preferred,
        )
        self.entered[call] = Entered(queue, self.now, self.n, wc.priority, preferred)
        self.decide()

    @rule(i=st.integers(0, 20))
    def cancel(self, i: int) -> None:
        v = self.pick(i, (CallStatus.WAITING, CallStatus.OFFERED, CallStatus.RINGING))
        if v is not None:
            assert self.router.cancel(v.call, self.now) is not None
        self.decide()

    @rule(i=st.integers(0, 20))
    def ring(self, i: int) -> None:
        v = self.pick(i, (CallStatus.OFFERED,))
        if v is not None and v.agent is not None:
            assert self.router.ringing(v.call, v.agent, self.now)
        self.decide()

    @rule(i=st.integers(0, 20))
    def answer(self, i: int) -> None:
        v = self.pick(i, (CallStatus.OFFERED, CallStatus.RINGING))
        if v is not None and v.agent is not None:
            assert self.router.answered(v.call, v.agent, self.now)
            self.talking[v.agent] = v.call
            self.in_a_row[v.agent] = 0
            self.wrap.pop(v.agent, None)
        self.decide()

    @rule(i=st.integers(0, 20))
    def miss(self, i: int) -> None:
        v = self.pick(i, (CallStatus.OFFERED, CallStatus.RINGING))
        if v is not None and v.agent is not None:
            assert self.router.missed(v.call, v.agent, self.now)
        self.decide()

    @rule(i=st.integers(0, 20))
    def fail(self, i: int) -> None:
        v = self.pick(i, (CallStatus.OFFERED,))
        if v is not None and v.agent is not None:
            assert self.router.failed(v.call, v.agent, self.now)
        self.decide()

    # ---- agents ------------------------------------------------------------------------------------
    @rule(agent=st.sampled_from(AGENTS))
    def hang_up(self, agent: AgentId) -> None:
        """The agent's ACD call ends: Asterisk shows it available, cti holds it in wrap-up."""
        call = self.talking.get(agent)
        if call is not None:
            policy = self.policies[self.entered[call].queue]
            self.observe(agent, S.AVAILABLE)
            self.wrap[agent] = (self.now + policy.wrapup_seconds, policy.need_disposition)
        self.decide()

    @rule(
        agent=st.sampled_from(AGENTS),
        state=st.sampled_from(
            [S.AVAILABLE, S.AVAILABLE, S.PAUSED, S.LOGGED_OUT, S.RINGING, S.ON_CALL, S.WRAP_UP]
        ),
    )
    def asterisk_says(self, agent: AgentId, state: AgentState) -> None:
        """Anything Asterisk may show: a login, a pause, a logout, a direct call ringing or answered, or
        app_queue's own wrap-up."""
        if agent not in self.talking or state is S.ON_CALL:  # the end of an ACD call is hang_up
            self.observe(agent, state, "lunch" if state is S.PAUSED else "")
            self.wrap.pop(agent, None)
        self.decide()

    @rule(agent=st.sampled_from(AGENTS))
    def brief_pause(self, agent: AgentId) -> None:
        """The agent pauses and is back at once (a pause ends a reservation: agents rule 4)."""
        if agent not in self.talking:
            self.observe(agent, S.PAUSED, "coffee")
            self.observe(agent, S.AVAILABLE)
            self.wrap.pop(agent, None)
        self.decide()

    @rule(agent=st.sampled_from(AGENTS))
    def cti_pause(self, agent: AgentId) -> None:
        self.router.pause(agent, self.now, "break")
        self.decide()

    @rule(agent=st.sampled_from(AGENTS))
    def disposition(self, agent: AgentId) -> None:
        self.router.disposition_filed(agent, self.now)
        if agent in self.wrap:
            self.wrap[agent] = (self.wrap[agent][0], False)
        self.decide()

    @rule(agent=st.sampled_from(AGENTS))
    def end_wrapup(self, agent: AgentId) -> None:
        if self.router.end_wrapup(agent, self.now):
            assert self.router.state(agent) is not S.WRAP_UP
            self.wrap.pop(agent, None)
        self.decide()

    # ---- time and decisions ------------------------------------------------------------------------
    @rule(dt=st.sampled_from([1.0, 3.0, 4.0, 6.0, 11.0, 16.0, 25.0]))
    def tick(self, dt: float) -> None:
        self.now += dt
        self.decide()

    def decide(self) -> None:
        """What the daemon does after every change (and as time passes)."""
        self.router.advance(self.now)
        self.check_events(self.router.drain())
        before = self.views()
        states = {a: self.router.state(a) for a in AGENTS}
        offers = self.router.decide(self.now)
        self.check_offers(before, states, offers)
        for o in offers:
            self.offers[o.call] = o
        self.check_timers()

    def check_offers(
        self, before: list[WaitingView], states: dict[AgentId, AgentState], offers: list[Offer]
    ) -> None:
        busy = self.attached()
        after = {v.call: v for v in self.views()}
        offered = {o.agent for o in offers}
        assert len(offered) == len(offers), f"one agent offered twice in one decision: {offers}"
        for o in offers:
            # never two calls to one agent; only an AVAILABLE agent is offered
            assert states[o.agent] is S.AVAILABLE, f"{o} to an agent that was {states[o.agent]}"
            assert busy[o.agent] == [o.call], f"{o.agent} holds {busy[o.agent]}"
            assert self.router.state(o.agent) is S.RESERVED
            assert o.expires == o.at + self.policies[o.queue].reservation_timeout
            # never an agent without a required skill unless an escalation step allowed it
            wc = self.router.call(o.call)
            assert wc is not None
            skills = self.router.skills(o.agent)
            assert o.step == -1 or self.policies[o.queue].escalation[o.step].after <= o.waited
            assert admits(self.policies, o.queue, wc.needs, o.step, o.agent, skills), (
                f"{o}: step {o.step} does not admit {o.agent} {skills} for {wc.needs}"
            )
        for o in offers:
            y = self.entered[o.call]
            for x in before:
                ex = self.entered[x.call]
                if not self.fifo_peers(x, o, ex, y):
                    continue
                skills = self.router.skills(o.agent)
                if eligible(self.policies, x.queue, x.needs, self.now - ex.entered, o.agent, skills):
                    raise AssertionError(f"FIFO: {o.call} offered to {o.agent} before {x.call}")
        # work conservation: no call goes on waiting while an agent free before, that could take it, is left
        for v in before:
            if v.status is not CallStatus.WAITING or after[v.call].status is not CallStatus.WAITING:
                continue
            for agent in self.could_take(v, states):
                assert agent in offered, f"{v.call} waits while {agent} stays free"

    def fifo_peers(self, x: WaitingView, o: Offer, ex: Entered, y: Entered) -> bool:
        """x entered before the call of ``o`` (or with it, enqueued first), alike (queue, needs, priority),
        neither has preferences or misses, and x is still waiting."""
        wx, wy = self.router.call(x.call), self.router.call(o.call)
        return (
            wx is not None
            and wy is not None
            and wx.status is CallStatus.WAITING
            and x.queue == y.queue
            and x.needs == wy.needs
            and x.priority == y.priority
            and (ex.entered, ex.n) < (y.entered, y.n)
            and not ex.preferred
            and not y.preferred
            and not wx.misses
            and not wy.misses
        )

    def could_take(self, v: WaitingView, states: dict[AgentId, AgentState]) -> list[AgentId]:
        """The agents free before the decision that rules 2 and 3 make eligible for the waiting call."""
        e = self.entered[v.call]
        wc = self.router.call(v.call)
        assert wc is not None
        pool = [a for a in AGENTS if states[a] is S.AVAILABLE]
        prefer_until = e.entered + self.policies[e.queue].relationship_seconds
        logged_in = [a for a in e.preferred if states[a] is not S.LOGGED_OUT]
        if self.now < prefer_until and logged_in:
            pool = [a for a in pool if a in logged_in]
        return [
            a
            for a in pool
            if wc.misses.get(a, 0.0) <= self.now
            and eligible(self.policies, e.queue, v.needs, self.now - e.entered, a, self.router.skills(a))
        ]

    def check_timers(self) -> None:
        """After time passed: reservations and rings within their deadline; wrap-ups held and ended."""
        for v in self.views():
            wc = self.router.call(v.call)
            assert wc is not None
            if v.status is CallStatus.OFFERED:
                assert wc.deadline == self.offers[v.call].expires > self.now
            if v.status is CallStatus.RINGING:
                assert wc.deadline > self.now
        for agent, (until, awaiting) in self.wrap.items():
            state = self.router.state(agent)
            if awaiting or self.now < until:
                assert state is S.WRAP_UP, f"{agent} is {state} in its wrap-up (until {until}, {awaiting})"
            else:
                assert state is not S.WRAP_UP, f"{agent}: wrap-up until {until} not over at {self.now}"

    # ---- what every step must keep -----------------------------------------------------------------
    def check_events(self, events: list[RoutingEvent]) -> None:
        paused: set[AgentId] = set()
        for e in events:
            if isinstance(e, AgentMoved):
                t = e.transition
                if t.forced:
                    assert self.observing, f"forced transition outside observe: {t}"
                else:
                    assert t.old is t.new or t.new in TRANSITIONS[t.old], t
            elif isinstance(e, RingMissed):
                self.in_a_row[e.agent] += 1
                assert e.in_a_row == self.in_a_row[e.agent]
                limit = self.policies[self.entered[e.call].queue].max_misses
                if limit and self.in_a_row[e.agent] >= limit:
                    paused.add(e.agent)
            elif isinstance(e, AgentAutoPaused):
                assert e.agent in paused, f"auto-paused without {e.misses} misses in a row"
                paused.discard(e.agent)
                self.in_a_row[e.agent] = 0
                state = self.router.state(e.agent)
                if state not in (S.RINGING, S.ON_CALL, S.WRAP_UP, S.LOGGED_OUT):
                    assert state is S.PAUSED
                    assert self.router.agents()[AGENTS.index(e.agent)].reason == e.reason
            elif isinstance(e, ReservationExpired):
                assert e.at >= self.offers[e.call].expires
        assert not paused, f"not auto-paused after the misses in a row: {paused}"

    def attached(self) -> dict[AgentId, list[str]]:
        """The routed calls each agent is reserved for, rings for or talks on."""
        busy: dict[AgentId, list[str]] = {a: [] for a in AGENTS}
        for v in self.views():
            if v.agent is not None:
                busy[v.agent].append(v.call)
        for agent, call in self.talking.items():
            busy[agent].append(call)
        return busy

    @invariant()
    def events_are_lawful(self) -> None:
        self.check_events(self.router.drain())

    @invariant()
    def never_two_calls_to_one_agent(self) -> None:
        for agent, calls in self.attached().items():
            assert len(calls) <= 1, f"{agent} holds {calls}"

    @invariant()
    def calls_keep_their_place(self) -> None:
        """The order is priority (raised by escalation), then entry, then arrival: a miss, a failure, an
        expiry change nothing."""
        order = [v.call for v in self.views()]

        def place(call: str) -> tuple[int, float, int]:
            e = self.entered[call]
            steps = self.policies[e.queue].escalation[
                : steps_in_force(self.policies[e.queue], self.now - e.entered)
            ]
            return (-(e.priority + sum(s.priority for s in steps)), e.entered, e.n)

        model = sorted(order, key=place)
        assert order == model
        for v in self.views():
            wc = self.router.call(v.call)
            assert wc is not None and wc.entered == self.entered[v.call].entered


TestRouterMachine = RouterMachine.TestCase
TestRouterMachine.settings = MACHINE_SETTINGS


# ---- no starvation under sustained load ----------------------------------------------------------------
@dataclass(frozen=True)
class Load:
    generalists: int
    interval: int  # seconds between two arrivals, at least
    service: int  # seconds of talk, at most
    specialist_every: int  # a specialist logs in for one call every this many seconds (0: never)


@st.composite
def loads(draw: st.DrawFn) -> Load:
    n = draw(st.integers(2, 5))
    interval = draw(st.integers(2, 10))
    # the bound below needs (n - 1) * interval >= service: a free generalist whenever a call escalates
    service = draw(st.integers(1, (n - 1) * interval))
    return Load(n, interval, service, draw(st.sampled_from([0, 0, 7, 13])))


AFTER = 30.0  # the escalation step: generalists, or any level of the skill


@pytest.mark.parametrize(
    "step",
    [Escalation(AFTER, add_agents_with=("general",)), Escalation(AFTER, min_level=1)],
    ids=["generalists", "min_level_1"],
)
@settings(derandomize=True, max_examples=60, deadline=None)
@given(load=loads(), gaps=st.lists(st.integers(0, 3), min_size=60, max_size=60))
def test_no_starvation_once_escalation_applies(step: Escalation, load: Load, gaps: list[int]) -> None:
    """Every call is offered within AFTER + 1 seconds (decisions every second).

    Bound: calls become eligible for a generalist AFTER seconds after they enter, so in the order they
    entered and at least ``interval`` apart. A call that starts at its eligible time frees its agent
    ``service`` seconds later; with ``(generalists - 1) * interval >= service`` at most
    ``generalists - 1`` of them are talking when the next call escalates, so one is free (induction on
    the calls). Decisions every second add one second. Specialists only ever help."""
    queue = QueuePolicy(
        "q", skills=(SkillNeed("rare", 8),), escalation=(step,), reservation_timeout=5, wrapup_seconds=0
    )
    router = Router({"q": queue})
    generalists = [AgentId(f"g{i}") for i in range(load.generalists)]
    for g in generalists:
        router.set_agent(g, {"general": 1, "rare": 2})
        router.observe(g, S.AVAILABLE, 0.0)
    router.set_agent(AgentId("spec"), {"rare": 9})
    arrivals, t = [], 0
    for gap in gaps:
        arrivals.append(t)
        t += load.interval + gap
    ends: dict[AgentId, int] = {}
    entered: dict[str, int] = {}
    offered: dict[str, float] = {}
    for now in range(arrivals[-1] + int(AFTER) + 60):
        for agent, end in list(ends.items()):
            if end <= now:
                router.observe(agent, S.AVAILABLE if agent in generalists else S.LOGGED_OUT, now)
                del ends[agent]
        if load.specialist_every and now % load.specialist_every == 0 and AgentId("spec") not in ends:
            router.observe(AgentId("spec"), S.AVAILABLE, now)
        for i, at in enumerate(arrivals):
            if at == now:
                entered[f"c{i}"] = now
                router.enqueue(f"c{i}", "q", now)
        for o in router.decide(now):
            offered[o.call] = o.waited
            assert router.ringing(o.call, o.agent, now) and router.answered(o.call, o.agent, now)
            router.observe(o.agent, S.ON_CALL, now)
            ends[o.agent] = now + max(1, load.service - (now % 2))
        for call, at in entered.items():
            assert call in offered or now - at <= AFTER + 1, f"{call} starves: waited {now - at}s"
    assert len(offered) == len(arrivals)
    assert max(offered.values()) <= AFTER + 1
