"""Issue #12 in the hub and the desk: call state in snapshots, waiting callers, the server on call updates,
click-to-call numbers (phonenumbers), the do-not-call check and the call card of a click-to-call."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from cti.asterisk.ami import Message
from cti.core.events import AgentState, OriginateFinished
from cti.core.ids import AgentId, LinkedId
from cti.screenpop import protocol as p
from cti.screenpop.actions import Contexts, Desk, DeskError
from cti.screenpop.directory import CallerDirectory
from cti.screenpop.hub import Client, Hub
from cti.screenpop.live import LiveBoard
from cti.screenpop.tokens import Identity
from cti.store.caller import DoNotCall
from tests.bus.events import agent_state, inbound_call
from tests.screenpop.fakes import JANE, FakeChannels, FakeLink, FakeStore

ALICE = Identity("alice", "agent", AgentId("Alice"), 1e12)
SUPER = Identity("super", "supervisor", None, 1e12)


def desk(store: FakeStore | None = None) -> tuple[Desk, FakeLink]:
    store = store or FakeStore.demo()
    hub = Hub(board=LiveBoard(lambda q: 20.0), directory=CallerDirectory(store))
    hub.on_events([agent_state("Alice", AgentState.AVAILABLE)])
    link = FakeLink()
    return Desk(hub, {"pbx1": link}.get, FakeChannels(), store, Contexts()), link


def drained(client: Client) -> list[dict[str, Any]]:
    return [json.loads(client.queue.get_nowait()) for _ in range(client.queue.qsize())]


def test_a_snapshot_gives_each_live_call_its_state_and_answer_time() -> None:
    hub = Hub(board=LiveBoard(lambda q: 20.0))
    call = inbound_call("9.1", agent="Alice", at=1000.0)
    hub.on_events(call[:2])
    (ringing,) = hub.snapshot(SUPER)["calls"]
    assert (ringing["state"], ringing["answered_at"]) == ("ringing", None)
    hub.on_events(call[2:4])
    (up,) = hub.snapshot(ALICE)["calls"]
    assert (up["state"], up["answered_at"], up["answered_by"]) == ("answered", 1005.0, "Alice")


def test_waiting_callers_are_listed_to_supervisors_until_they_leave_the_queue() -> None:
    hub = Hub(board=LiveBoard(lambda q: 20.0))
    sup = Client(SUPER, 100)
    hub.attach(sup)
    call = inbound_call("9.2", agent="Alice", name="Jane", at=1000.0)
    hub.on_events(call[:1])
    (row,) = hub.snapshot(SUPER)["waiting"]
    assert (row["queue"], row["name"], row["since"], row["server"]) == ("sales", "Jane", 1000.0, "pbx1")
    assert "waiting" not in hub.snapshot(ALICE)
    hub.on_events(call[1:3])
    assert hub.snapshot(SUPER)["waiting"] == []
    said = [(m["event"], m["uniqueid"]) for m in drained(sup) if m["type"] == "waiting"]
    assert said == [("joined", "9.2"), ("left", "9.2")]


def test_a_call_that_ends_without_a_queue_exit_leaves_the_waiting_list() -> None:
    hub = Hub(board=LiveBoard(lambda q: 20.0))
    call = inbound_call("9.3", at=1000.0)
    hub.on_events([call[0], call[-1]])
    assert hub.waiting == {}


def test_call_updates_name_the_server_of_the_call() -> None:
    hub = Hub(board=LiveBoard(lambda q: 20.0))
    alice = Client(ALICE, 100)
    hub.attach(alice)
    hub.on_events(inbound_call("9.4", agent="Alice", server="pbx2", at=1000.0)[:4])
    updates = [m for m in drained(alice) if m["type"] == "call"]
    assert [(m["event"], m["server"]) for m in updates] == [("answered", "pbx2")]
    assert updates[0]["at"] == 1005.0


@pytest.mark.parametrize("number", ["123", "12", "+1 212", "555"])
async def test_a_number_too_short_to_be_a_phone_is_refused_before_anything_is_sent(number: str) -> None:
    d, link = desk()
    with pytest.raises(DeskError) as e:
        await d.run(ALICE, p.parse(json.dumps({"type": "dial", "number": number})))
    assert e.value.code == "bad_number" and link.sent == []


async def test_a_number_written_the_way_people_write_it_is_dialled() -> None:
    d, link = desk()
    await d.run(ALICE, p.parse('{"type": "dial", "number": "+1 (212) 555-0100"}'))
    (sent,) = link.sent
    assert sent["Exten"] == "+12125550100"


async def test_a_do_not_call_customer_is_refused_until_the_agent_confirms() -> None:
    store = FakeStore.demo()
    store.customers["+12125550199"] = [dataclasses.replace(JANE, do_not_call=_dnc())]
    d, link = desk(store)
    with pytest.raises(DeskError) as e:
        await d.run(ALICE, p.Dial(None, "+12125550199"))
    assert e.value.code == "do_not_call" and JANE.name in e.value.message and link.sent == []
    await d.run(ALICE, p.Dial(None, "+12125550199", confirm=True))
    assert [s["Exten"] for s in link.sent] == ["+12125550199"]
    assert p.parse('{"type": "dial", "number": "+12125550199", "confirm": true}') == p.Dial(
        None, "+12125550199", True
    )
    with pytest.raises(p.BadMessage):
        p.parse('{"type": "dial", "number": "+12125550199", "confirm": "yes"}')


async def test_a_click_to_call_the_agent_picked_up_gets_a_call_card_and_its_end() -> None:
    d, _ = desk()
    hub = d.hub
    alice = Client(ALICE, 100)
    hub.attach(alice)
    result = await d.run(ALICE, p.Dial(None, "+14155550101"))  # Jane's number: a known customer
    hub.on_events(
        [OriginateFinished(2000.0, "pbx1", "a1", result["channel_id"], LinkedId("7.7"), 4, "answered")]
    )
    # the do-not-call check looked the number up: the card pops at once, the answer follows it
    view = hub.calls[LinkedId("7.7")]
    assert view.agent == "Alice" and hub.may_disposition(ALICE, "7.7")
    assert hub.may_act_on(ALICE, "7.7")
    pops = [m for m in drained(alice) if m["type"] == "screenpop"]
    assert [(m["call"]["direction"], m["caller"]["number"], m["customers"][0]["name"]) for m in pops] == [
        ("outbound", "+14155550101", JANE.name)
    ]
    hub.on_events(inbound_call("7.7", agent="Alice", at=2000.0)[-1:])  # its end
    assert LinkedId("7.7") not in hub.calls and hub.may_disposition(ALICE, "7.7")


def _dnc() -> DoNotCall:
    return DoNotCall("customer", 1.0)


async def test_a_transfer_target_is_matched_in_any_case_and_the_snapshot_offers_the_targets() -> None:
    d, link = desk()
    d.hub.on_events([agent_state("Bob", AgentState.AVAILABLE), *inbound_call("9.5", agent="Alice")[:4]])
    assert isinstance(d.channels, FakeChannels)
    d.channels.agent_channels[("9.5", "Alice")] = "Local/1001@agents-0000000a;1"
    assert d.hub.snapshot(ALICE)["targets"] == {"agents": ["Alice", "Bob"], "queues": ["sales"]}
    await d.run(ALICE, p.Transfer(None, "9.5", "agent", "bob"))
    await d.run(ALICE, p.Transfer(None, "9.5", "queue", "SALES"))
    assert [(s["Context"], s["Exten"]) for s in link.sent if s["Action"] == "BlindTransfer"] == [
        ("deliver", "Bob"),
        ("inbound", "sales"),
    ]


class StaticMembers(FakeLink):
    """Asterisk with the agent in queues.conf: QueueRemove is refused ("Member not dynamic")."""

    async def send_action(self, action: dict[str, str]) -> Message:
        if action["Action"] == "QueueRemove":
            self.sent.append(dict(action))
            return Message.of(("Response", "Error"), ("Message", "Member not dynamic"))
        return await super().send_action(action)


async def test_log_out_of_queues_pauses_a_static_member_and_says_so() -> None:
    d, _ = desk()
    link = StaticMembers()
    d.servers = {"pbx1": link}.get
    result = await d.run(ALICE, p.Logout(None, None))
    assert result == {"agent": "Alice", "state": "paused", "reason": "logged out", "static": ["sales"]}
    assert [a["Action"] for a in link.sent] == ["QueueRemove", "QueuePause"]
    link.refuse = "Interface not found"  # any other refusal is still an error
    with pytest.raises(DeskError, match="Interface not found"):
        await d.run(ALICE, p.Logout(None, None))
