"""The estimated wait used, not only announced: a held call offered the callback key when its EWT at entry
is long (CTI mode and the FastAGI answer), and a call placed in its queue's overflow queue when the EWT
there is above ``overflow_if_ewt_above`` (cti/delivery/service.py, cti/delivery/inbound.py)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping

from cti.config import RoutingConfig, RoutingQueueConfig, RuleConfig, parse_config
from cti.core.events import AgentState, DomainEvent
from cti.delivery.agi import AgiServer
from cti.delivery.inbound import OFFER_EXTEN, InboundDecider
from cti.delivery.service import call_id
from cti.routing.router import Offer
from tests.delivery.test_agi import CONFIG, Waits, ask, request
from tests.delivery.test_service import FakeCards, Harness

S = AgentState


class NoCallbacks:
    """The callback service as the routing service sees it (``virtual``): callbacks are on, none exist."""

    def on_event(self, event: DomainEvent) -> bool:
        return False

    def owns(self, call: str) -> bool:
        return False

    async def deliver(self, offer: Offer) -> None:
        raise AssertionError("no callback entry exists")

    def numbers(self) -> Mapping[str, str]:
        return {}


def offering(above: float) -> RoutingConfig:
    return RoutingConfig(
        enabled=True,
        default_queue="sales",
        queues={"sales": RoutingQueueConfig(skills=["sales:5"], offer_callback_above=above)},
    )


def offers(h: Harness) -> list[tuple[str, str, str]]:
    """The callback offers sent: (channel, CTI_EWT) per Redirect to the offer extension."""
    ewt = {a["Channel"]: a["Value"] for a in h.link.sent("Setvar") if a["Variable"] == "CTI_EWT"}
    flags = {a["Channel"]: a["Value"] for a in h.link.sent("Setvar") if a["Variable"] == "CTI_OFFER_CALLBACK"}
    return [
        (r["Channel"], ewt[r["Channel"]], flags[r["Channel"]])
        for r in h.link.sent("Redirect")
        if (r["Context"], r["Exten"], r["Priority"]) == ("inbound", OFFER_EXTEN, "1")
    ]


async def test_a_long_wait_offers_the_callback_and_a_short_one_does_not() -> None:
    async with Harness(offering(200.0), FakeCards()) as h:
        h.service.virtual = NoCallbacks()
        h.agent("Sales", "1001", {"sales": 9}, S.ON_CALL)  # one agent serves sales, busy: 180 s a call
        h.hold("short")  # next in line: about 126 s, under 200
        h.hold("long", number="13900139000")  # second: about 303 s
        h.hold("withheld", number="")  # third, longer still, but nobody could call it back
        await h.settle()
        long_ewt = round(h.service.estimate(call=call_id("pbx1", "long")).seconds)
        assert round(h.service.estimate(call=call_id("pbx1", "short")).seconds) < 200 < long_ewt
        assert offers(h) == [("Local/13900139000@callers-long;1", str(long_ewt), "1")]
        assert h.service.stats.callback_offers == 1
        # only an offer: the call keeps its place in the router (the caller presses the key, or waits)
        assert [w.call for w in h.service.router.waiting(h.clock.t)] == [
            call_id("pbx1", uid) for uid in ("short", "long", "withheld")
        ]


async def test_no_offer_once_the_call_was_offered_to_an_agent() -> None:
    async with Harness(offering(100.0), FakeCards()) as h:
        h.service.virtual = NoCallbacks()
        h.agent("Sales", "1001", {"sales": 9}, S.ON_CALL)
        h.hold("c1")  # about 126 s: the offer is on its way
        h.agent("Sales", "1001", {"sales": 9}, S.AVAILABLE)  # meanwhile the agent is free
        (offer,) = h.service.router.decide(h.clock.t)  # and reserved for the call
        assert offer.call == call_id("pbx1", "c1")
        await h.settle()
        assert offers(h) == []  # no Redirect that would take the caller from the agent's phone
        assert h.service.stats.callback_offers == 1


async def test_no_offer_when_off_or_without_callbacks() -> None:
    async with Harness(offering(0.0), FakeCards()) as h:  # 0: off
        h.service.virtual = NoCallbacks()
        h.agent("Sales", "1001", {"sales": 9}, S.ON_CALL)
        for uid in ("a", "b", "c"):
            h.hold(uid)
        await h.settle()
        assert offers(h) == []
    async with Harness(offering(10.0), FakeCards()) as h:  # no callback service: the key would do nothing
        h.agent("Sales", "1001", {"sales": 9}, S.ON_CALL)
        h.hold("a")
        await h.settle()
        assert math.isfinite(h.service.estimate(call=call_id("pbx1", "a")).seconds)
        assert offers(h) == []


def overflowing() -> RoutingConfig:
    return RoutingConfig(
        enabled=True,
        queues={
            "sales": RoutingQueueConfig(
                skills=["sales:5"], overflow_if_ewt_above=400.0, overflow_to="general"
            ),
            "general": RoutingQueueConfig(),
        },
        rules=[RuleConfig(name="sales line", dids=["500"], queue="sales", priority=7)],
    )


async def test_a_call_whose_ewt_is_above_the_threshold_joins_the_overflow_queue() -> None:
    async with Harness(overflowing(), FakeCards()) as h:
        h.agent("Sales", "1001", {"sales": 9}, S.ON_CALL)
        h.agent("Gen", "1002", {}, S.ON_CALL)  # serves general only (no sales skill)
        h.hold("c1", did="500")  # sales EWT about 126 s: stays
        h.clock.t += 1
        h.hold("c2", did="500")  # about 303 s, under 400: stays
        h.clock.t += 1
        entered = h.clock.t
        assert h.service.estimate("sales", priority=7).seconds > 400
        h.hold("c3", did="500")  # about 482 s in sales, 241 s in general (two agents serve it)
        await h.settle()
        h.clock.t += 5
        views = {w.call: w for w in h.service.router.waiting(h.clock.t)}
        assert {uid: views[call_id("pbx1", uid)].queue for uid in ("c1", "c2", "c3")} == {
            "c1": "sales",
            "c2": "sales",
            "c3": "general",
        }
        c3 = views[call_id("pbx1", "c3")]
        assert c3.priority == 7 and c3.waited == h.clock.t - entered  # its priority and entry time kept
        assert h.service.stats.ewt_overflows == 1
        assert [line.split("|")[2] for line in h.qlog.lines or []] == ["sales", "sales", "general"]
        # the overflow queue's agent takes it when free; the sales calls still wait for sales
        h.agent("Gen", "1002", {}, S.AVAILABLE)
        await h.settle()
        assert [r["Exten"] for r in h.link.sent("Redirect")] == ["1002"]
        assert h.link.sent("Redirect")[0]["Channel"].endswith("@callers-c3;1")


async def test_the_fastagi_answer_offers_the_callback_and_overflows() -> None:
    cfg = parse_config(
        CONFIG.replace(
            "[routing.queues.support]",
            "[routing.queues.support]\noffer_callback_above = 90\noverflow_if_ewt_above = 600\n"
            "overflow_to = 'complaints'",
        ).replace("[routing.queues.sales]", "[routing.queues.sales]\noffer_callback_above = 90")
    )
    waits = Waits({"support": 95.4, "sales": 30.0, "complaints": 20.0})
    policies = cfg.routing.policies()
    decider = InboundDecider(cfg.routing.ruleset("US"), estimator=waits, policies=policies)
    server = AgiServer(decider.variables, port=0)
    task = asyncio.create_task(server.run())
    await server.ready.wait()
    try:
        variables, _ = await ask(server.port, request())  # support: 95 s, above 90, under 600
        assert (variables["CTI_QUEUE"], variables["CTI_EWT"], variables["CTI_OFFER_CALLBACK"]) == (
            "support",
            "95",
            "1",
        )
        variables, _ = await ask(server.port, request(did="8005550999", choice="1"))  # sales: 30 s
        assert (variables["CTI_QUEUE"], variables["CTI_OFFER_CALLBACK"]) == ("sales", "")
        variables, _ = await ask(server.port, request(number="unknown"))  # withheld: no callback
        assert variables["CTI_OFFER_CALLBACK"] == ""
        waits.seconds["support"] = 700.0  # above 600: the complaints queue, rule priority and skills kept
        variables, _ = await ask(server.port, request())
        assert (variables["CTI_QUEUE"], variables["CTI_EWT"], variables["CTI_PRIORITY"]) == (
            "complaints",
            "20",
            "5",
        )
        assert variables["CTI_SKILLS"] == "support:3,lang_fr:1"
        assert variables["CTI_OFFER_CALLBACK"] == ""  # complaints offers no callback
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_announcement_moves_a_call_whose_ewt_grew_and_offers_the_callback_again() -> None:
    """``RoutingService.announce`` (FastAGI /announce): the EWT again; c2 under the threshold at entry,
    above it once the sales agent paused (nobody serves it): it moves to general (served), one step;
    the callback offered at each rise past offer_callback_above and every offer_callback_every."""
    cfg = overflowing()
    cfg.queues["sales"].offer_callback_above = 100.0
    cfg.queues["general"].offer_callback_above = 100.0
    cfg.queues["general"].offer_callback_every = 60.0
    cfg.queues["general"].announce_every = 20.0
    async with Harness(cfg, FakeCards()) as h:
        h.service.virtual = NoCallbacks()
        h.agent("Sales", "1001", {"sales": 9}, S.ON_CALL)
        h.agent("Gen", "1002", {}, S.ON_CALL)
        h.hold("c1", did="500")  # about 126 s in sales: the offer at entry
        await h.settle()
        assert h.service.stats.callback_offers == 1
        c1 = call_id("pbx1", "c1")
        first = h.service.announce("c1")
        assert first["CTI_QUEUE"] == "sales" and first["CTI_OFFER_CALLBACK"] == ""  # still above: offered
        assert "CTI_ANNOUNCE_EVERY" not in first  # sales has none: the dialplan's own period
        h.agent("Sales", "1001", {"sales": 9}, S.PAUSED)  # nobody serves sales now: the wait is unknown
        h.clock.t += 20
        moved = h.service.announce("c1")
        assert moved["CTI_QUEUE"] == "general" and moved["CTI_ANNOUNCE_EVERY"] == "20"
        assert h.service.router.call(c1) is not None and h.service.router.call(c1).queue == "general"  # type: ignore[union-attr]
        assert h.service.stats.ewt_overflows == 1
        assert 100 < int(moved["CTI_EWT"]) and moved["CTI_OFFER_CALLBACK"] == ""  # offered 20 s ago
        h.clock.t += 60
        again = h.service.announce("c1")
        assert again["CTI_QUEUE"] == "general" and again["CTI_OFFER_CALLBACK"] == "1"  # 80 s >= 60 s
        assert h.service.stats.callback_offers == 2 and h.service.stats.ewt_overflows == 1
        assert h.service.announce("nobody") == {"CTI_EWT": "", "CTI_OFFER_CALLBACK": ""}
        h.agent("Gen", "1002", {}, S.AVAILABLE)  # the general agent takes it: no longer waiting
        await h.settle()
        assert h.service.announce("c1") == {"CTI_EWT": "", "CTI_OFFER_CALLBACK": ""}
        assert [r["Exten"] for r in h.link.sent("Redirect") if r["Context"] != "inbound"] == ["1002"]
