import asyncio
import json
from typing import Any

import pytest

from cti.core.clock import ManualClock
from cti.core.events import AgentState, DomainEvent
from cti.core.ids import AgentId
from cti.screenpop.directory import CallerDirectory
from cti.screenpop.hub import CLOSE_TOO_SLOW, Client, Hub
from cti.screenpop.live import LiveBoard
from cti.screenpop.protocol import encode
from cti.screenpop.tokens import Identity
from tests.bus.events import agent_state, inbound_call
from tests.screenpop.fakes import LATE_DELIVERY, FakeStore
from tests.waiting import eventually

ALICE = Identity("alice", "agent", AgentId("Alice"), 1e12)
BOB = Identity("bob", "agent", AgentId("Bob"), 1e12)
SUPER = Identity("super", "supervisor", None, 1e12)


def board() -> LiveBoard:
    return LiveBoard(lambda q: 20.0)


def drain(client: Client) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while not client.queue.empty():
        out.append(json.loads(client.queue.get_nowait()))
    return out


def ended_after(new: list[dict[str, Any]], into: list[dict[str, Any]]) -> bool:
    """Adds ``new`` to ``into``; whether the call has ended by now."""
    into.extend(new)
    return any(m.get("event") == "ended" for m in into)


def test_a_pop_goes_to_the_rung_agent_and_supervisors_never_to_another_agent() -> None:
    hub = Hub(board=board())
    alice, bob, sup = Client(ALICE, 100), Client(BOB, 100), Client(SUPER, 100)
    for c in (alice, bob, sup):
        hub.attach(c)
    hub.on_events(inbound_call(agent="Alice"))
    a_types = [m["type"] for m in drain(alice)]
    assert a_types.count("screenpop") == 1
    assert "call" in a_types
    assert [m for m in drain(bob) if m["type"] in ("screenpop", "call")] == []
    s = drain(sup)
    assert {m["type"] for m in s} >= {"screenpop", "call", "queue"}


def test_pop_carries_the_call_the_caller_and_a_normalized_number() -> None:
    hub = Hub(board=board())
    alice = Client(ALICE, 100)
    hub.attach(alice)
    hub.on_events(inbound_call(number="4155550101", name="<script>alert(1)</script>张伟")[:2])
    (pop,) = [m for m in drain(alice) if m["type"] == "screenpop"]
    assert pop["caller"] == {
        "number": "4155550101",
        "normalized": "+14155550101",
        "name": "<script>alert(1)</script>张伟",
    }
    assert pop["call"]["queue"] == "sales" and pop["call"]["direction"] == "inbound"
    assert pop["call"]["waited_seconds"] == 2.0 and pop["call"]["did"] == "5551000"
    assert pop["lookup"] == "not_found"  # no directory: nothing to match


async def test_a_slow_lookup_holds_back_only_that_calls_later_events() -> None:
    store = FakeStore.demo()
    gate = store.gates["+14155550101"] = asyncio.Event()
    directory = CallerDirectory(store, lookup_timeout=5)
    hub = Hub(board=board(), directory=directory)
    alice, bob = Client(ALICE, 100), Client(BOB, 100)
    hub.attach(alice)
    hub.attach(bob)
    got_a: list[dict[str, Any]] = []
    got_b: list[dict[str, Any]] = []
    async with asyncio.TaskGroup() as tg:
        worker = tg.create_task(directory.run())
        hub.on_events(inbound_call("1.1", agent="Alice"))  # the lookup blocks on the gate
        hub.on_events(inbound_call("2.2", agent="Bob", number="+15550000000"))
        await eventually(lambda: ended_after(drain(bob), got_b), 2)
        got_a.extend(drain(alice))
        assert [m for m in got_a if m["type"] in ("screenpop", "call")] == []
        gate.set()
        await eventually(lambda: ended_after(drain(alice), got_a), 2)
        worker.cancel()
    seen = [(m["type"], m.get("event")) for m in got_a if m["type"] in ("screenpop", "call")]
    assert seen[0] == ("screenpop", None)
    assert seen[1:] == [("call", "answered"), ("call", "held"), ("call", "resumed"), ("call", "ended")]


async def first_pop(
    store: FakeStore, directory: CallerDirectory, then: list[DomainEvent] | None = None
) -> tuple[Hub, Client]:
    """A hub with Alice attached, after call 1.1 rang her and its pop went out (then ``then`` events)."""
    hub = Hub(board=board(), directory=directory)
    alice = Client(ALICE, 100)
    hub.attach(alice)
    async with asyncio.TaskGroup() as tg:
        worker = tg.create_task(directory.run())
        hub.on_events(inbound_call("1.1")[:2])
        await eventually(lambda: hub.pops_sent == 1, 2)
        hub.on_events(then or [])
        worker.cancel()
    return hub, alice


async def test_the_pop_carries_the_matched_customer_and_lookups_are_cached() -> None:
    store = FakeStore.demo()
    hub, alice = await first_pop(store, CallerDirectory(store), then=inbound_call("3.3")[:2])
    assert hub.pops_sent == 2  # the second from the cache, at once
    pops = [m for m in drain(alice) if m["type"] == "screenpop"]
    assert pops[0]["lookup"] == "found"
    assert pops[0]["customers"][0]["name"] == "Jane Roe"
    assert pops[0]["customers"][0]["open_complaints"] == [LATE_DELIVERY.to_json()]
    assert "last_interactions" not in pops[0]["customers"][0]  # the store sends "interactions"
    assert store.lookups == ["+14155550101"]


async def test_a_store_that_does_not_answer_in_time_still_gives_a_pop() -> None:
    store = FakeStore.demo()
    store.gate = asyncio.Event()
    directory = CallerDirectory(store, lookup_timeout=0.05)
    _, alice = await first_pop(store, directory)
    (pop,) = [m for m in drain(alice) if m["type"] == "screenpop"]
    assert pop["lookup"] == "unavailable" and pop["customers"] == []
    assert directory.cached("+14155550101") is None  # failures are not cached


def test_a_client_whose_buffer_overflows_is_dropped_and_the_others_carry_on() -> None:
    hub = Hub(board=board())
    slow, fast = Client(SUPER, 5), Client(SUPER, 1000)
    hub.attach(slow)
    hub.attach(fast)
    for i in range(10):
        hub.on_events(inbound_call(f"{i}.1"))
    assert slow.closing is not None and slow.closing[0] == CLOSE_TOO_SLOW
    assert "too slow" in slow.closing[1]
    assert slow.dead.is_set()
    assert hub.clients_dropped == 1 and hub.client_count == 1
    assert fast.queue.qsize() == hub.seq  # supervisors see every message


def test_a_resuming_client_gets_exactly_the_messages_it_missed_and_may_see() -> None:
    hub = Hub(board=board())
    hub.on_events(inbound_call("1.1", agent="Alice"))
    last = hub.seq
    hub.on_events(inbound_call("2.2", agent="Bob"))
    hub.on_events(inbound_call("3.3", agent="Alice"))
    missed = hub.missed(ALICE, hub.session, last, limit=100)
    assert missed is not None
    msgs = [json.loads(t) for t in missed]
    assert {m.get("linkedid") or m.get("call", {}).get("linkedid") for m in msgs} == {"3.3"}
    assert all(m["seq"] > last for m in msgs)
    assert hub.missed(ALICE, "another-session", last, limit=100) is None
    assert hub.missed(ALICE, hub.session, hub.seq + 5, limit=100) is None
    assert hub.missed(ALICE, hub.session, last, limit=2) is None


def test_messages_older_than_the_resume_window_cannot_be_resumed() -> None:
    clock = ManualClock(0.0)
    hub = Hub(board=board(), resume_window=60, clock=clock)
    watcher, alice_watcher = Client(SUPER, 1000), Client(ALICE, 1000)
    hub.attach(watcher)
    hub.attach(alice_watcher)
    hub.on_events(inbound_call("1.1"))
    end_of_first = hub.seq
    drain(watcher), drain(alice_watcher)
    clock.set(61.0)
    hub.on_events(inbound_call("2.2"))
    second = [encode(m) for m in drain(watcher)]
    alices = [encode(m) for m in drain(alice_watcher)]
    # the first call's messages left the log: a resume from before or inside them cannot be honoured
    assert hub.missed(ALICE, hub.session, 0, limit=1000) is None
    assert hub.missed(SUPER, hub.session, end_of_first - 1, limit=1000) is None
    # from the end of the first call on, exactly the second call's messages, in order
    assert hub.missed(SUPER, hub.session, end_of_first, limit=1000) == second
    assert hub.missed(ALICE, hub.session, end_of_first, limit=1000) == alices
    assert alices and len(alices) < len(second)  # the queue rows are for supervisors only


def test_the_snapshot_shows_an_agent_only_their_own_state_and_calls() -> None:
    hub = Hub(board=board())
    hub.on_events(
        [agent_state("Alice", AgentState.AVAILABLE), agent_state("Bob", AgentState.PAUSED, reason="lunch")]
    )
    hub.on_events(inbound_call("1.1", agent="Bob")[:2])
    snap = hub.snapshot(ALICE)
    assert [a["agent"] for a in snap["agents"]] == ["Alice"] and snap["calls"] == [] and snap["queues"] == []
    snap = hub.snapshot(BOB)
    assert [c["call"]["linkedid"] for c in snap["calls"]] == ["1.1"]
    snap = hub.snapshot(SUPER)
    assert {a["agent"] for a in snap["agents"]} == {"Alice", "Bob"}
    assert snap["queues"][0]["queue"] == "sales" and snap["queues"][0]["waiting"] == 1


@pytest.mark.parametrize("who", [ALICE, BOB])
def test_an_agent_may_act_only_on_calls_that_rang_them(who: Identity) -> None:
    hub = Hub(board=board())
    hub.on_events(inbound_call("1.1", agent="Alice")[:2])
    assert hub.may_act_on(who, "1.1") is (who is ALICE)
    assert hub.may_act_on(SUPER, "1.1")
    assert hub.may_disposition(who, "1.1") is (who is ALICE)


def test_an_outbound_pop_carries_the_lead_and_the_campaign_script_the_dialer_raised() -> None:
    from cti.core.events import UserEventRaised
    from cti.core.ids import LinkedId

    hub = Hub(board=board())
    alice = Client(ALICE, 100)
    hub.attach(alice)
    headers = {"Campaign": "renewals", "LeadId": "42", "Script": "Hello, this is <b>ACME</b>", "Other": "x"}
    hub.on_events([UserEventRaised(1.0, "pbx1", "CtiLead", LinkedId("7.7"), None, headers)])
    hub.on_events(inbound_call("7.7")[:2])
    (pop,) = [m for m in drain(alice) if m["type"] == "screenpop"]
    assert pop["lead"] == {"campaign": "renewals", "leadid": "42"}
    assert pop["script"] == "Hello, this is <b>ACME</b>"
    hub.on_events(inbound_call("7.7")[2:])
    assert hub.leads == {}


def test_an_offered_email_task_reaches_its_agent_and_stays_in_its_snapshot_until_done() -> None:
    hub = Hub(board=LiveBoard(lambda q: 20.0))
    alice, bob = Client(ALICE, 10), Client(BOB, 10)
    hub.attach(alice)
    hub.attach(bob)
    hub.email_task("Alice", {"task": "7", "from": "ann@example.com", "subject": "<b>hi</b>"})
    assert alice.queue.qsize() == 1 and bob.queue.qsize() == 0
    sent = json.loads(alice.queue.get_nowait())
    assert (sent["type"], sent["task"], sent["subject"]) == ("email_task", "7", "<b>hi</b>")
    assert [m["task"] for m in hub.snapshot(ALICE)["email_tasks"]] == ["7"]
    assert hub.snapshot(BOB)["email_tasks"] == []
    assert [m["task"] for m in hub.snapshot(SUPER)["email_tasks"]] == ["7"]
    hub.email_done("Alice")
    assert "email_tasks" not in hub.snapshot(ALICE)
