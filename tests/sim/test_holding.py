"""CTI hold (dual Redirect, Bridge) and call parking (Park, ParkedCall...) in the simulated PBX: the
replies and the events in Asterisk's order and with its headers (docs: /work/shared/docs/ami-reference.md
section 4; res/parking/parking_manager.c for the parking events)."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from cti.asterisk.ami import Message
from cti.sim.scenario import parse_scenario
from cti.sim.server import SimServer
from tests.sim.conftest import RawClient, frozen

SCENARIO = """
[sim]
version = "13.0.0"
timestampevents = true
[[users]]
username = "cti"
secret = "ctisecret"
read = "all"
write = "all"
[[agents]]
extension = "1006"
name = "Frank"
ring_delay = 2
manual = true
max_talk = 1800
[[queues]]
name = "sales"
strategy = "ringall"
timeout = 15
members = [{ agent = "1006" }]
"""


@pytest.fixture
async def pbx() -> AsyncIterator[SimServer]:
    async for server in frozen(parse_scenario(tomllib.loads(SCENARIO))):
        yield server


@asynccontextmanager
async def with_client(sim: SimServer) -> AsyncIterator[RawClient]:
    client = await RawClient.connect(sim.port)
    try:
        yield client
    finally:
        client.close()


async def until(client: RawClient, name: str, **match: str) -> list[Message]:
    """The events up to and including the first ``name`` (with ``match``)."""
    seen: list[Message] = []

    def stop(m: Message) -> bool:
        if m.event is not None:
            seen.append(m)
        return m.event == name and all(m.get(k) == v for k, v in match.items())

    await client.expect(stop)
    return seen


SKIP = {"VarSet", "Newexten", "Newstate", "NewConnectedLine", "QueueMemberStatus", "DeviceStateChange"}


def flow(events: list[Message]) -> list[Message]:
    """The call's lifecycle events (channel-state noise left out)."""
    return [m for m in events if m.event not in SKIP]


def names(events: list[Message]) -> list[str]:
    return [str(m.event) for m in flow(events)]


async def answered_call(sim: SimServer, client: RawClient) -> tuple[str, str]:
    """A caller in sales answered by Frank: (the caller's channel, the agent's)."""
    await client.login()
    sim.place_call("4155550101", "Cust", "sales", patience=600, talk=None)
    sim.advance(3)
    connect = (await until(client, "AgentConnect"))[-1]
    await until(client, "BridgeEnter", Channel=connect["Channel"])
    return connect["Channel"] or "", connect["DestChannel"] or ""


async def action(client: RawClient, aid: str, **headers: str) -> Message:
    await client.send(ActionID=aid, **headers)
    return await client.response(aid)


async def hold(client: RawClient, caller: str, agent: str) -> Message:
    """cti's hold: the caller to cti-hold, the agent's channel to cti-hold-agent, in one Redirect."""
    return await action(
        client,
        "h",
        Action="Redirect",
        Channel=caller,
        Context="cti-hold",
        Exten="s",
        Priority="1",
        ExtraChannel=agent,
        ExtraContext="cti-hold-agent",
        ExtraExten="s",
        ExtraPriority="1",
    )


async def pick_up(client: RawClient, space: str) -> Message:
    """cti's pick-up: Frank's phone originated into parkedcalls,<space>."""
    return await action(
        client,
        "o",
        Action="Originate",
        Channel="Local/1006@agents/n",
        Context="parkedcalls",
        Exten=space,
        Priority="1",
        Async="true",
    )


async def test_hold_is_a_dual_redirect_to_the_holding_contexts_and_bridge_brings_it_back(
    pbx: SimServer,
) -> None:
    async with with_client(pbx) as client:
        caller, agent = await answered_call(pbx, client)
        reply = await hold(client, caller, agent)
        assert (reply["Response"], reply["Message"]) == ("Success", "Dual Redirect successful")
        held = flow(await until(client, "MusicOnHoldStart"))
        assert names(held) == ["BridgeLeave", "BridgeLeave", "BridgeDestroy", "MusicOnHoldStart"]
        assert [m["Channel"] for m in held if m.event == "BridgeLeave"] == [caller, agent]
        moh = held[-1]
        assert (moh["Channel"], moh["Class"], moh["Context"]) == (caller, "default", "cti-hold")
        assert not any(m.event == "AgentComplete" for m in held)  # app_queue sees no hangup

        reply = await action(client, "b", Action="Bridge", Channel1=agent, Channel2=caller)
        assert (reply["Response"], reply["Message"]) == ("Success", "Channels have been bridged")
        back = flow(await until(client, "BridgeEnter", Channel=caller))
        assert names(back) == ["MusicOnHoldStop", "BridgeCreate", "BridgeEnter", "BridgeEnter"]
        assert back[0]["Channel"] == caller and back[2]["Channel"] == agent
        assert back[2]["BridgeUniqueid"] == back[1]["BridgeUniqueid"] == back[3]["BridgeUniqueid"]
        assert back[3]["BridgeNumChannels"] == "2"
        assert back[3]["Linkedid"] == back[2]["Linkedid"]  # still one call

        reply = await action(client, "x", Action="Hangup", Channel=agent)
        assert reply["Message"] == "Channel Hungup"
        done = await until(client, "AgentComplete")
        assert done[-1]["Reason"] == "agent"
    completes = [line.split("|")[4] for line in pbx.queue_log_lines()]
    assert completes[-1] == "COMPLETEAGENT"  # once, at the end: the hold is inside the call


async def test_the_holding_actions_refuse_with_asterisks_texts(pbx: SimServer) -> None:
    async with with_client(pbx) as client:
        caller, agent = await answered_call(pbx, client)
        base = {"Action": "Redirect", "Channel": caller, "Context": "cti-hold", "Exten": "s"}
        extra = {"ExtraContext": "cti-hold-agent", "ExtraExten": "s", "ExtraPriority": "1"}
        r = await action(client, "1", **base, Priority="1", ExtraChannel="PJSIP/nobody-1", **extra)
        assert r["Message"] == "ExtraChannel does not exist: PJSIP/nobody-1"
        r = await action(client, "2", Action="Bridge", Channel1=agent)
        assert r["Message"] == "Missing channel parameter in request"
        r = await action(client, "3", Action="Bridge", Channel1="SIP/none", Channel2=caller)
        assert r["Message"] == "Channel1 does not exist: SIP/none"
        r = await action(client, "4", Action="Bridge", Channel1=agent, Channel2="SIP/none")
        assert r["Message"] == "Channel2 does not exist: SIP/none"
        r = await action(client, "5", Action="Park")
        assert r["Message"] == "Channel not specified"
        r = await action(client, "6", Action="Park", Channel=caller, Timeout="soon")
        assert r["Message"] == "Invalid Timeout value."
        r = await action(client, "7", Action="Park", Channel="SIP/none")
        assert r["Message"] == "Channel does not exist: SIP/none"
        r = await action(client, "8", Action="Park", Channel=caller, Parkinglot="nosuchlot")
        assert r["Message"] == "Park action failed"
        assert all(m.response == "Error" for m in [r])


async def test_park_then_pick_up_from_parkedcalls_701(pbx: SimServer) -> None:
    async with with_client(pbx) as client:
        caller, agent = await answered_call(pbx, client)
        reply = await action(
            client, "p", Action="Park", Channel=caller, TimeoutChannel=agent, Timeout="30000"
        )
        assert (reply["Response"], reply["Message"]) == ("Success", "Park successful")
        parked = flow(await until(client, "MusicOnHoldStart"))
        assert names(parked) == [
            "BridgeLeave",
            "BridgeCreate",
            "ParkedCall",
            "BridgeEnter",
            "MusicOnHoldStart",
        ]
        call = parked[2]
        assert call["ParkeeChannel"] == caller and call["ParkingSpace"] == "701"
        assert (call["Parkinglot"], call["ParkerDialString"]) == ("default", "Local/1006@agents")
        assert (call["ParkingTimeout"], call["ParkingDuration"]) == ("30", "0")
        assert parked[1]["BridgeType"] == "parking" and parked[3]["Channel"] == caller

        await action(client, "a", Action="Hangup", Channel=agent)  # cti ends the agent's leg
        done = await until(client, "AgentComplete")
        assert done[-1]["Reason"] == "agent"
        pbx.advance(5)
        reply = await pick_up(client, "701")
        assert reply["Response"] == "Success"
        pbx.advance(3)  # Frank's phone rings 2 s
        back = flow(await until(client, "BridgeEnter", Channel=caller))
        unparked = next(m for m in back if m.event == "UnParkedCall")
        assert unparked["ParkeeChannel"] == caller and unparked["ParkingSpace"] == "701"
        assert (unparked["RetrieverChannel"] or "").startswith("Local/1006@agents-")
        assert unparked["ParkingDuration"] == "7"  # parked 5 s before the pick-up, which rang 2 s
        tail = names(back[back.index(unparked) :])
        assert tail == [
            "UnParkedCall",
            "BridgeLeave",
            "MusicOnHoldStop",
            "BridgeCreate",
            "BridgeEnter",
            "BridgeEnter",
        ]
        await action(client, "z", Action="Hangup", Channel=caller)
        gone = await until(client, "BridgeDestroy")
        assert sum(1 for m in gone if m.event == "Hangup") >= 2


async def test_a_parked_call_times_out_to_the_parker_and_a_parked_caller_may_give_up(pbx: SimServer) -> None:
    async with with_client(pbx) as client:
        caller, agent = await answered_call(pbx, client)
        await action(client, "p", Action="Park", Channel=caller, TimeoutChannel=agent, Timeout="10000")
        await action(client, "a", Action="Hangup", Channel=agent)
        await until(client, "AgentComplete")
        pbx.advance(11)
        out = await until(client, "DialBegin")
        timed = next(m for m in out if m.event == "ParkedCallTimeOut")
        assert timed["ParkeeChannel"] == caller and timed["ParkingTimeout"] == "0"
        assert out[-1]["DialString"] == "1006@agents/n" and out[-1]["Channel"] == caller
        pbx.advance(3)
        await until(client, "BridgeEnter", Channel=caller)  # Frank answers the ring-back

        sim_caller, sim_agent = await answered_second(pbx, client)
        await action(client, "p2", Action="Park", Channel=sim_caller, TimeoutChannel=sim_agent)
        await until(client, "ParkedCall", ParkeeChannel=sim_caller)
        await action(client, "g", Action="Hangup", Channel=sim_caller)
        gave = await until(client, "Hangup", Channel=sim_caller)
        assert names(gave) == ["ParkedCallGiveUp", "BridgeLeave", "MusicOnHoldStop", "Hangup"]


async def answered_second(sim: SimServer, client: RawClient) -> tuple[str, str]:
    await action(client, "hx", Action="Hangup", Channel="/.*/")
    sim.advance(10)  # wrap-up, if any
    sim.place_call("4155550102", "Second", "sales", patience=600, talk=None)
    sim.advance(3)
    connect = (await until(client, "AgentConnect", CallerIDNum="4155550102"))[-1]
    await until(client, "BridgeEnter", Channel=connect["Channel"])
    return connect["Channel"] or "", connect["DestChannel"] or ""


async def test_a_held_caller_redirected_elsewhere_leaves_the_agent_in_cti_hold_agent(pbx: SimServer) -> None:
    async with with_client(pbx) as client:
        caller, agent = await answered_call(pbx, client)
        await hold(client, caller, agent)
        await until(client, "MusicOnHoldStart")
        r = await action(
            client, "t", Action="Redirect", Channel=caller, Context="inbound", Exten="hold", Priority="1"
        )
        assert r["Message"] == "Redirect successful"
        pbx.advance(7)  # inbound,hold: Read() then CtiWaiting
        moved = flow(await until(client, "UserEvent", UserEvent="CtiWaiting"))
        assert names(moved)[:1] == ["MusicOnHoldStop"]
        assert not any(m.event in ("Hangup", "AgentComplete") for m in moved)  # the agent's leg stays
        assert pbx.pbx.channels.find(agent) is not None
        await action(client, "a", Action="Hangup", Channel=agent)
        done = await until(client, "AgentComplete")
        assert done[-1]["Reason"] == "agent"
        assert pbx.pbx.channels.find(caller) is not None  # the caller waits for cti's routing
