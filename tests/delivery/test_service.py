"""The routing service's edge behaviour: which queue, which Redirect, and every failure of delivery.

Domain events are fed as the tracker would publish them; the AMI link is a fake that records actions and
answers as Asterisk does (or drops the link). The end-to-end flow over real sockets is in
tests/e2e/test_cti_routing.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cti.asterisk.ami import Message
from cti.asterisk.client import ActionLost
from cti.config import AsteriskConfig, RoutingConfig, RoutingQueueConfig
from cti.core.events import (
    AgentRinging,
    AgentRingNoAnswer,
    AgentState,
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallerInfo,
    CallWaiting,
    DomainEvent,
    Resynced,
    RoutedAgentState,
    UserEventRaised,
)
from cti.core.ids import AgentId, LinkedId, QueueName, UniqueId
from cti.core.journey import CallJourney, Direction
from cti.delivery.queue_log import QueueLogWriter
from cti.delivery.service import AgentSeat, RoutingService, call_id
from cti.routing.router import Router
from cti.screenpop.directory import CallerCard

S = AgentState


class FakeLink:
    """Answers actions as Asterisk would: Success, an Error with a message, or the link drops."""

    def __init__(self) -> None:
        self.actions: list[dict[str, str]] = []
        self.error: str | None = None
        self.lose = False

    async def send_action(self, action: dict[str, str]) -> Message:
        self.actions.append(dict(action))
        if self.lose:
            raise ActionLost(action["Action"])
        if self.error is not None:
            return Message([("Response", "Error"), ("Message", self.error)])
        return Message([("Response", "Success"), ("Message", "Redirect successful")])

    def sent(self, name: str) -> list[dict[str, str]]:
        return [a for a in self.actions if a["Action"] == name]


class FakeCards:
    """The caller directory: cards given by the test, answered at once or never."""

    def __init__(self, cards: dict[str, dict[str, Any]] | None = None, *, answer: bool = True) -> None:
        self.cards = cards or {}
        self.answer = answer
        self.asked: list[str] = []

    def cached(self, number: str) -> CallerCard | None:
        return None

    def request(self, number: str, done: Any) -> None:
        self.asked.append(number)
        if self.answer:
            done(CallerCard("found", self.cards.get(number, {"customers": []})))


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def config(**queue: Any) -> RoutingConfig:
    return RoutingConfig(
        enabled=True,
        default_queue="sales",
        dids={"8005550200": "support"},
        choices={"2": "support"},
        queues={"sales": RoutingQueueConfig(skills=["sales:5"], **queue), "support": RoutingQueueConfig()},
    )


class MemoryLeases:
    """RedisLeases' semantics in memory (SET NX PX, a fencing counter, compare-and-delete), on the test clock;
    the real one against Redis is in tests/delivery/test_instances.py."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.held: dict[str, tuple[int, float]] = {}  # name -> (token, expiry)
        self.fence = 0

    async def acquire(self, name: str, ttl: float) -> int | None:
        current = self.held.get(name)
        if current is not None and current[1] > self.clock.t:
            return None
        self.fence += 1
        self.held[name] = (self.fence, self.clock.t + ttl)
        return self.fence

    async def release(self, name: str, token: int) -> None:
        if self.held.get(name, (None, 0.0))[0] == token:
            del self.held[name]


class Harness:
    def __init__(
        self, cfg: RoutingConfig | None = None, cards: FakeCards | None = None, *, leases: bool = False
    ) -> None:
        self.cfg = cfg or config()
        self.in_hold: list[CallWaiting] = []  # what the tracker would find in the holding extension
        self.link = FakeLink()
        self.clock = Clock()
        self.leases = MemoryLeases(self.clock) if leases else None
        self.published: list[DomainEvent] = []
        self.qlog = QueueLogWriter(None)
        self.service = RoutingService(
            Router(self.cfg.policies()),
            self.cfg,
            {"pbx1": AsteriskConfig(name="pbx1")},
            lambda server: self.link if server == "pbx1" else None,
            self.published.extend,
            cards=cards,
            queue_log=self.qlog,
            clock=self.clock,
            held=lambda server: list(self.in_hold),
            leases=self.leases,
        )
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Harness:
        self.task = asyncio.create_task(self.service.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    def feed(self, *events: DomainEvent) -> None:
        self.service.on_events(events)

    def agent(self, name: str, ext: str, skills: dict[str, int], state: AgentState = S.AVAILABLE) -> None:
        self.service.set_seat(AgentSeat(AgentId(name), ext, skills, name.lower()))
        self.feed(state_event(name, ext, state, self.clock.t))

    def hold(self, uid: str, number: str = "13800138000", did: str = "", choice: str = "") -> None:
        self.feed(waiting(uid, self.clock.t, number, did, choice))

    async def settle(self) -> None:
        for _ in range(20):
            await asyncio.sleep(0)

    def events(self) -> list[str]:
        assert self.qlog.lines is not None
        return [line.split("|")[4] for line in self.qlog.lines]


def waiting(uid: str, at: float, number: str = "13800138000", did: str = "", choice: str = "") -> CallWaiting:
    return CallWaiting(
        at,
        "pbx1",
        LinkedId(uid),
        UniqueId(uid),
        f"Local/{number}@callers-{uid};1",
        CallerInfo(number, "Li Na"),
        did,
        choice,
    )


def state_event(name: str, ext: str, state: AgentState, at: float) -> AgentStateChanged:
    return AgentStateChanged(
        at, "pbx1", AgentId(name), f"Local/{ext}@agents/n", state, "", (QueueName("sales"),)
    )


def ring(uid: str, agent: str, at: float) -> AgentRinging:
    return AgentRinging(
        at,
        "pbx1",
        LinkedId(uid),
        UniqueId(uid),
        AgentId(agent),
        "",
        None,
        CallerInfo("13800138000", "Li Na"),
        "",
        Direction.INBOUND,
        0.0,
    )


def ended(uid: str, at: float, *, cause: int = 16) -> CallEnded:
    journey = CallJourney(LinkedId(uid), Direction.INBOUND, at - 30, ended_at=at, hangup_cause=cause)
    return CallEnded(at, "pbx1", journey)


async def test_a_held_call_goes_to_the_queue_of_its_did_then_its_choice_then_the_default() -> None:
    h = Harness()
    assert h.service.queue_for("8005550200", "") == "support"
    assert h.service.queue_for("", "2") == "support"
    assert h.service.queue_for("4155550000", "9") == "sales"
    assert h.service.queue_for("8005550200", "1") == "support"  # the DID decides first


async def test_the_redirect_names_the_callers_channel_the_deliver_context_and_the_agents_extension() -> None:
    async with Harness() as h:
        h.agent("Alice", "1001", {"sales": 8})
        h.hold("100.1")
        await h.settle()
        (redirect,) = h.link.sent("Redirect")
        assert redirect == {
            "Action": "Redirect",
            "Channel": "Local/13800138000@callers-100.1;1",
            "Context": "deliver",
            "Exten": "1001",
            "Priority": "1",
        }
        assert h.service.router.state(AgentId("Alice")) is S.RESERVED
        assert any(isinstance(e, RoutedAgentState) and e.state is S.RESERVED for e in h.published)


async def test_an_agent_without_the_level_gets_no_call_and_the_call_waits() -> None:
    async with Harness() as h:
        h.agent("Bob", "1002", {"sales": 3})
        h.hold("100.1")
        await h.settle()
        assert h.link.sent("Redirect") == []
        assert h.service.router.call(call_id("pbx1", "100.1")) is not None


async def test_a_redirect_of_a_channel_that_is_gone_ends_the_call() -> None:
    async with Harness() as h:
        h.link.error = "No such channel"
        h.agent("Alice", "1001", {"sales": 8})
        h.hold("100.1")
        await h.settle()
        assert len(h.link.sent("Redirect")) == 1
        assert h.service.router.call(call_id("pbx1", "100.1")) is None
        assert h.service.router.state(AgentId("Alice")) is S.AVAILABLE
        assert h.events() == ["ENTERQUEUE", "ABANDON"]


async def test_a_refused_redirect_puts_the_call_back_and_tries_another_agent_not_the_same_one_again() -> None:
    async with Harness() as h:
        h.link.error = "Permission denied"
        h.agent("Alice", "1001", {"sales": 8})
        h.agent("Frank", "1006", {"sales": 9, "support": 9})
        h.hold("100.1")
        await h.settle()
        exts = [a["Exten"] for a in h.link.sent("Redirect")]
        assert exts[:2] == ["1001", "1006"], exts  # best fit first, then the other one: no loop on Alice
        wc = h.service.router.call(call_id("pbx1", "100.1"))
        assert wc is not None and wc.entered == 1000.0  # its place is kept


async def test_a_redirect_lost_with_the_link_is_not_sent_again_by_the_link() -> None:
    async with Harness() as h:
        h.link.lose = True
        h.agent("Alice", "1001", {"sales": 8})
        h.hold("100.1")
        await h.settle()
        assert len(h.link.sent("Redirect")) == 1
        assert h.service.stats.lost == 1
        wc = h.service.router.call(call_id("pbx1", "100.1"))
        assert wc is not None and wc.status.value == "waiting"


async def test_a_ring_no_answer_offers_the_call_to_the_next_agent_and_logs_it() -> None:
    async with Harness() as h:
        h.agent("Alice", "1001", {"sales": 8})
        h.agent("Frank", "1006", {"sales": 9, "support": 9})
        h.hold("100.1")
        await h.settle()
        h.feed(ring("100.1", "Alice", 1001.0))
        h.clock.t = 1020.0
        h.feed(
            AgentRingNoAnswer(
                1020.0, "pbx1", LinkedId("100.1"), UniqueId("100.1"), AgentId("Alice"), None, 19
            )
        )
        await h.settle()
        assert [a["Exten"] for a in h.link.sent("Redirect")] == ["1001", "1006"]
        assert h.events() == ["ENTERQUEUE", "RINGNOANSWER"]
        assert h.qlog.lines is not None and h.qlog.lines[1].split("|")[3:6] == [
            "Alice",
            "RINGNOANSWER",
            "19000",
        ]


async def test_with_leases_a_ring_no_answer_frees_the_call_for_the_next_agent_at_once() -> None:
    """Not after the call's lease expires (lease_ttl, 30 s): two instances once left a call waiting that long
    with four agents free, each refused the lease the first still held."""
    async with Harness(leases=True) as h:
        h.agent("Alice", "1001", {"sales": 8})
        h.hold("100.1")
        await h.settle()
        h.feed(ring("100.1", "Alice", 1001.0))
        h.agent("Frank", "1006", {"sales": 9, "support": 9})  # free while Alice rings
        h.clock.t = 1004.0
        h.feed(
            AgentRingNoAnswer(1004.0, "pbx1", LinkedId("100.1"), UniqueId("100.1"), AgentId("Alice"), None, 3)
        )
        await h.settle()
        assert [a["Exten"] for a in h.link.sent("Redirect")] == ["1001", "1006"]
        assert h.service.stats.lease_refusals == 0


async def test_the_dialplans_delivery_failed_event_counts_as_a_ring_no_answer() -> None:
    async with Harness() as h:
        h.agent("Alice", "1001", {"sales": 8})
        h.hold("100.1")
        await h.settle()
        h.feed(ring("100.1", "Alice", 1001.0))
        failed = UserEventRaised(
            1021.0,
            "pbx1",
            "CtiDeliveryFailed",
            LinkedId("100.1"),
            UniqueId("100.1"),
            {"Uniqueid": "100.1", "Agent": "1001", "Status": "NOANSWER"},
        )
        h.feed(failed)
        assert h.service.stats.missed == 1


async def test_three_misses_in_a_row_pause_the_agent_in_asterisk_with_the_reason() -> None:
    async with Harness(config(max_misses=3, miss_retry=0)) as h:
        h.agent("Alice", "1001", {"sales": 8})
        uid = "100.1"
        h.hold(uid)
        for _ in range(3):  # she is the only one: the call comes back to her, and she lets it ring
            await h.settle()
            h.feed(ring(uid, "Alice", h.clock.t))
            h.clock.t += 20
            h.feed(
                AgentRingNoAnswer(h.clock.t, "pbx1", LinkedId(uid), UniqueId(uid), AgentId("Alice"), None, 20)
            )
            h.feed(state_event("Alice", "1001", S.AVAILABLE, h.clock.t))
            await h.settle()
        assert len(h.link.sent("Redirect")) == 3
        (pause,) = h.link.sent("QueuePause")
        assert pause == {
            "Action": "QueuePause",
            "Interface": "Local/1001@agents/n",
            "Paused": "true",
            "Reason": "ring-no-answer",
        }
        assert h.service.router.state(AgentId("Alice")) is S.PAUSED
        # Asterisk's stale "available" (sent before it applied the pause) does not unpause her
        h.feed(state_event("Alice", "1001", S.AVAILABLE, h.clock.t + 0.1))
        assert h.service.router.state(AgentId("Alice")) is S.PAUSED


async def test_an_answered_call_connects_in_the_queue_log_and_its_end_completes_it() -> None:
    async with Harness(config(wrapup_seconds=10)) as h:
        h.agent("Alice", "1001", {"sales": 8})
        h.hold("100.1")
        await h.settle()
        h.feed(ring("100.1", "Alice", 1002.0))
        h.feed(CallAnswered(1004.0, "pbx1", LinkedId("100.1"), UniqueId("100.1"), AgentId("Alice"), None, 4))
        h.feed(state_event("Alice", "1001", S.ON_CALL, 1004.0))
        h.feed(state_event("Alice", "1001", S.AVAILABLE, 1034.0), ended("100.1", 1034.0))
        assert h.events() == ["ENTERQUEUE", "CONNECT", "COMPLETEAGENT"]
        assert h.qlog.lines is not None
        assert h.qlog.lines[1].split("|")[5:] == ["4", "", "2"]  # holdtime, agent channel, ring time
        assert h.qlog.lines[2].split("|")[5:] == ["4", "30", "1"]  # holdtime, calltime, origposition
        # cti's wrap-up: ten seconds after the call, nothing is offered to her
        assert h.service.router.state(AgentId("Alice")) is S.WRAP_UP


async def test_the_customers_owner_is_offered_the_call_first() -> None:
    cards = FakeCards({"13800138000": {"customers": [{"tier": "A", "owner": "frank", "interactions": []}]}})
    async with Harness(config(relationship_seconds=30), cards) as h:
        h.agent("Alice", "1001", {"sales": 8})
        h.agent("Frank", "1006", {"sales": 9, "support": 9})
        h.hold("100.1")
        await h.settle()
        assert [a["Exten"] for a in h.link.sent("Redirect")] == ["1006"]


async def test_a_slow_crm_lookup_costs_the_call_no_place() -> None:
    async with Harness(config(), FakeCards(answer=False)) as h:
        h.agent("Bob", "1002", {"sales": 3})  # nobody can take it: it waits
        h.hold("100.1")
        await h.settle()
        assert h.service.router.call(call_id("pbx1", "100.1")) is None  # waiting for the CRM
        h.clock.t += 1.0  # past lookup_timeout (0.5 s)
        h.service._wake.set()
        await asyncio.sleep(0.05)
        wc = h.service.router.call(call_id("pbx1", "100.1"))
        assert wc is not None and wc.entered == 1000.0


@pytest.mark.parametrize("bad", ["sales:11", "Sales", "sales:x"])
def test_a_bad_skill_in_the_routing_config_names_the_key(bad: str) -> None:
    from cti.config import parse_config
    from cti.core.errors import ConfigError

    text = f'[routing]\nenabled = true\n[routing.queues.sales]\nskills = ["{bad}"]\n'
    with pytest.raises(ConfigError, match=r"routing\.queues\.sales\.skills"):
        parse_config(text, "cti.toml")


async def test_a_call_that_reached_the_holding_extension_during_an_ami_gap_is_routed_after_the_resync() -> (
    None
):
    async with Harness() as h:
        h.agent("Alice", "1001", {"sales": 8})
        h.agent("Bob", "1002", {"sales": 8})
        h.hold("100.1")  # seen live, and ringing Alice
        await h.settle()
        h.feed(ring("100.1", "Alice", 1001.0))
        h.in_hold = [waiting("100.1", 1000.0), waiting("100.2", 990.0)]  # 100.2's CtiWaiting was in the gap
        h.clock.t = 1010.0
        h.feed(Resynced(1010.0, "pbx1", "reconnect", 2, 2))
        await h.settle()
        channels = [a["Channel"] for a in h.link.sent("Redirect")]
        assert channels == ["Local/13800138000@callers-100.1;1", "Local/13800138000@callers-100.2;1"]
        wc = h.service.router.call(call_id("pbx1", "100.2"))
        assert wc is not None and wc.entered == 990.0  # its place: when its call began
        h.feed(Resynced(1011.0, "pbx1", "reconnect", 2, 2))  # found again: not queued twice
        assert h.events().count("ENTERQUEUE") == 2
