"""The callback service's edge behaviour (cti.delivery.callbacks) on the routing service's harness.

Events are fed as the tracker would publish them; the AMI link and the store are fakes. The flow over
real sockets is in tests/e2e/test_callbacks.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cti.config import CallbacksConfig
from cti.core.events import OriginateFinished, UserEventRaised
from cti.core.ids import AgentId, LinkedId, UniqueId
from cti.delivery.callbacks import CallbackService
from cti.routing.callbacks import virtual_id
from cti.routing.events import CallStatus
from tests.delivery.test_service import Harness, ended

ALICE = AgentId("Alice")


@dataclasses.dataclass
class Row:
    id: int
    e164: str
    queue: str
    source: str
    agent: str | None
    due_at: float
    entered: float
    attempts: int = 0
    status: str = "scheduled"
    origin: str | None = None
    log: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "number": self.e164, "status": self.status}


class FakeStore:
    """store.callbacks in memory: origins unique, claims once."""

    def __init__(self) -> None:
        self.rows: dict[int, Row] = {}

    async def add(self, number: str, queue: str, source: str, **kw: Any) -> Row | None:
        origin = kw.get("origin")
        if origin is not None and any(r.origin == origin for r in self.rows.values()):
            return None
        due = kw["due_at"]
        row = Row(len(self.rows) + 1, number, queue, source, kw.get("agent"), due, kw.get("entered") or due)
        row.status, row.origin = kw.get("status", "scheduled"), origin
        self.rows[row.id] = row
        return row

    async def claim_due(self, owner: str, until: float, *, limit: int = 100) -> list[Row]:
        due = [r for r in self.rows.values() if r.status == "scheduled" and r.due_at <= until]
        for r in due:
            r.status = "queued"
        return due

    async def record_attempt(self, callback_id: int, **kw: Any) -> None:
        row = self.rows[callback_id]
        row.attempts += 1
        row.status = kw["status"]
        row.log.append((kw["agent"], kw["outcome"], kw["status"]))

    async def set_status(self, callback_id: int, status: str, *, at: float | None = None) -> bool:
        self.rows[callback_id].status = status
        return True

    async def release(self, owner: str) -> int:
        return 0

    async def of_agent(self, agent: str, **kw: Any) -> list[Row]:
        return [r for r in self.rows.values() if r.agent == agent]

    async def of_number(self, number: str, *, limit: int = 20) -> list[Row]:
        return []


class FakeLeases:
    def __init__(self, taken: set[str]) -> None:
        self.taken = taken
        self.asked: list[tuple[str, float]] = []

    async def acquire(self, name: str, ttl: float) -> int | None:
        self.asked.append((name, ttl))
        return None if name in self.taken else 1

    async def release(self, name: str, token: int) -> None:
        pass


def key_press(uid: str, at: float) -> UserEventRaised:
    headers = {"Uniqueid": uid, "Number": "12125550100", "Key": "1"}
    return UserEventRaised(at, "pbx1", "CtiCallbackRequest", LinkedId(uid), UniqueId(uid), headers)


def finished(channel_id: str, outcome: str, at: float) -> OriginateFinished:
    return OriginateFinished(at, "pbx1", "", channel_id, LinkedId(channel_id), 4, outcome)


def callbacks(h: Harness, **cfg: Any) -> tuple[CallbackService, FakeStore]:
    store = FakeStore()
    settings = CallbacksConfig(channel="PJSIP/{number}@trunk", attempts=2, spacing=60.0, **cfg)
    return CallbackService(h.service, store, settings, "t1", clock=h.clock), store


async def test_a_key_press_and_the_hangup_in_one_batch_keep_the_place_without_an_abandon() -> None:
    async with Harness() as h:
        service, store = callbacks(h)
        h.hold("1.1")
        h.clock.t += 30
        h.feed(key_press("1.1", h.clock.t), ended("1.1", h.clock.t + 0.1))
        await h.settle()
        wc = h.service.router.call(virtual_id(1))
        assert wc is not None and wc.entered == 1000.0 and wc.status is CallStatus.WAITING
        assert h.events() == ["ENTERQUEUE", "EXITWITHKEY"] and h.service.stats.abandoned == 0
        assert store.rows[1].origin == "pbx1/1.1" and store.rows[1].e164 == "13800138000"
        assert service.stats.requested == 1


async def test_the_offer_dials_the_customer_into_the_agents_deliver_extension() -> None:
    async with Harness() as h:
        _, store = callbacks(h)
        h.hold("1.1")
        h.feed(key_press("1.1", h.clock.t))
        await h.settle()
        h.agent("Alice", "1001", {"sales": 8})
        await h.settle()
        (originate,) = h.link.sent("Originate")
        assert {k: v for k, v in originate.items() if k != "ChannelId"} == {
            "Action": "Originate",
            "Channel": "PJSIP/13800138000@trunk",
            "Context": "deliver",
            "Exten": "1001",
            "Priority": "1",
            "Async": "true",
            "Timeout": "30000",
            "Variable": "CTI_CALLBACK=1",
        }
        assert h.service.router.state(ALICE).value == "reserved"
        h.clock.t += 20  # past the 5 s reservation timeout: held while the customer's phone rings
        await h.settle()
        assert h.service.router.state(ALICE).value == "reserved"
        # answered: the customer's channel is a held call being delivered to Alice, with the place
        h.feed(finished(originate["ChannelId"], "answered", h.clock.t))
        await h.settle()
        wc = h.service.router.call(f"pbx1/{originate['ChannelId']}")
        assert wc is not None and wc.agent == ALICE and wc.entered == 1000.0
        assert store.rows[1].log == [("Alice", "answered", "done")]


async def test_a_busy_customer_is_tried_again_after_the_spacing_then_the_callback_fails() -> None:
    async with Harness() as h:
        service, store = callbacks(h)
        h.hold("1.1")
        h.feed(key_press("1.1", h.clock.t))
        await h.settle()
        h.agent("Alice", "1001", {"sales": 8})
        await h.settle()
        (first,) = h.link.sent("Originate")
        h.feed(finished(first["ChannelId"], "busy", h.clock.t + 3))
        await h.settle()
        assert h.service.router.state(ALICE).value == "available"  # released at once
        h.clock.t += 30
        h.service.wake()
        await h.settle()
        assert len(h.link.sent("Originate")) == 1  # not before the spacing (60 s)
        h.clock.t += 40
        h.service.wake()
        await h.settle()
        second = h.link.sent("Originate")[1]
        h.feed(finished(second["ChannelId"], "no-answer", h.clock.t + 30))
        await h.settle()
        assert h.service.router.call(virtual_id(1)) is None and service.stats.failed == 1
        assert store.rows[1].log == [("Alice", "busy", "queued"), ("Alice", "no-answer", "failed")]


async def test_an_agent_another_instance_holds_is_not_used_for_a_callback() -> None:
    async with Harness() as h:
        leases = FakeLeases({"agent:pbx1/Alice"})
        h.service.leases = leases
        callbacks(h)
        h.hold("1.1")
        h.feed(key_press("1.1", h.clock.t))
        await h.settle()
        h.agent("Alice", "1001", {"sales": 8})
        await h.settle()
        assert h.link.sent("Originate") == [] and leases.asked[0] == ("agent:pbx1/Alice", 40.0)
        wc = h.service.router.call(virtual_id(1))
        assert wc is not None and wc.status is CallStatus.WAITING  # keeps its place for the next agent
