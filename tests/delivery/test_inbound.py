"""Held calls routed by the inbound rules with what the CRM knows, closed hours in Asterisk, and the
estimated wait the service gives (cti/delivery/service.py, cti/delivery/inbound.py)."""

from __future__ import annotations

import math

from cti.config import RoutingConfig, RoutingQueueConfig, RuleConfig, ScheduleConfig
from cti.core.events import AgentState, CallAnswered
from cti.core.ids import AgentId, LinkedId, UniqueId
from cti.delivery.inbound import caller_facts
from cti.delivery.service import call_id
from cti.routing.rules import CallerFacts
from cti.screenpop.directory import CallerCard
from tests.delivery.test_service import FakeCards, Harness, ended, ring

S = AgentState
NUMBER = "13800138000"


def rules_config() -> RoutingConfig:
    # the harness's clock (t = 1000: Thursday 1 January 1970, 00:16 UTC) is outside "night-shift"
    return RoutingConfig(
        enabled=True,
        default_queue="sales",
        queues={
            "sales": RoutingQueueConfig(skills=["sales:5"]),
            "complaints": RoutingQueueConfig(skills=["complaints:1"]),
            "closed-line": RoutingQueueConfig(),
        },
        schedules={"night-shift": ScheduleConfig(timezone="UTC", hours={"thu": ["00:00-00:10"]})},
        rules=[
            RuleConfig(name="complaint", complaint=True, queue="complaints", skills=["complaints:3"]),
            RuleConfig(name="vip", tiers=["A"], queue="sales", priority=10),
            RuleConfig(
                name="after hours",
                dids=["300"],
                queue="closed-line",
                schedule="night-shift",
                closed="message",
                closed_target="closed-msg",
            ),
        ],
    )


def card(**customer: object) -> dict[str, object]:
    return {"customers": [{"id": 1, **customer}]}


async def test_an_open_complaint_goes_to_the_complaints_skill() -> None:
    cards = FakeCards({NUMBER: card(tier="B", open_complaints=[{"id": 7, "kind": "complaint"}])})
    async with Harness(rules_config(), cards) as h:
        h.agent("Sales", "1001", {"sales": 9})
        h.agent("Carer", "1002", {"complaints": 4})
        h.hold("c1")
        await h.settle()
        call = h.service.router.call(call_id("pbx1", "c1"))
        assert call is None or call.queue == "complaints"
        redirects = h.link.sent("Redirect")
        assert [r["Exten"] for r in redirects] == ["1002"]
        assert h.events()[0] == "ENTERQUEUE" and "|complaints|" in h.qlog.lines[0]  # type: ignore[index]


async def test_tier_a_gets_the_rules_priority_over_an_earlier_caller() -> None:
    cards = FakeCards({"111": card(tier="C"), "222": card(tier="A")})
    async with Harness(rules_config(), cards) as h:
        h.agent("Sales", "1001", {"sales": 9}, S.ON_CALL)
        h.hold("first", number="111")
        h.clock.t += 5
        h.hold("vip", number="222")
        await h.settle()
        waiting = h.service.router.waiting(h.clock.t)
        assert [w.call for w in waiting] == [call_id("pbx1", "vip"), call_id("pbx1", "first")]
        assert waiting[0].priority == 10


async def test_closed_hours_set_the_variables_and_redirect_to_the_closed_context() -> None:
    async with Harness(rules_config(), FakeCards()) as h:
        h.agent("Sales", "1001", {"sales": 9})
        h.hold("c1", did="300")
        await h.settle()
        assert h.service.router.call(call_id("pbx1", "c1")) is None
        setvars = {a["Variable"]: a["Value"] for a in h.link.sent("Setvar")}
        assert setvars == {"CTI_CLOSED": "message", "CTI_TARGET": "closed-msg", "CTI_QUEUE": "closed-line"}
        (redirect,) = h.link.sent("Redirect")
        assert (redirect["Context"], redirect["Exten"], redirect["Priority"]) == ("closed", "message", "1")
        assert redirect["Channel"].startswith("Local/13800138000@callers-c1")


async def test_the_estimated_wait_follows_the_place_and_learns_the_handle_time() -> None:
    async with Harness(rules_config(), FakeCards()) as h:
        h.agent("Sales", "1001", {"sales": 9})
        h.hold("c1", number="")
        await h.settle()
        uid = "c1"
        h.feed(ring(uid, "Sales", h.clock.t))
        h.clock.t += 2
        h.feed(CallAnswered(h.clock.t, "pbx1", LinkedId(uid), UniqueId(uid), AgentId("Sales"), None, 2.0))
        h.feed(ended(uid, h.clock.t + 60))
        assert h.service.ewt.handle("sales") == 60.0  # talk 60 s, no wrap-up
        h.agent("Sales", "1001", {"sales": 9}, S.ON_CALL)
        h.hold("c2", number="")
        h.hold("c3", number="")
        await h.settle()
        second = h.service.estimate(call=call_id("pbx1", "c2"))
        third = h.service.estimate(call=call_id("pbx1", "c3"))
        assert (second.ahead, third.ahead, second.serving, second.free) == (0, 1, 1, 0)
        assert 0 < second.seconds < third.seconds < math.inf
        new = h.service.estimate("sales")
        assert new.ahead == 2 and new.seconds > third.seconds
        assert math.isinf(h.service.estimate("complaints").seconds)  # no agent has the skill


def test_the_card_gives_the_rules_their_facts() -> None:
    assert caller_facts(None) == CallerFacts()
    assert caller_facts(CallerCard("found", {"customers": []})) == CallerFacts()
    facts = caller_facts(CallerCard("found", card(tier="A", owner="alice", open_complaints=[{"id": 1}])))
    assert facts == CallerFacts("A", True, True)
