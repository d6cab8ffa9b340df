"""The desk's CTI hold, unhold, park and pick-up (docs/design/hold-and-park.md): the AMI actions sent, who
may act, what a refusal looks like, and the held caller who is never left alone."""

from __future__ import annotations

import asyncio

import pytest

from cti.core.events import CallerInfo, CallHoldChanged, CallParked, CallUnparked
from cti.core.ids import AgentId, LinkedId, UniqueId
from cti.screenpop import protocol as p
from cti.screenpop.actions import Desk, DeskError
from cti.screenpop.tokens import Identity
from tests.bus.events import inbound_call
from tests.screenpop.fakes import FakeChannels, FakeLink
from tests.screenpop.test_actions import ALICE, SUPER, desk

BOB = Identity("bob", "agent", AgentId("Bob"), 1e12)
MINE = "Local/1001@agents-0000000a;1"
CALLER = "Local/4155550101@callers-00000001;1"
HOLD = {
    "Action": "Redirect",
    "Channel": CALLER,
    "Context": "cti-hold",
    "Exten": "s",
    "Priority": "1",
    "ExtraChannel": MINE,
    "ExtraContext": "cti-hold-agent",
    "ExtraExten": "s",
    "ExtraPriority": "1",
}
BRIDGE = {"Action": "Bridge", "Channel1": MINE, "Channel2": CALLER, "Tone": "no"}


def answered() -> tuple[Desk, FakeLink, FakeChannels]:
    d, link, channels = desk(*inbound_call("1.1", agent="Alice")[:4])
    channels.agent_channels[("1.1", "Alice")] = MINE
    channels.caller_channels["1.1"] = CALLER
    return d, link, channels


def held_event(on: bool) -> CallHoldChanged:
    return CallHoldChanged(1.0, "pbx1", LinkedId("1.1"), UniqueId("1.1"), on)


async def test_hold_redirects_both_channels_and_resume_bridges_them_again() -> None:
    d, link, _ = answered()
    assert await d.run(ALICE, p.Hold(None, "1.1", True)) == {"linkedid": "1.1", "held": True}
    d.hub.on_events([held_event(True)])
    assert await d.run(ALICE, p.Hold(None, "1.1", False)) == {"linkedid": "1.1", "held": False}
    assert link.sent == [HOLD, BRIDGE]
    assert d.held == {}


async def test_a_supervisor_may_hold_an_agents_call_and_another_agent_may_not() -> None:
    d, link, _ = answered()
    with pytest.raises(DeskError) as e:
        await d.run(BOB, p.Hold(None, "1.1", True))
    assert e.value.code == "forbidden" and link.sent == []
    await d.run(SUPER, p.Hold(None, "1.1", True))
    assert link.sent == [HOLD]  # the channel of the agent who answered


async def test_refusals_of_hold_are_clear_and_send_nothing() -> None:
    d, link, channels = answered()
    d.hub.on_events([held_event(True)])
    with pytest.raises(DeskError, match="on hold already"):
        await d.run(ALICE, p.Hold(None, "1.1", True))
    d.hub.on_events([held_event(False)])
    with pytest.raises(DeskError, match="not on hold") as e:
        await d.run(ALICE, p.Hold(None, "1.1", False))
    assert e.value.code == "not_allowed"
    del channels.agent_channels[("1.1", "Alice")]
    with pytest.raises(DeskError) as e:
        await d.run(ALICE, p.Hold(None, "1.1", True))
    assert e.value.code == "no_channel"
    ringing, link2, _ = desk(*inbound_call("2.2", agent="Alice")[:2])
    with pytest.raises(DeskError, match="it is ringing") as e:
        await ringing.run(ALICE, p.Hold(None, "2.2", True))
    assert e.value.code == "not_allowed"
    assert link.sent == [] and link2.sent == []


async def test_a_hold_asterisk_refuses_is_a_desk_error_with_its_message_and_nothing_is_held() -> None:
    d, link, _ = answered()
    link.refuse = "ExtraChannel does not exist: " + MINE
    with pytest.raises(DeskError, match="Asterisk refused Redirect: ExtraChannel does not exist") as e:
        await d.run(ALICE, p.Hold(None, "1.1", True))
    assert e.value.code == "ami_refused" and d.held == {}
    link.refuse = None
    await d.run(ALICE, p.Hold(None, "1.1", True))
    d.hub.on_events([held_event(True)])
    link.refuse = "Unable to add Channel1 to bridge: " + MINE
    with pytest.raises(DeskError, match="Asterisk refused Bridge"):
        await d.run(ALICE, p.Hold(None, "1.1", False))
    assert ("pbx1", "1.1") in d.held  # still on hold: the caller is not forgotten


async def test_hanging_up_a_held_call_hangs_up_the_caller_too() -> None:
    d, link, _ = answered()
    await d.run(ALICE, p.Hold(None, "1.1", True))
    d.hub.on_events([held_event(True)])
    await d.run(ALICE, p.Hangup(None, "1.1"))
    assert link.sent[1:] == [
        {"Action": "Hangup", "Channel": MINE},
        {"Action": "Hangup", "Channel": CALLER},
    ]
    assert d.held == {}


async def test_a_held_call_is_transferred_by_redirecting_the_caller_then_ending_the_agents_leg() -> None:
    d, link, _ = answered()
    await d.run(ALICE, p.Hold(None, "1.1", True))
    d.hub.on_events([held_event(True)])
    await d.run(ALICE, p.Transfer(None, "1.1", "queue", "sales"))
    assert link.sent[1:] == [
        {"Action": "Redirect", "Channel": CALLER, "Context": "inbound", "Exten": "sales", "Priority": "1"},
        {"Action": "Hangup", "Channel": MINE},
    ]
    assert d.held == {}


async def test_a_caller_held_too_long_goes_back_to_the_agent_or_is_requeued_without_one() -> None:
    d, link, channels = answered()
    d.hold_timeout = 0.05
    await d.run(ALICE, p.Hold(None, "1.1", True))
    await asyncio.sleep(0.2)
    assert link.sent == [HOLD, BRIDGE]  # the agent is still there: the caller is given back
    assert d.held == {}
    await d.run(ALICE, p.Hold(None, "1.1", True))
    del channels.agent_channels[("1.1", "Alice")]  # the agent's phone hung up meanwhile
    held = d.held[("pbx1", "1.1")]
    assert await d.recall(held) == "requeued"
    assert link.sent[-1] == {
        "Action": "Redirect",
        "Channel": CALLER,
        "Context": "inbound",
        "Exten": "sales",
        "Priority": "1",
    }
    assert await d.recall(held) == ""  # once


async def test_park_parks_the_caller_then_ends_the_agents_leg() -> None:
    d, link, _ = answered()
    d.park_timeout = 90
    assert await d.run(ALICE, p.Park(None, "1.1")) == {"linkedid": "1.1", "parked": True}
    assert link.sent == [
        {
            "Action": "Park",
            "Channel": CALLER,
            "TimeoutChannel": MINE,
            "Parkinglot": "default",
            "Timeout": "90000",
        },
        {"Action": "Hangup", "Channel": MINE},
    ]


async def test_a_park_asterisk_refuses_keeps_the_agent_on_the_call() -> None:
    d, link, _ = answered()
    link.refuse = "Park action failed"
    with pytest.raises(DeskError, match="Asterisk refused Park: Park action failed"):
        await d.run(ALICE, p.Park(None, "1.1"))
    assert [a["Action"] for a in link.sent] == ["Park"]  # no hang-up of the agent


async def test_any_agent_picks_up_a_parked_call_on_their_own_phone() -> None:
    d, link, _ = answered()
    parked = CallParked(
        2.0,
        "pbx1",
        LinkedId("1.1"),
        UniqueId("1.1"),
        CALLER,
        "default",
        "701",
        120.0,
        "Local/1001@agents",
        CallerInfo("+14155550101", "Jane Roe"),
    )
    d.hub.on_events([parked])
    assert await d.run(BOB, p.Pickup(None, "1.1", "pbx1")) == {"linkedid": "1.1", "space": "701"}
    (sent,) = link.sent
    assert (sent["Action"], sent["Channel"], sent["Context"], sent["Exten"], sent["Async"]) == (
        "Originate",
        "Local/Bob@agents/n",
        "parkedcalls",
        "701",
        "true",
    )
    with pytest.raises(DeskError) as e:
        await d.run(SUPER, p.Pickup(None, "1.1", "pbx1"))
    assert e.value.code == "forbidden"
    d.hub.on_events(
        [
            CallUnparked(
                3.0, "pbx1", LinkedId("1.1"), UniqueId("1.1"), "default", "701", "retrieved", AgentId("Bob")
            )
        ]
    )
    with pytest.raises(DeskError) as e:
        await d.run(BOB, p.Pickup(None, "1.1", "pbx1"))
    assert e.value.code == "no_call"
    view = d.hub.calls[LinkedId("1.1")]
    assert view.agent == "Bob" and view.state == "answered"  # Bob's call now: he may hold it


def test_the_commands_parse() -> None:
    assert p.parse('{"type": "hold", "linkedid": "1.1", "ref": 3}') == p.Hold(3, "1.1", True)
    assert p.parse('{"type": "unhold", "linkedid": "1.1"}') == p.Hold(None, "1.1", False)
    assert p.parse('{"type": "park", "linkedid": "1.1"}') == p.Park(None, "1.1")
    assert p.parse('{"type": "pickup", "linkedid": "1.1", "server": "pbx1"}') == p.Pickup(None, "1.1", "pbx1")
    with pytest.raises(p.BadMessage):
        p.parse('{"type": "hold"}')


def test_the_parked_list_goes_to_every_agent_and_a_call_that_ends_leaves_it() -> None:
    d, _, _ = answered()
    parked = CallParked(
        2.0, "pbx1", LinkedId("1.1"), UniqueId("1.1"), CALLER, "default", "702", 60.0, "", CallerInfo("1", "")
    )
    d.hub.on_events([parked])
    assert d.hub.snapshot(BOB)["parked"][0]["space"] == "702"  # Bob never rang for it: he sees it too
    assert d.hub.snapshot(ALICE)["calls"][0]["state"] == "parked"
    d.hub.on_events(inbound_call("1.1", agent="Alice")[-1:])  # ended, with no ParkedCallGiveUp seen
    assert d.hub.parked == {} and d.hub.snapshot(BOB)["parked"] == []
