"""The call tracker through a CTI hold (the caller and the agent Redirected out of the queue's bridge,
then bridged again) and a park: the simulated Asterisk's own event stream, fed to a ``CallTracker``."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator

import pytest

from cti.asterisk.ami import Message
from cti.asterisk.calls import CallTracker
from cti.asterisk.snapshot import ResyncSnapshot
from cti.core.events import (
    AgentRinging,
    AgentState,
    AgentStateChanged,
    CallEnded,
    CallHoldChanged,
    CallParked,
    CallUnparked,
    DomainEvent,
)
from cti.core.ids import AgentId
from cti.sim.scenario import parse_scenario
from cti.sim.server import SimServer
from tests.sim.conftest import RawClient, frozen
from tests.sim.test_holding import SCENARIO, action, answered_call, hold, pick_up, with_client

FRANK = AgentId("Frank")


@pytest.fixture
async def pbx() -> AsyncIterator[SimServer]:
    async for server in frozen(parse_scenario(tomllib.loads(SCENARIO))):
        yield server


class Fed:
    """Every event the client has read, fed to a tracker that first read the queue members."""

    def __init__(self, client: RawClient) -> None:
        self.client = client
        self.tracker = CallTracker("sim")
        self.out: list[DomainEvent] = []
        self.fed = 0

    async def start(self) -> None:
        await self.client.send(Action="QueueStatus", ActionID="qs")
        items: list[Message] = []

        def complete(m: Message) -> bool:
            items.append(m)
            return m.event == "QueueStatusComplete"

        await self.client.expect(complete)
        members = [m for m in items if m.event in ("QueueParams", "QueueMember")]
        self.tracker.resync(ResyncSnapshot(0.0, "login", [], members))

    async def drain(self, last: str, **match: str) -> list[DomainEvent]:
        seen: list[Message] = []

        def stop(m: Message) -> bool:
            seen.append(m)
            return m.event == last and all(m.get(k) == v for k, v in match.items())

        await self.client.expect(stop)
        new: list[DomainEvent] = []
        for m in seen:
            if m.event is not None:
                new += self.tracker.feed(m)
        self.out += new
        return new

    def state(self) -> AgentState:
        return self.tracker.agents()[FRANK].state


async def test_a_held_call_is_one_journey_the_agent_stays_on_it_and_the_hold_is_counted(
    pbx: SimServer,
) -> None:
    async with with_client(pbx) as client:
        fed = Fed(client)
        await client.login()
        await fed.start()
        caller, agent = await answered_call(pbx, client)
        lid = await _linkedid(fed, client, caller)
        assert fed.state() is AgentState.ON_CALL
        pbx.advance(10)
        await hold(client, caller, agent)
        held = await fed.drain("MusicOnHoldStart")
        assert [(e.linkedid, e.on_hold) for e in held if isinstance(e, CallHoldChanged)] == [(lid, True)]
        assert not [e for e in held if isinstance(e, AgentStateChanged)]  # still on the call
        assert fed.state() is AgentState.ON_CALL
        pbx.advance(30)
        await action(client, "b", Action="Bridge", Channel1=agent, Channel2=caller)
        back = await fed.drain("BridgeEnter", Channel=caller)
        assert [(e.linkedid, e.on_hold) for e in back if isinstance(e, CallHoldChanged)] == [(lid, False)]
        assert fed.state() is AgentState.ON_CALL
        pbx.advance(20)
        await action(client, "x", Action="Hangup", Channel=agent)
        end = await fed.drain("Hangup", Channel=caller[:-1] + "2")  # the caller's outside half, last
    (ended,) = [e for e in end if isinstance(e, CallEnded)]
    j = ended.journey
    assert j.linkedid == lid and j.agents == [FRANK]
    assert j.hold_seconds == 30.0
    (leg,) = j.queue_legs
    assert leg.talk_seconds == 61.0  # answer (+2 s) to the hang-up (+63 s): the hold is inside the talk
    assert [e.journey.linkedid for e in fed.out if isinstance(e, CallEnded)] == [lid]  # one journey


async def test_a_parked_call_is_announced_and_picked_up_by_an_agent(pbx: SimServer) -> None:
    async with with_client(pbx) as client:
        fed = Fed(client)
        await client.login()
        await fed.start()
        caller, agent = await answered_call(pbx, client)
        lid = await _linkedid(fed, client, caller)
        await action(client, "p", Action="Park", Channel=caller, TimeoutChannel=agent, Timeout="60000")
        out = await fed.drain("MusicOnHoldStart")
        (parked,) = [e for e in out if isinstance(e, CallParked)]
        assert (parked.linkedid, parked.space, parked.lot, parked.timeout) == (lid, "701", "default", 60.0)
        assert parked.caller.number == "4155550101" and parked.parker == "Local/1006@agents"
        assert not [e for e in out if isinstance(e, CallHoldChanged)]  # parked, not held
        await action(client, "a", Action="Hangup", Channel=agent)
        await fed.drain("AgentComplete")
        pbx.advance(8)  # wrap-up, none here
        await pick_up(client, "701")
        pbx.advance(3)
        out = await fed.drain("BridgeEnter", Channel=caller)
    (unparked,) = [e for e in out if isinstance(e, CallUnparked)]
    assert (unparked.linkedid, unparked.outcome, unparked.agent) == (lid, "retrieved", FRANK)


async def _linkedid(fed: Fed, client: RawClient, caller: str) -> str:
    """The call's Linkedid, from the tracker fed the call so far (the raw stream kept by the client)."""
    from cti.asterisk.ami import AmiDecoder

    decoder = AmiDecoder(expect_banner=True)
    for m in decoder.receive_data(bytes(client.raw)):
        if m.event is not None and m.event not in ("QueueParams", "QueueMember", "QueueStatusComplete"):
            fed.out += fed.tracker.feed(m)
    client.inbox.clear()
    client.raw.clear()
    (journey,) = fed.tracker.live_journeys()
    return journey.linkedid


async def test_a_parked_call_that_times_out_rings_its_parker_back_on_the_same_journey(pbx: SimServer) -> None:
    async with with_client(pbx) as client:
        fed = Fed(client)
        await client.login()
        await fed.start()
        caller, agent = await answered_call(pbx, client)
        lid = await _linkedid(fed, client, caller)
        await action(client, "p", Action="Park", Channel=caller, TimeoutChannel=agent, Timeout="5000")
        await action(client, "a", Action="Hangup", Channel=agent)
        await fed.drain("AgentComplete")
        pbx.advance(6)
        out = await fed.drain("DialBegin")
    (timed_out,) = [e for e in out if isinstance(e, CallUnparked)]
    assert (timed_out.linkedid, timed_out.outcome, timed_out.agent) == (lid, "timeout", None)
    (ring,) = [e for e in out if isinstance(e, AgentRinging)]
    assert (ring.linkedid, ring.agent) == (lid, FRANK)  # the parker's console pops it again
