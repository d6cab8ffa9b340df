"""Listen, whisper and barge (cti.screenpop.spying): the desk's AMI actions, its refusals, the hub's
sessions from ChanSpyStart/ChanSpyStop, told to supervisors only."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from cti.core.events import AgentState, OriginateFinished, SpyStarted, SpyStopped
from cti.core.ids import AgentId
from cti.screenpop import protocol as p
from cti.screenpop.actions import Contexts, Desk, DeskError
from cti.screenpop.hub import Client, Hub
from cti.screenpop.live import LiveBoard
from cti.screenpop.spying import chanspy_data
from cti.screenpop.tokens import Identity
from tests.bus.events import agent_state, inbound_call
from tests.screenpop.fakes import FakeChannels, FakeLink, FakeStore

ALICE = Identity("alice", "agent", AgentId("Alice"), 1e12)
SUPER = Identity("super", "supervisor", None, 1e12)
NOPHONE = Identity("nophone", "supervisor", None, 1e12)
AGENT_CHANNEL = "Local/1001@agents-0000001a;1"


@dataclass
class Account:
    interface: str


@dataclass
class Accounts:
    phones: dict[str, str] = field(default_factory=lambda: {"super": "PJSIP/2001", "nophone": ""})
    down: bool = False

    async def agent(self, username: str) -> Account | None:
        if self.down:
            raise ConnectionRefusedError("database down")
        return Account(self.phones[username]) if username in self.phones else None


def desk(answered: bool = True) -> tuple[Desk, FakeLink]:
    hub = Hub(board=LiveBoard(lambda q: 20.0))
    hub.on_events([agent_state("Alice", AgentState.AVAILABLE), agent_state("Bob", AgentState.AVAILABLE)])
    call = inbound_call("1.1", agent="Alice")
    hub.on_events(call[:4] if answered else call[:2])
    link = FakeLink()
    channels = FakeChannels({("1.1", "Alice"): AGENT_CHANNEL})
    d = Desk(hub, {"pbx1": link}.get, channels, FakeStore.demo(), Contexts())
    d.accounts = Accounts()
    return d, link


def _clients(hub: Hub) -> tuple[Client, Client]:
    sup, agent = Client(SUPER, 100), Client(ALICE, 100)
    for c in (sup, agent):
        hub.attach(c)
    return sup, agent


def _spy_messages(client: Client) -> list[dict[str, Any]]:
    return [m for m in map(json.loads, client.take_waiting()) if m["type"] == "spy"]


async def test_listen_originates_the_supervisors_phone_into_chanspy_on_the_agents_channel() -> None:
    d, link = desk()
    result = await d.run(SUPER, p.Spy(None, "Alice", "listen"))
    (sent,) = link.sent
    assert sent["Action"] == "Originate" and sent["Channel"] == "PJSIP/2001"
    assert sent["Application"] == "ChanSpy" and sent["Data"] == f"{AGENT_CHANNEL},qESd"
    assert sent["Async"] == "true" and sent["ChannelId"].startswith("spy-")
    assert result["mode"] == "listen" and result["state"] == "calling" and result["agent"] == "Alice"
    assert chanspy_data(AGENT_CHANNEL, "whisper").endswith(",qESdw")
    assert chanspy_data(AGENT_CHANNEL, "barge").endswith(",qESdB")


async def test_switching_mode_presses_the_chanspy_digit_on_the_spyers_channel_no_second_call() -> None:
    d, link = desk()
    sup, agent = _clients(d.hub)
    await d.run(SUPER, p.Spy(None, "Alice", "whisper"))
    with pytest.raises(DeskError) as e:  # the phone still rings: no channel to press keys on
        await d.run(SUPER, p.Spy(None, "Alice", "barge"))
    assert e.value.code == "not_started"
    channel_id = link.sent[0]["ChannelId"]
    d.hub.on_events([SpyStarted(1.0, "pbx1", "PJSIP/2001-00000007", channel_id, AGENT_CHANNEL, "1.1")])
    await d.run(SUPER, p.Spy(None, "Alice", "barge"))
    assert link.sent[-1] == {
        "Action": "PlayDTMF",
        "Channel": "PJSIP/2001-00000007",
        "Digit": "6",
        "Receive": "true",
    }
    await d.run(SUPER, p.Spy(None, "Alice", "listen"))
    assert link.sent[-1]["Digit"] == "4" and len([a for a in link.sent if a["Action"] == "Originate"]) == 1
    states = [(m["mode"], m["state"]) for m in _spy_messages(sup)]
    assert states == [("whisper", "calling"), ("whisper", "on"), ("barge", "on"), ("listen", "on")]
    assert _spy_messages(agent) == []  # the agent is never told


async def test_stop_hangs_up_the_spyers_channel_and_chanspystop_ends_the_session() -> None:
    d, link = desk()
    sup, _ = _clients(d.hub)
    await d.run(SUPER, p.Spy(None, "Alice", "listen"))
    channel_id = link.sent[0]["ChannelId"]
    d.hub.on_events([SpyStarted(1.0, "pbx1", "PJSIP/2001-00000007", channel_id, AGENT_CHANNEL, "1.1")])
    await d.run(SUPER, p.Spy(None, None, "stop"))
    assert link.sent[-1] == {"Action": "Hangup", "Channel": "PJSIP/2001-00000007"}
    assert d.hub.spies.of("super") is None
    # a new session; the agent's channel hangs up: ChanSpyStop (with E, the spyer goes too)
    await d.run(SUPER, p.Spy(None, "Alice", "listen"))
    channel_id = link.sent[-1]["ChannelId"]
    d.hub.on_events([SpyStarted(2.0, "pbx1", "PJSIP/2001-00000008", channel_id, AGENT_CHANNEL, "1.1")])
    d.hub.on_events([SpyStopped(3.0, "pbx1", "PJSIP/2001-00000008", channel_id)])
    assert d.hub.spies.of("super") is None
    assert [m["state"] for m in _spy_messages(sup)][-1] == "ended"
    assert d.hub.snapshot(SUPER)["spies"] == [] and "spies" not in d.hub.snapshot(ALICE)


async def test_stopping_while_the_phone_rings_hangs_it_up_by_its_uniqueid() -> None:
    d, link = desk()
    await d.run(SUPER, p.Spy(None, "Alice", "listen"))
    channel_id = link.sent[0]["ChannelId"]
    await d.run(SUPER, p.Spy(None, None, "stop"))
    assert link.sent[-1] == {"Action": "Hangup", "Channel": channel_id}


async def test_a_phone_that_does_not_answer_ends_the_session() -> None:
    d, link = desk()
    await d.run(SUPER, p.Spy(None, "Alice", "listen"))
    channel_id = link.sent[0]["ChannelId"]
    d.hub.on_events([OriginateFinished(1.0, "pbx1", "", channel_id, None, 3, "no-answer")])
    assert d.hub.spies.of("super") is None
    # answered, but ChanSpy found nothing (S) and the phone hung up: no ChanSpyStop, its Hangup ends it
    await d.run(SUPER, p.Spy(None, "Alice", "listen"))
    channel_id = link.sent[-1]["ChannelId"]
    d.hub.on_events([OriginateFinished(2.0, "pbx1", "", channel_id, None, 4, "answered")])
    assert d.hub.spies.of("super") is not None
    d.hub.on_events([SpyStopped(3.0, "pbx1", "", channel_id)])
    assert d.hub.spies.of("super") is None


async def test_only_a_supervisor_may_listen_in() -> None:
    d, link = desk()
    with pytest.raises(DeskError) as e:
        await d.run(ALICE, p.Spy(None, "Alice", "listen"))
    assert e.value.code == "forbidden" and link.sent == []


async def test_a_supervisor_without_a_phone_is_told_how_to_give_their_account_one() -> None:
    d, link = desk()
    with pytest.raises(DeskError) as e:
        await d.run(NOPHONE, p.Spy(None, "Alice", "listen"))
    assert e.value.code == "no_phone" and "--interface" in e.value.message and "nophone" in e.value.message
    assert link.sent == [] and d.hub.spies.of("nophone") is None
    assert isinstance(d.accounts, Accounts)
    d.accounts.down = True
    with pytest.raises(DeskError) as e:
        await d.run(SUPER, p.Spy(None, "Alice", "listen"))
    assert e.value.code == "store_failed"


async def test_a_call_that_ended_or_is_only_ringing_is_refused() -> None:
    d, link = desk()
    d.hub.on_events(inbound_call("1.1", agent="Alice")[4:])  # held, resumed, ended
    with pytest.raises(DeskError) as e:
        await d.run(SUPER, p.Spy(None, "Alice", "listen"))
    assert e.value.code == "no_call" and "not on a call" in e.value.message
    ringing, link2 = desk(answered=False)
    with pytest.raises(DeskError) as e:
        await ringing.run(SUPER, p.Spy(None, "Alice", "listen"))
    assert e.value.code == "no_call" and link.sent == [] and link2.sent == []


async def test_one_session_per_supervisor_and_a_refused_originate_leaves_none() -> None:
    d, link = desk()
    with pytest.raises(DeskError) as e:
        await d.run(SUPER, p.Spy(None, None, "stop"))
    assert e.value.code == "not_spying"
    link.refuse = "Extension does not exist."
    with pytest.raises(DeskError) as e:
        await d.run(SUPER, p.Spy(None, "Alice", "listen"))
    assert e.value.code == "ami_refused" and d.hub.spies.of("super") is None
    link.refuse = None
    await d.run(SUPER, p.Spy(None, "Alice", "listen"))
    d.hub.on_events(inbound_call("2.2", agent="Bob")[:4])
    d.channels.agent_channels[("2.2", "Bob")] = "Local/1002@agents-0000001b;1"  # type: ignore[attr-defined]
    with pytest.raises(DeskError) as e:
        await d.run(SUPER, p.Spy(None, "Bob", "listen"))
    assert e.value.code == "busy"


def test_the_spy_command_is_parsed_and_checked() -> None:
    assert p.parse('{"type":"spy","agent":"Alice","mode":"whisper"}') == p.Spy(None, "Alice", "whisper")
    assert p.parse('{"type":"spy","mode":"stop"}') == p.Spy(None, None, "stop")
    for bad in ('{"type":"spy","agent":"Alice","mode":"shout"}', '{"type":"spy","mode":"listen"}'):
        with pytest.raises(p.BadMessage):
            p.parse(bad)
