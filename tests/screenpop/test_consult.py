"""The desk's warm transfers and conferences (cti.screenpop.consult): the AMI actions sent, the refusals,
and the hub's view of the call for both agents."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from cti.asterisk.ami import Message
from cti.core.events import (
    AgentRinging,
    AgentState,
    CallAnswered,
    CallerInfo,
    CallerLeft,
    CallHoldChanged,
    CallTransferred,
    OriginateFinished,
)
from cti.core.ids import AgentId, LinkedId, UniqueId
from cti.core.journey import Direction
from cti.screenpop import protocol as p
from cti.screenpop.actions import Contexts, Desk, DeskError
from cti.screenpop.hub import Client, Hub
from cti.screenpop.live import LiveBoard
from cti.screenpop.tokens import Identity
from tests.bus.events import agent_state, inbound_call
from tests.screenpop.fakes import FakeChannels, FakeLink, FakeStore

ALICE = Identity("alice", "agent", AgentId("Alice"), 1e12)
BOB = Identity("bob", "agent", AgentId("Bob"), 1e12)
SUPER = Identity("super", "supervisor", None, 1e12)
AGENT_CH = "Local/1001@agents-0000000a;1"
CUSTOMER_CH = "Local/4155550101@callers-00000001;1"
CONSULT_CH = "Local/Bob@cti-consult-0000000c;1"


@dataclass
class SearchChannels(FakeChannels):
    live: list[str] = field(default_factory=list)

    def channel_like(self, server: str, linkedid: str, prefix: str, suffix: str) -> str | None:
        return next((n for n in self.live if n.startswith(prefix) and n.endswith(suffix)), None)


def desk() -> tuple[Desk, FakeLink, SearchChannels]:
    hub = Hub(board=LiveBoard(lambda q: 20.0))
    hub.on_events([agent_state("Alice", AgentState.ON_CALL), agent_state("Bob", AgentState.AVAILABLE)])
    hub.on_events(inbound_call("1.1", agent="Alice")[:4])  # queued, rang Alice, left the queue, answered
    link, channels = FakeLink(), SearchChannels()
    channels.agent_channels[("1.1", "Alice")] = AGENT_CH
    channels.caller_channels["1.1"] = CUSTOMER_CH
    return Desk(hub, {"pbx1": link}.get, channels, FakeStore.demo(), Contexts()), link, channels


def drain(client: Client) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while not client.queue.empty():
        out.append(json.loads(client.queue.get_nowait()))
    return out


async def test_warm_transfer_sends_atxfer_of_the_agents_channel_to_the_colleague() -> None:
    d, link, _ = desk()
    result = await d.run(ALICE, p.WarmTransfer(None, "1.1", "agent", "bob"))
    assert link.sent == [{"Action": "Atxfer", "Channel": AGENT_CH, "Exten": "Bob", "Context": "cti-consult"}]
    assert result["consulting"] == "Bob" and result["state"] == "consulting"


async def test_warm_transfer_to_a_number_uses_the_consult_dial_context() -> None:
    d, link, _ = desk()
    await d.run(ALICE, p.WarmTransfer(None, "1.1", "number", "+14155550123"))
    assert link.sent[0]["Context"] == "cti-consult-dial" and link.sent[0]["Exten"] == "+14155550123"


async def test_warm_transfer_to_a_queue_is_an_atxfer_to_its_extension_in_the_queue_context() -> None:
    d, link, channels = desk()
    out = await d.run(ALICE, p.WarmTransfer(None, "1.1", "queue", "Sales"))  # as people type it
    assert link.sent == [{"Action": "Atxfer", "Channel": AGENT_CH, "Exten": "sales", "Context": "inbound"}]
    assert out["consulting"] == "sales" and out["to"] == "queue"
    channels.live = ["Local/sales@inbound-0000000d;1"]
    await d.run(ALICE, p.Consult(None, "1.1", "cancel"))  # the queue's Local channel, as for an agent
    assert link.sent[-1] == {"Action": "Hangup", "Channel": "Local/sales@inbound-0000000d;1"}


async def test_warm_transfer_to_an_unknown_queue_is_refused() -> None:
    d, link, _ = desk()
    with pytest.raises(DeskError) as e:
        await d.run(ALICE, p.WarmTransfer(None, "1.1", "queue", "nowhere"))
    assert e.value.code == "unknown_queue" and link.sent == []


async def test_complete_hangs_up_the_agent_and_cancel_the_consultation() -> None:
    d, link, channels = desk()
    await d.run(ALICE, p.WarmTransfer(None, "1.1", "agent", "Bob"))
    channels.live = ["Local/Bob@cti-consult-0000000c;2", CONSULT_CH]
    await d.run(ALICE, p.Consult(None, "1.1", "cancel"))
    assert link.sent[-1] == {"Action": "Hangup", "Channel": CONSULT_CH}
    out = await d.run(ALICE, p.Consult(None, "1.1", "complete"))
    assert link.sent[-1] == {"Action": "Hangup", "Channel": AGENT_CH} and out["state"] == "completing"


async def test_conference_from_a_consultation_moves_the_three_into_one_room() -> None:
    d, link, channels = desk()
    await d.run(ALICE, p.WarmTransfer(None, "1.1", "agent", "Bob"))
    channels.live = [CONSULT_CH]
    out = await d.run(ALICE, p.Consult(None, "1.1", "conference"))
    room = out["room"]
    assert room.isdigit() and out["state"] == "conference"
    assert link.sent[1:] == [
        {
            "Action": "Redirect",
            "Channel": AGENT_CH,
            "Context": "cti-conference",
            "Exten": room,
            "Priority": "1",
            "ExtraChannel": CUSTOMER_CH,
            "ExtraContext": "cti-conference",
            "ExtraExten": room,
            "ExtraPriority": "1",
        },
        {
            "Action": "Redirect",
            "Channel": CONSULT_CH,
            "Context": "cti-conference",
            "Exten": room,
            "Priority": "1",
        },
    ]
    assert out["parties"] == ["Alice", "+14155550101", "Bob"]
    await d.run(ALICE, p.Conference(None, "1.1", "end"))
    assert link.sent[-1] == {"Action": "ConfbridgeKick", "Conference": room, "Channel": "all"}


async def test_a_conference_with_a_third_party_originates_it_into_the_room_and_leave_kicks_the_agent() -> (
    None
):
    d, link, _ = desk()
    alice = Client(ALICE, 100)
    d.hub.attach(alice)
    out = await d.run(ALICE, p.Conference(None, "1.1", "start", "agent", "Bob"))
    assert link.sent[0]["Action"] == "Redirect" and link.sent[0]["ExtraChannel"] == CUSTOMER_CH
    orig = link.sent[1]
    assert (orig["Action"], orig["Channel"], orig["Context"], orig["Exten"]) == (
        "Originate",
        "Local/Bob@agents/n",
        "cti-conference",
        out["room"],
    )
    drain(alice)
    left = await d.run(ALICE, p.Conference(None, "1.1", "leave"))
    assert link.sent[-1] == {"Action": "ConfbridgeKick", "Conference": out["room"], "Channel": AGENT_CH}
    assert left["state"] == "left"
    assert [m["event"] for m in drain(alice) if m["type"] == "call"] == ["left"]


@pytest.mark.parametrize(
    ("who", "cmd", "code"),
    [
        (BOB, p.WarmTransfer(None, "1.1", "agent", "Alice"), "forbidden"),  # not Bob's call
        (ALICE, p.WarmTransfer(None, "1.1", "agent", "Alice"), "bad_target"),
        (ALICE, p.WarmTransfer(None, "1.1", "agent", "Zed"), "unknown_agent"),
        (ALICE, p.WarmTransfer(None, "2.2", "agent", "Bob"), "forbidden"),
        (ALICE, p.Consult(None, "1.1", "complete"), "no_consultation"),
        (ALICE, p.Consult(None, "1.1", "cancel"), "no_consultation"),
        (ALICE, p.Conference(None, "1.1", "leave"), "no_conference"),
    ],
)
async def test_refusals_carry_a_code_and_send_nothing(who: Identity, cmd: p.Command, code: str) -> None:
    d, link, _ = desk()
    with pytest.raises(DeskError) as e:
        await d.run(who, cmd)
    assert e.value.code == code
    assert link.sent == []


async def test_an_unanswered_call_cannot_be_transferred_warm() -> None:
    hub = Hub(board=LiveBoard(lambda q: 20.0))
    hub.on_events([agent_state("Alice", AgentState.RINGING), agent_state("Bob", AgentState.AVAILABLE)])
    hub.on_events(inbound_call("1.1", agent="Alice")[:2])
    link = FakeLink()
    d = Desk(hub, {"pbx1": link}.get, FakeChannels(), FakeStore.demo(), Contexts())
    with pytest.raises(DeskError) as e:
        await d.run(ALICE, p.WarmTransfer(None, "1.1", "agent", "Bob"))
    assert e.value.code == "not_answered" and link.sent == []


async def test_asterisks_refusal_is_a_clear_error_and_no_consultation_is_left_behind() -> None:
    d, link, _ = desk()
    link.refuse = "No attended transfer feature code found"
    with pytest.raises(DeskError) as e:
        await d.run(ALICE, p.WarmTransfer(None, "1.1", "agent", "Bob"))
    assert e.value.code == "ami_refused" and "No attended transfer feature code found" in e.value.message
    link.refuse = None
    with pytest.raises(DeskError) as e2:
        await d.run(ALICE, p.Consult(None, "1.1", "complete"))
    assert e2.value.code == "no_consultation"


async def test_a_second_warm_transfer_while_consulting_is_refused() -> None:
    d, link, _ = desk()
    await d.run(ALICE, p.WarmTransfer(None, "1.1", "agent", "Bob"))
    with pytest.raises(DeskError) as e:
        await d.run(ALICE, p.WarmTransfer(None, "1.1", "number", "+14155550123"))
    assert e.value.code == "consulting" and len(link.sent) == 1


def _bob_rings_and_answers(at: float) -> list[object]:
    lid, uid = LinkedId("1.1"), UniqueId("1.1")
    caller = CallerInfo("+14155550101", "Jane Roe")
    return [
        AgentRinging(
            at,
            "pbx1",
            lid,
            uid,
            AgentId("Bob"),
            "Local/Bob@agents/n",
            None,
            caller,
            "",
            Direction.INBOUND,
            0.0,
        ),
        CallAnswered(at + 1, "pbx1", lid, uid, AgentId("Bob"), None, 0.0),
    ]


async def consulting() -> tuple[Desk, Client, Client]:
    """Alice consults Bob; both consoles are attached."""
    d, _, _ = desk()
    alice, bob = Client(ALICE, 100), Client(BOB, 100)
    d.hub.attach(alice)
    d.hub.attach(bob)
    await d.run(ALICE, p.WarmTransfer(None, "1.1", "agent", "Bob"))
    return d, alice, bob


async def test_both_consoles_follow_the_consultation_and_the_completed_transfer() -> None:
    d, alice, bob = await consulting()
    drain(alice)
    d.hub.on_events(_bob_rings_and_answers(1_700_000_010.0))  # type: ignore[arg-type]
    a, b = drain(alice), drain(bob)
    assert [m["type"] for m in b] == ["screenpop", "call"] and b[1]["event"] == "answered"
    assert [m["type"] for m in a] == ["consult"] and a[0]["state"] == "answered"  # no "answered by Bob"
    view = d.hub.calls[LinkedId("1.1")]
    assert view.agent == "Alice" and d.hub.may_act_on(ALICE, "1.1") and not d.hub.may_act_on(BOB, "1.1")
    d.hub.on_events(
        [
            CallTransferred(
                1_700_000_020.0, "pbx1", LinkedId("1.1"), AgentId("Alice"), "Bob@cti-consult", "attended"
            )
        ]
    )
    a, b = drain(alice), drain(bob)
    assert [(m["type"], m.get("event", m.get("state"))) for m in a] == [
        ("call", "transferred"),
        ("consult", "completed"),
    ]
    assert b == []  # Bob's card stays "answered": the call is his now
    assert view.agent == "Bob" and d.hub.may_act_on(BOB, "1.1") and not d.hub.may_act_on(ALICE, "1.1")


async def test_when_asterisk_brings_the_agent_back_the_consultation_is_over_for_both() -> None:
    d, alice, bob = await consulting()
    d.hub.on_events(_bob_rings_and_answers(1_700_000_010.0))  # type: ignore[arg-type]
    drain(alice), drain(bob)
    d.hub.on_events([CallHoldChanged(1_700_000_012.0, "pbx1", LinkedId("1.1"), UniqueId("1.2"), False)])
    a, b = drain(alice), drain(bob)
    assert [m["event"] for m in b if m["type"] == "call"] == ["left"]
    assert ("consult", "over") in [(m["type"], m.get("state")) for m in a]
    assert ("call", "resumed") in [(m["type"], m.get("event")) for m in a]
    with pytest.raises(DeskError) as e:
        await d.run(ALICE, p.Consult(None, "1.1", "complete"))
    assert e.value.code == "no_consultation"


def test_the_protocol_parses_the_new_commands_and_refuses_bad_ops() -> None:
    assert p.parse('{"type":"warm_transfer","linkedid":"1.1","to":"queue","target":"sales"}') == (
        p.WarmTransfer(None, "1.1", "queue", "sales")
    )
    assert p.parse('{"type":"warm_transfer","linkedid":"1.1","to":"agent","target":"Bob"}') == p.WarmTransfer(
        None, "1.1", "agent", "Bob"
    )
    assert p.parse('{"type":"consult","linkedid":"1.1","op":"cancel"}') == p.Consult(None, "1.1", "cancel")
    assert p.parse('{"type":"conference","linkedid":"1.1","op":"start","to":"number","target":"+1415"}') == (
        p.Conference(None, "1.1", "start", "number", "+1415")
    )
    for bad in (
        '{"type":"consult","linkedid":"1.1","op":"explode"}',
        '{"type":"conference","linkedid":"1.1","op":"start","to":"queue","target":"sales"}',
        '{"type":"warm_transfer","linkedid":"1.1","to":"number","target":"12;Hangup"}',
        '{"type":"conference","linkedid":"1.1","op":"join"}',
    ):
        with pytest.raises(p.BadMessage):
            p.parse(bad)


@dataclass
class FakeRemote:
    """The instance connected to the call's server (cti.bus.commands.RemoteLink): takes requests."""

    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def request(self, op: str, args: Any) -> Any:
        self.requests.append((op, dict(args)))
        return Message.of(("Response", "Success"))


async def test_for_a_server_another_instance_handles_the_desk_sends_requests_it_checks_itself() -> None:
    d, _, _ = desk()
    remote = FakeRemote()
    d.servers = {"pbx1": remote}.get
    await d.run(ALICE, p.WarmTransfer(None, "1.1", "agent", "Bob"))
    await d.run(ALICE, p.Consult(None, "1.1", "cancel"))  # no local lookup: the owner finds the channel
    about = {"linkedid": "1.1", "agent": "Alice", "exten": "Bob", "context": "cti-consult"}
    assert remote.requests == [("atxfer", about), ("consult_cancel", about)]


async def test_the_snapshot_of_the_consulting_agent_carries_the_consultation_and_no_one_elses() -> None:
    d, _, _ = await consulting()
    d.hub.on_events(_bob_rings_and_answers(1_700_000_010.0))  # type: ignore[arg-type]
    (mine,) = d.hub.snapshot(ALICE)["calls"]
    assert mine["consult"]["state"] == "consulting" and mine["consult"]["target"] == "Bob"
    assert mine["consult"]["answered"] is True
    (bobs,) = d.hub.snapshot(BOB)["calls"]
    assert bobs["consult"] is None  # the consulted colleague has no Complete/Cancel
    await d.run(ALICE, p.Consult(None, "1.1", "complete"))  # completing: still under way until Asterisk says
    d.hub.on_events(
        [
            CallTransferred(
                1_700_000_020.0, "pbx1", LinkedId("1.1"), AgentId("Alice"), "Bob@cti-consult", "attended"
            )
        ]
    )
    assert all(c["consult"] is None for c in d.hub.snapshot(ALICE)["calls"])


@pytest.mark.parametrize(("outcome", "event"), [("answered", "answered"), ("no-answer", "missed")])
async def test_a_colleague_called_into_a_conference_gets_the_customers_card(outcome: str, event: str) -> None:
    d, link, _ = desk()
    alice, bob = Client(ALICE, 100), Client(BOB, 100)
    d.hub.attach(alice)
    d.hub.attach(bob)
    await d.run(ALICE, p.Conference(None, "1.1", "start", "agent", "Bob"))
    channel_id = link.sent[1]["ChannelId"]
    (pop,) = drain(bob)
    assert pop["type"] == "screenpop" and pop["agent"] == "Bob" and pop["call"]["linkedid"] == "1.1"
    assert pop["caller"]["number"] == "+14155550101"
    view = d.hub.calls[LinkedId("1.1")]
    assert "Bob" in view.agents and not d.hub.may_act_on(BOB, "1.1")  # Alice's call until she leaves
    d.hub.on_events(
        [OriginateFinished(1_700_000_030.0, "pbx1", "", channel_id, LinkedId(channel_id), 4, outcome)]
    )
    (update,) = drain(bob)
    assert (update["type"], update["event"], update["linkedid"]) == ("call", event, "1.1")
    assert ("Bob" in view.agents) is (outcome == "answered")


async def test_the_customer_hanging_up_mid_consultation_tells_both_cards_and_ends_the_consultation() -> None:
    d, alice, bob = await consulting()
    d.hub.on_events(_bob_rings_and_answers(1_700_000_010.0))  # type: ignore[arg-type]
    drain(alice), drain(bob)
    d.hub.on_events([CallerLeft(1_700_000_015.0, "pbx1", LinkedId("1.1"), UniqueId("1.1"))])
    a, b = drain(alice), drain(bob)
    assert ("consult", "stranded") in [(m["type"], m.get("state")) for m in a]
    assert [m["event"] for m in a if m["type"] == "call"] == ["caller_left"]
    assert [m["event"] for m in b if m["type"] == "call"] == ["caller_left"]
    assert d.hub.calls[LinkedId("1.1")].agent == "Alice"  # her hang-up ends the talk with Bob
    assert d.hub.snapshot(ALICE)["calls"][0]["consult"] is None  # no Complete/Cancel to reload
    with pytest.raises(DeskError) as e:
        await d.run(ALICE, p.Consult(None, "1.1", "complete"))
    assert e.value.code == "no_consultation"


async def test_supervisors_are_told_of_a_consultation_and_a_conference_and_agents_are_not() -> None:
    """The supervisors' live calls say "consulting Bob" and "in a conference" (issue #12)."""
    d, _, channels = desk()
    sup, alice = Client(SUPER, 100), Client(ALICE, 100)
    d.hub.attach(sup)
    d.hub.attach(alice)
    drain(sup)
    drain(alice)
    await d.run(ALICE, p.WarmTransfer(None, "1.1", "agent", "Bob"))
    channels.live = [CONSULT_CH]
    await d.run(ALICE, p.Consult(None, "1.1", "conference"))
    told = [(m["state"], m["target"], m["linkedid"]) for m in drain(sup) if m["type"] == "consult"]
    assert told == [("consulting", "Bob", "1.1"), ("conference", "Bob", "1.1")]
    assert [m for m in drain(alice) if m["type"] == "consult"] == []


async def test_after_the_first_agent_leaves_the_colleague_hangs_up_their_own_channel_in_the_room() -> None:
    """The colleague's originated channel has a Linkedid of its own (its Uniqueid, the ChannelId): their
    Hang up finds it there, and the call is theirs with the customer on their card and the supervisors'."""
    d, link, channels = desk()
    bob, sup = Client(BOB, 100), Client(SUPER, 100)
    d.hub.attach(bob)
    d.hub.attach(sup)
    await d.run(ALICE, p.Conference(None, "1.1", "start", "agent", "Bob"))
    channel_id = link.sent[1]["ChannelId"]
    bob_ch = "PJSIP/1002-0000000e"
    channels.agent_channels[(channel_id, "Bob")] = bob_ch
    d.hub.on_events(
        [OriginateFinished(1_700_000_030.0, "pbx1", "", channel_id, LinkedId(channel_id), 4, "answered")]
    )
    drain(bob), drain(sup)
    await d.run(ALICE, p.Conference(None, "1.1", "leave"))
    told = [(m["event"], m.get("agent")) for m in drain(bob) if m["type"] == "call"]
    assert told == [("answered", "Bob")]
    assert ("answered", "Bob") in [
        (m.get("event"), m.get("agent")) for m in drain(sup) if m["type"] == "call"
    ]
    assert d.hub.may_act_on(BOB, "1.1") and d.hub.calls[LinkedId("1.1")].agent == "Bob"
    await d.run(BOB, p.Hangup(None, "1.1"))
    assert link.sent[-1] == {"Action": "Hangup", "Channel": bob_ch}  # not the customer's
