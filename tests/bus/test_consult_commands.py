"""The owner side of warm transfers and conferences for another instance's desk (cti.bus.commands): each
request becomes its AMI action from the owner's own view of the call, and a request that does not fit
that view is refused."""

from __future__ import annotations

from typing import Any

import pytest

from cti.asterisk.ami import Message
from cti.bus import commands
from cti.bus.commands import LocalServer, OwnerSeat, Refused
from cti.core.ids import AgentId

ALICE = AgentId("Alice")
MINE = "Local/1001@agents-0000000a;1"
CALLER = "PJSIP/trunk-00000001"
CONSULT = "Local/1002@cti-consult-0000000c;1"


async def _send(action: dict[str, str]) -> Message:
    return Message.of(("Response", "Success"))


def local() -> LocalServer:
    channels = {"1.1": [MINE, CALLER, CONSULT, "Local/1002@cti-consult-0000000c;2"]}
    return LocalServer(
        send_action=_send,
        agent_channel=lambda lid, agent: MINE if (lid, agent) == ("1.1", ALICE) else None,
        caller_channel=lambda lid: CALLER if lid == "1.1" else None,
        on_call=lambda lid, agent: (lid, agent) == ("1.1", ALICE),
        seat=lambda agent: OwnerSeat(f"PJSIP/{agent}", ("sales",), "1002") if agent == "Bob" else None,
        channel_like=lambda lid, prefix, suffix: next(
            (n for n in channels.get(lid, []) if n.startswith(prefix) and n.endswith(suffix)), None
        ),
    )


CONSULTATION = {"linkedid": "1.1", "agent": ALICE, "exten": "1002", "context": "cti-consult"}
ROOM = {"Context": "cti-conference", "Exten": "42", "Priority": "1"}


@pytest.mark.parametrize(
    ("op", "args", "action"),
    [
        (
            "atxfer",
            CONSULTATION,
            {"Action": "Atxfer", "Channel": MINE, "Exten": "1002", "Context": "cti-consult"},
        ),
        ("consult_cancel", CONSULTATION, {"Action": "Hangup", "Channel": CONSULT}),
        (
            "atxfer",
            {**CONSULTATION, "exten": "sales", "context": "inbound"},  # a queue: its extension there
            {"Action": "Atxfer", "Channel": MINE, "Exten": "sales", "Context": "inbound"},
        ),
        (
            "consult_redirect",
            {**CONSULTATION, "room": "42"},
            {"Action": "Redirect", "Channel": CONSULT, **ROOM},
        ),
        (
            "conference",
            {**CONSULTATION, "room": "42"},
            {"Action": "Redirect", "Channel": MINE, **ROOM}
            | {
                "ExtraChannel": CALLER,
                "ExtraContext": "cti-conference",
                "ExtraExten": "42",
                "ExtraPriority": "1",
            },
        ),
        (
            "conference_kick",
            {**CONSULTATION, "room": "42", "who": "agent"},
            {"Action": "ConfbridgeKick", "Conference": "42", "Channel": MINE},
        ),
        (
            "conference_kick",
            {**CONSULTATION, "room": "42", "who": "all"},
            {"Action": "ConfbridgeKick", "Conference": "42", "Channel": "all"},
        ),
        (
            "originate_conference",
            {**CONSULTATION, "room": "42", "to": "agent", "target": "Bob", "caller": "+14155550101"},
            {"Action": "Originate", "Channel": "PJSIP/Bob", **ROOM, "Async": "true", "Timeout": "30000"}
            | {"CallerID": '"Alice" <+14155550101>'},
        ),
        (
            "originate_conference",
            {
                **CONSULTATION,
                "room": "42",
                "to": "agent",
                "target": "Bob",
                "caller": "1",
                "channel_id": "a" * 32,
            },
            {"Action": "Originate", "Channel": "PJSIP/Bob", **ROOM, "Async": "true", "Timeout": "30000"}
            | {"CallerID": '"Alice" <1>', "ChannelId": "a" * 32},
        ),
        (
            "originate_conference",
            {**CONSULTATION, "room": "42", "to": "number", "target": "4155550123", "caller": "x"},
            {"Action": "Originate", "Channel": "Local/4155550123@pstn/n", **ROOM, "Async": "true"}
            | {"Timeout": "30000", "CallerID": '"Alice" <x>'},
        ),
    ],
)
def test_each_request_is_built_from_the_owners_view(
    op: str, args: dict[str, Any], action: dict[str, str]
) -> None:
    assert op in commands.WHITELIST
    assert commands._build(local(), op, args) == action


@pytest.mark.parametrize(
    ("op", "args", "code"),
    [
        ("atxfer", {**CONSULTATION, "agent": "Bob"}, "not_your_call"),
        ("atxfer", {**CONSULTATION, "context": "deliver"}, "bad_field"),  # only the consult contexts
        ("atxfer", {**CONSULTATION, "exten": "1002,1;Hangup"}, "bad_field"),
        ("consult_cancel", {**CONSULTATION, "exten": "1003"}, "no_channel"),  # no such consultation
        ("conference", {**CONSULTATION, "room": "42;x"}, "bad_field"),
        (
            "originate_conference",
            {**CONSULTATION, "room": "4", "to": "agent", "target": "Bob", "caller": "1", "channel_id": "x,y"},
            "bad_field",
        ),
        (
            "originate_conference",
            {**CONSULTATION, "room": "4", "to": "agent", "target": "Zed", "caller": "1"},
            "unknown_agent",
        ),
    ],
)
def test_a_request_that_does_not_fit_the_owners_view_is_refused(
    op: str, args: dict[str, Any], code: str
) -> None:
    with pytest.raises(Refused) as e:
        commands._build(local(), op, args)
    assert e.value.code == code
