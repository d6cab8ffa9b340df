"""Warm transfers (Atxfer) and ConfBridge in the simulated PBX: the events real Asterisk sends, in order."""

from __future__ import annotations

import pytest

from cti.sim.channels import Channel
from cti.sim.consult import ATXFER_NOANSWER, CONFERENCE_CONTEXT, CONSULT_CONTEXT, CONSULT_DIAL_CONTEXT
from cti.sim.pbx import ActionError
from cti.sim.scenario import transcript_pbx
from cti.sim.server import SimServer
from tests.sim.conftest import RawClient
from tests.sim.model_harness import Harness


def _queue_call(h: Harness, talk: float = 300) -> tuple[Channel, Channel]:
    """A support call answered by an agent: (the agent's channel, the customer's channel)."""
    h.caller("4155550100", "support", patience=900, talk=talk)
    h.run(1.1)
    connect = h.named("AgentConnect")[0]
    agent = h.pbx.channels.find(connect["DestChannel"])
    customer = h.pbx.channels.find(connect["Channel"])
    assert agent is not None and customer is not None
    return agent, customer


def _names(h: Harness, since: int) -> list[str]:
    return [e["Event"] for e in h.events[since:]]


def _balanced(h: Harness) -> bool:
    """Every bridge created was destroyed, and every channel created hung up."""
    names = [e["Event"] for e in h.events]
    return names.count("BridgeCreate") == names.count("BridgeDestroy") and names.count(
        "Newchannel"
    ) == names.count("Hangup")


def _consult(h: Harness, agent: Channel, exten: str = "1001", context: str = CONSULT_CONTEXT) -> int:
    mark = len(h.events)
    h.pbx.atxfer(agent, context, exten)
    return mark


def test_atxfer_holds_the_customer_and_moves_the_agent_into_a_consultation_bridge() -> None:
    h = Harness(transcript_pbx())
    agent, customer = _queue_call(h)
    orig = agent.bridge
    mark = _consult(h, agent)
    names = _names(h, mark)
    assert names[:2] == ["Hold", "MusicOnHoldStart"]
    assert h.events[mark]["Channel"] == agent.name
    assert h.events[mark + 1]["Channel"] == customer.name and h.events[mark + 1]["Class"] == "default"
    new = [e for e in h.events[mark:] if e["Event"] == "Newchannel"]
    assert [e["Channel"].rsplit("-", 1)[0] for e in new[:2]] == [f"Local/1001@{CONSULT_CONTEXT}"] * 2
    assert {e["Linkedid"] for e in new} == {customer.linkedid}  # one journey
    attended = h.named("VarSet", Variable="ATTENDEDTRANSFER")
    assert attended and attended[0]["Value"] == agent.name
    assert h.named("VarSet", Variable="TRANSFERERNAME")[0]["Value"] == agent.name
    # the agent leaves the customer's bridge for the target bridge, the target's ;1 being there first
    leave = [e for e in h.events[mark:] if e["Event"] == "BridgeLeave"]
    assert leave[0]["Channel"] == agent.name and orig is not None
    assert leave[0]["BridgeUniqueid"] == orig.uniqueid
    assert agent.bridge is not None and agent.bridge is not orig and len(agent.bridge.channels) == 2
    assert "DialBegin" in names  # the ;2 dials the colleague's phone
    assert customer.bridge is orig


def test_complete_sends_attended_transfer_and_the_customer_talks_to_the_colleague() -> None:
    h = Harness(transcript_pbx())
    agent, customer = _queue_call(h)
    orig = agent.bridge
    assert orig is not None
    _consult(h, agent)
    h.run(1.2)  # Alice's phone answers after 1 s
    ups = [e for e in h.named("Newstate") if e["Channel"].startswith(f"Local/1001@{CONSULT_CONTEXT}")]
    assert {e["ChannelStateDesc"] for e in ups} == {"Up"}
    mark = len(h.events)
    h.pbx.hangup_channel(agent, 16)  # the transferer hangs up: complete
    names = _names(h, mark)
    order = [n for n in names if n in ("MusicOnHoldStop", "AttendedTransfer", "AgentComplete", "Hangup")]
    # the phone's ;2 goes first, then bridge_unhold, the merge's event, app_queue's, the transferer
    assert order[:5] == ["Hangup", "MusicOnHoldStop", "AttendedTransfer", "AgentComplete", "Hangup"]
    xfer = h.named("AttendedTransfer")[0]
    assert xfer["Result"] == "Success" and xfer["DestType"] == "Bridge"
    assert xfer["OrigTransfererChannel"] == agent.name == xfer["SecondTransfererChannel"]
    assert xfer["OrigBridgeUniqueid"] == orig.uniqueid == xfer["DestBridgeUniqueid"]
    assert xfer["SecondBridgeUniqueid"] != orig.uniqueid
    assert xfer["TransfereeChannel"] == customer.name and xfer["IsExternal"] == "No"
    assert h.named("AgentComplete")[0]["Reason"] == "transfer"
    line = h.verbs("ATTENDEDTRANSFER")[0]
    assert line[5:7] == ["BRIDGE", orig.uniqueid] and line[3] in ("Carol", "Dave")
    # the Local pair optimised away: the colleague's channel is now in the customer's bridge
    assert h.named("LocalOptimizationBegin") and h.named("LocalOptimizationEnd")
    assert customer.bridge is orig and len(orig.channels) == 2
    other = next(c for c in orig.channels if c is not customer)
    assert other.name.startswith("Local/1001@agents-")
    assert agent.hungup
    h.run(400)
    assert not len(h.pbx.channels) and _balanced(h)


def test_cancel_hangs_up_the_target_and_brings_the_agent_back_to_the_customer() -> None:
    h = Harness(transcript_pbx())
    agent, customer = _queue_call(h)
    orig = agent.bridge
    _consult(h, agent)
    h.run(1.2)
    one = h.pbx.consultations[0].one  # Local/1001@cti-consult-…;1
    mark = len(h.events)
    h.pbx.hangup_channel(one, 16)
    names = _names(h, mark)
    assert "AttendedTransfer" not in names and "AgentComplete" not in names
    assert names.index("Unhold") < names.index("MusicOnHoldStop")
    enter = [e for e in h.events[mark:] if e["Event"] == "BridgeEnter"]
    assert enter[-1]["Channel"] == agent.name and orig is not None
    assert enter[-1]["BridgeUniqueid"] == orig.uniqueid
    assert agent.bridge is orig and customer.bridge is orig
    assert not any(c.name.startswith("Local/1001@") for c in h.pbx.channels.all())
    h.pbx.hangup_channel(customer, 16)
    assert not len(h.pbx.channels) and _balanced(h)


def test_a_target_that_does_not_answer_gives_the_customer_back_after_atxfernoanswertimeout() -> None:
    h = Harness(transcript_pbx())
    agent, customer = _queue_call(h, talk=300)
    h.pbx.set_var(agent, "NOANSWER_1001", "1")  # inherited by the consultation: Alice never answers
    agent.variables["__RINGDELAY"] = "99"
    _consult(h, agent)
    h.run(ATXFER_NOANSWER - 0.5)
    assert agent.bridge is not customer.bridge
    h.run(1)
    assert agent.bridge is customer.bridge
    assert h.named("Unhold") and not h.named("AttendedTransfer")
    h.pbx.hangup_channel(agent, 16)
    assert not len(h.pbx.channels) and _balanced(h)


def test_a_busy_outside_number_gives_the_customer_back_at_once() -> None:
    h = Harness(transcript_pbx())
    agent, customer = _queue_call(h)
    _consult(h, agent, "4155550101", CONSULT_DIAL_CONTEXT)  # last digit 1: busy
    h.run(1)
    assert agent.bridge is customer.bridge
    assert h.named("MusicOnHoldStop")
    h.pbx.hangup_channel(customer, 16)
    assert not len(h.pbx.channels) and _balanced(h)


def test_atxfer_to_a_missing_extension_only_holds_and_unholds() -> None:
    h = Harness(transcript_pbx())
    agent, customer = _queue_call(h)
    mark = _consult(h, agent, "9999")
    assert _names(h, mark) == ["Hold", "MusicOnHoldStart", "Unhold", "MusicOnHoldStop"]
    assert agent.bridge is customer.bridge


def _conference(h: Harness, agent: Channel, customer: Channel, room: str = "700") -> None:
    h.pbx.redirect(agent, CONFERENCE_CONTEXT, room, 1)
    h.pbx.redirect(customer, CONFERENCE_CONTEXT, room, 1)


def test_conference_from_a_consultation_brings_three_into_confbridge() -> None:
    h = Harness(transcript_pbx())
    agent, customer = _queue_call(h)
    _consult(h, agent)
    h.run(1.2)
    one = h.pbx.consultations[0].one  # Local/1001@cti-consult-…;1
    mark = len(h.events)
    _conference(h, agent, customer)
    h.pbx.redirect(one, CONFERENCE_CONTEXT, "700", 1)
    names = _names(h, mark)
    assert names.count("ConfbridgeStart") == 1 and names.count("ConfbridgeJoin") == 3
    join = h.named("ConfbridgeJoin")
    assert [e["Channel"] for e in join] == [agent.name, customer.name, one.name]
    assert all(e["Conference"] == "700" and e["BridgeTechnology"] == "softmix" for e in join)
    assert join[0]["BridgeCreator"] == "ConfBridge" and join[0]["Admin"] == "No"
    assert "AttendedTransfer" not in names
    assert h.named("AgentComplete")[0]["Reason"] == "transfer"
    # the agent leaves: the customer and the colleague stay
    mark = len(h.events)
    h.pbx.conference_kick("700", agent.name)
    leave = [e for e in h.events[mark:] if e["Event"] == "ConfbridgeLeave"]
    assert [e["Channel"] for e in leave] == [agent.name] and agent.hungup
    assert not customer.hungup and not one.hungup
    # the end: everyone goes, the conference ends
    h.pbx.conference_kick("700", "all")
    assert customer.hungup and one.hungup
    names = _names(h, mark)
    end = names.index("ConfbridgeEnd")
    assert names[end - 1] == "ConfbridgeLeave" and names[end + 1] == "BridgeDestroy"
    assert [n for n in names if n.startswith("Confbridge")] == ["ConfbridgeLeave"] * 3 + ["ConfbridgeEnd"]
    assert "700" not in h.pbx.conferences
    h.run(10)
    assert not len(h.pbx.channels) and _balanced(h)


def test_conference_with_an_originated_third_party_and_a_kick_of_an_unknown_room() -> None:
    h = Harness(transcript_pbx())
    agent, customer = _queue_call(h)
    _conference(h, agent, customer, "701")
    h.pbx.originate("Local/1001@agents/n", CONFERENCE_CONTEXT, "701", 1, "", "", {}, "o1", None, None, 30.0)
    h.run(1.2)
    assert len(h.named("ConfbridgeJoin")) == 3
    assert h.pbx.conferences["701"].bridge.snapshot()[5] == ("BridgeNumChannels", "3")
    with pytest.raises(ActionError, match="No Conference"):
        h.pbx.conference_kick("702", "all")


async def test_the_ami_actions_answer_with_asterisks_texts(sim: SimServer, client: RawClient) -> None:
    await client.login()
    sim.place_call("4155550100", "ACME", "support", patience=600, talk=300)
    sim.advance(1.1)
    connect = await client.event("AgentConnect")
    agent, customer = connect["DestChannel"], connect["Channel"]

    async def action(aid: str, **headers: str) -> tuple[str, str]:
        await client.send(ActionID=aid, **headers)
        reply = await client.response(aid)
        return reply.get("Response") or "", reply.get("Message") or ""

    assert await action("a1", Action="Atxfer", Exten="1001") == ("Error", "No channel specified")
    assert await action("a2", Action="Atxfer", Channel=agent) == ("Error", "No extension specified")
    assert await action("a3", Action="Atxfer", Channel="Local/x-1;1", Exten="1") == (
        "Error",
        "Channel specified does not exist",
    )
    assert await action("a4", Action="Atxfer", Channel=agent, Exten="1001", Context=CONSULT_CONTEXT) == (
        "Success",
        "Atxfer successfully queued",
    )
    hold = await client.event("Hold", Channel=agent)  # the events come after the response
    assert hold["MusicClass"] == "default"
    await client.event("MusicOnHoldStart", Channel=customer)
    redirect = {"Action": "Redirect", "Context": CONFERENCE_CONTEXT, "Exten": "800", "Priority": "1"}
    assert await action("r1", **redirect, Channel=agent, ExtraChannel="Local/none-1;1") == (
        "Error",
        "ExtraChannel does not exist: Local/none-1;1",
    )
    assert await action("r2", **redirect, Channel=agent, ExtraChannel=customer) == (
        "Success",
        "Dual Redirect successful",
    )
    joined = [await client.event("ConfbridgeJoin", Conference="800") for _ in range(2)]
    assert {m.get("Channel") for m in joined} == {agent, customer}
    kick = {"Action": "ConfbridgeKick", "Conference": "800"}
    assert await action("k1", **kick) == ("Error", "No channel name provided.")
    assert await action("k2", **kick, Channel="Local/none-1;1") == (
        "Error",
        "No Channel by that name found in Conference.",
    )
    assert await action("k3", **kick, Channel="all") == ("Success", "User kicked")
    await client.event("ConfbridgeEnd", Conference="800")


def test_a_warm_transfer_to_a_number_keeps_the_customer_with_the_callee_until_one_hangs_up() -> None:
    h = Harness(transcript_pbx())
    agent, customer = _queue_call(h)
    orig = agent.bridge
    _consult(h, agent, "4155550100", CONSULT_DIAL_CONTEXT)  # last digit 0: answers after 1 s, stays
    h.run(1.2)
    one = h.pbx.consultations[0].one
    assert one.state_desc == "Up"
    h.pbx.hangup_channel(agent, 16)
    assert h.named("AttendedTransfer")[0]["TransferTargetExten"] == "4155550100"
    assert customer.bridge is orig and one.bridge is orig  # no Local optimisation: the callee is the ;2
    h.run(30)
    assert not customer.hungup
    h.pbx.hangup_channel(customer, 16)
    assert not len(h.pbx.channels) and _balanced(h)


def test_the_customer_hanging_up_before_the_target_answers_ends_it_all() -> None:
    """calling_target_exit, STIMULUS_TRANSFEREE_HANGUP: TRANSFER_FAIL, the target bridge destroyed."""
    h = Harness(transcript_pbx())
    agent, customer = _queue_call(h)
    _consult(h, agent)
    h.run(0.5)  # Alice's phone still rings
    h.pbx.hangup_channel(customer, 16)
    assert not h.named("AttendedTransfer") and h.named("AgentComplete")[0]["Reason"] == "caller"
    assert not len(h.pbx.channels) and _balanced(h) and not h.pbx.consultations


@pytest.mark.parametrize("last", ["agent", "colleague", "cancel"])
def test_the_customer_hanging_up_during_the_consultation_leaves_the_agent_and_the_colleague_talking(
    last: str,
) -> None:
    """consulting_exit, STIMULUS_TRANSFEREE_HANGUP (main/bridge_basic.c): the target bridge becomes a
    normal bridge and stays; the first of the two to hang up dissolves it."""
    h = Harness(transcript_pbx())
    agent, customer = _queue_call(h)
    orig = customer.bridge
    assert orig is not None
    _consult(h, agent)
    h.run(1.2)  # Alice answered
    (c,) = h.pbx.consultations
    mark = len(h.events)
    h.pbx.hangup_channel(customer, 16)
    names = _names(h, mark)
    assert "AttendedTransfer" not in names and "Unhold" not in names
    assert h.named("AgentComplete")[0]["Reason"] == "caller"
    assert customer.hungup and not agent.hungup and not c.one.hungup
    destroyed = [e["BridgeUniqueid"] for e in h.events[mark:] if e["Event"] == "BridgeDestroy"]
    assert destroyed == [orig.uniqueid]  # the customer's bridge is gone, the consultation's stays
    assert agent.bridge is c.bridge and c.one in c.bridge.channels
    h.run(30)  # longer than atxfernoanswertimeout: nothing moves, they talk
    assert not agent.hungup and not c.one.hungup
    if last == "agent":
        h.pbx.hangup_channel(agent, 16)
    elif last == "cancel":
        h.pbx.hangup_channel(c.one, 16)
    else:
        colleague = c.target.peer
        assert colleague is not None
        h.pbx.hangup_channel(colleague.one, 16)
    h.run(2)
    assert agent.hungup and c.one.hungup and not h.pbx.consultations
    assert not len(h.pbx.channels) and _balanced(h)


def test_a_transfer_completed_before_the_answer_rings_the_customer_through_to_the_target() -> None:
    h = Harness(transcript_pbx())
    agent, customer = _queue_call(h)
    orig = agent.bridge
    _consult(h, agent)
    h.run(0.5)  # Alice's phone still rings
    h.pbx.hangup_channel(agent, 16)  # blond transfer
    assert h.named("AttendedTransfer")[0]["DestType"] == "Bridge" and h.named("MusicOnHoldStop")
    h.run(1)  # Alice answers: the Local pair goes, she is with the customer
    assert customer.bridge is orig and orig is not None
    assert {c.name.rsplit("-", 1)[0] for c in orig.channels} == {
        customer.name.rsplit("-", 1)[0],
        "Local/1001@agents",
    }
    h.run(400)
    assert not len(h.pbx.channels) and _balanced(h)
