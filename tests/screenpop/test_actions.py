import pytest

from cti.core.events import AgentState
from cti.core.ids import AgentId
from cti.screenpop import protocol as p
from cti.screenpop.actions import Contexts, Desk, DeskError, extension_of, reply_ok
from cti.screenpop.hub import Hub
from cti.screenpop.live import LiveBoard
from cti.screenpop.tokens import Identity
from tests.bus.events import agent_state, inbound_call
from tests.screenpop.fakes import FakeChannels, FakeLink, FakeStore

ALICE = Identity("alice", "agent", AgentId("Alice"), 1e12)
SUPER = Identity("super", "supervisor", None, 1e12)


def desk(*events: object) -> tuple[Desk, FakeLink, FakeChannels]:
    hub = Hub(board=LiveBoard(lambda q: 20.0))
    hub.on_events([agent_state("Alice", AgentState.AVAILABLE), agent_state("Bob", AgentState.AVAILABLE)])
    hub.on_events(list(events))  # type: ignore[arg-type]
    link, channels = FakeLink(), FakeChannels()
    return Desk(hub, {"pbx1": link}.get, channels, FakeStore.demo(), Contexts()), link, channels


async def test_pause_and_ready_send_queue_pause_for_the_agents_interface() -> None:
    d, link, _ = desk()
    await d.run(ALICE, p.Pause(None, "lunch", None))
    await d.run(ALICE, p.Ready(None, None))
    assert link.sent == [
        {"Action": "QueuePause", "Interface": "Local/Alice@agents/n", "Paused": "true", "Reason": "lunch"},
        {"Action": "QueuePause", "Interface": "Local/Alice@agents/n", "Paused": "false"},
    ]


async def test_logout_removes_the_agent_from_each_queue_and_ready_adds_them_back() -> None:
    d, link, _ = desk()
    await d.run(ALICE, p.Logout(None, None))
    assert link.sent == [{"Action": "QueueRemove", "Queue": "sales", "Interface": "Local/Alice@agents/n"}]
    d.hub.on_events([agent_state("Alice", AgentState.LOGGED_OUT)])
    await d.run(ALICE, p.Ready(None, None))
    assert link.sent[-1] == {
        "Action": "QueueAdd",
        "Queue": "sales",
        "Interface": "Local/Alice@agents/n",
        "MemberName": "Alice",
        "Paused": "false",
    }


@pytest.mark.parametrize(
    ("to", "target", "context", "exten"),
    [
        ("agent", "Bob", "deliver", "Bob"),
        ("queue", "sales", "inbound", "sales"),
        ("number", "+3491123", "pstn", "+3491123"),
    ],
)
async def test_transfer_blind_transfers_the_agents_channel(
    to: str, target: str, context: str, exten: str
) -> None:
    d, link, channels = desk(*inbound_call("1.1", agent="Alice")[:4])
    channels.agent_channels[("1.1", "Alice")] = "Local/1001@agents-0000000a;1"
    await d.run(ALICE, p.Transfer(None, "1.1", to, target))
    assert link.sent == [
        {
            "Action": "BlindTransfer",
            "Channel": "Local/1001@agents-0000000a;1",
            "Context": context,
            "Exten": exten,
        }
    ]


async def test_transfer_of_an_unbridged_call_redirects_the_caller() -> None:
    d, link, channels = desk(*inbound_call("1.1", agent="Alice")[:2])
    channels.caller_channels["1.1"] = "Local/4155550101@callers-00000001;2"
    await d.run(SUPER, p.Transfer(None, "1.1", "queue", "sales"))
    assert link.sent == [
        {
            "Action": "Redirect",
            "Channel": "Local/4155550101@callers-00000001;2",
            "Context": "inbound",
            "Exten": "sales",
            "Priority": "1",
        }
    ]


async def test_dial_originates_asynchronously_from_the_agents_seat() -> None:
    d, link, _ = desk()
    result = await d.run(ALICE, p.Dial(None, "+14155550100"))
    (sent,) = link.sent
    assert sent["Action"] == "Originate" and sent["Async"] == "true"
    assert (sent["Channel"], sent["Context"], sent["Exten"]) == (
        "Local/Alice@agents/n",
        "pstn",
        "+14155550100",
    )
    assert sent["ChannelId"] == result["channel_id"]


@pytest.mark.parametrize(
    ("who", "cmd", "code"),
    [
        (SUPER, p.Pause(None, "x", None), "bad_field"),  # a supervisor must name the agent
        (SUPER, p.Dial(None, "123"), "forbidden"),
        (ALICE, p.Transfer(None, "1.1", "queue", "nowhere"), "unknown_queue"),
        (ALICE, p.Transfer(None, "1.1", "agent", "Zed"), "unknown_agent"),
        (ALICE, p.Hangup(None, "1.1"), "no_channel"),
        (ALICE, p.Hangup(None, "2.2"), "forbidden"),
    ],
)
async def test_refusals_carry_a_code_and_send_nothing(who: Identity, cmd: p.Command, code: str) -> None:
    d, link, _ = desk(*inbound_call("1.1", agent="Alice")[:4])
    with pytest.raises(DeskError) as e:
        await d.run(who, cmd)
    assert e.value.code == code
    assert link.sent == []


async def test_an_action_asterisk_refuses_is_reported_with_its_message() -> None:
    d, link, _ = desk()
    link.refuse = "Interface not found"
    with pytest.raises(DeskError, match="Interface not found") as e:
        await d.run(ALICE, p.Pause(None, "x", None))
    assert e.value.code == "ami_refused" and d.actions_failed == 1


def test_replies_and_extensions_are_read_the_asterisk_way() -> None:
    assert extension_of("Local/1001@agents/n") == "1001"
    assert extension_of("PJSIP/2001") == "2001"
    assert extension_of("garbage") is None
    assert reply_ok(None) == (False, "no reply")


async def test_the_outcome_of_a_click_to_call_goes_back_to_the_agent_who_dialled() -> None:
    import json

    from cti.core.events import OriginateFinished
    from cti.screenpop.hub import Client

    d, _, _ = desk()
    alice, bob = Client(ALICE, 10), Client(Identity("bob", "agent", AgentId("Bob"), 1e12), 10)
    d.hub.attach(alice)
    d.hub.attach(bob)
    result = await d.run(ALICE, p.Dial(None, "+14155550100"))
    d.hub.on_events(
        [
            OriginateFinished(1.0, "pbx1", "a1", result["channel_id"], None, 5, "busy"),
            OriginateFinished(1.0, "pbx1", "a2", "someone-elses", None, 4, "answered"),
        ]
    )
    got = [json.loads(alice.queue.get_nowait()) for _ in range(alice.queue.qsize())]
    assert [(m["type"], m["outcome"]) for m in got if m["type"] == "dial_result"] == [("dial_result", "busy")]
    assert all(json.loads(bob.queue.get_nowait())["type"] != "dial_result" for _ in range(bob.queue.qsize()))


async def test_a_member_of_two_queues_is_seated_in_both_and_logged_out_of_both() -> None:
    """Issue 14: at login the QueueStatus lists the member under each queue; only the first move was
    shown, so the seat had one queue, a logout removed it from that one only and Asterisk kept the
    member in the other, with no state pushed to the consoles."""
    from cti.asterisk.ami import Message
    from cti.asterisk.calls import CallTracker
    from cti.asterisk.snapshot import ResyncSnapshot
    from cti.core.events import AgentStateChanged

    def item(**headers: str) -> Message:
        return Message(list(headers.items()))

    where = {"Location": "Local/1001@agents/n", "StateInterface": "Local/1001@agents/n", "Status": "1"}
    tracker = CallTracker("pbx1")
    status = [
        item(Event="QueueParams", Queue="sales"),
        item(Event="QueueMember", Queue="sales", Name="Alice", Paused="0", **where),
        item(Event="QueueParams", Queue="support"),
        item(Event="QueueMember", Queue="support", Name="Alice", Paused="0", **where),
    ]
    hub = Hub(board=LiveBoard(lambda q: 20.0))
    hub.on_events(tracker.resync(ResyncSnapshot(at=100.0, reason="login", queue_status=status)))
    assert hub.seats[AgentId("Alice")].queues == ("sales", "support")
    link = FakeLink()
    d = Desk(hub, {"pbx1": link}.get, FakeChannels(), FakeStore.demo(), Contexts())
    await d.run(SUPER, p.Logout(None, "Alice"))
    assert [(a["Action"], a["Queue"]) for a in link.sent] == [
        ("QueueRemove", "sales"),
        ("QueueRemove", "support"),
    ]
    # Asterisk removes her from sales first: still available in support, and the consoles are told so
    out = tracker.feed(
        item(Event="QueueMemberRemoved", Queue="sales", Name="Alice", Timestamp="101.0", **where)
    )
    (moved,) = [e for e in out if isinstance(e, AgentStateChanged)]
    assert (moved.state, moved.queues) == (AgentState.AVAILABLE, ("support",))
    hub.on_events(out)
    assert hub.seats[AgentId("Alice")].queues == ("support",)


async def test_email_commands_need_the_channel_and_an_agent_and_carry_the_channels_refusal() -> None:
    from cti.config import EmailConfig
    from cti.mail.component import EmailComponent

    d, _, _ = desk()
    with pytest.raises(DeskError) as off:
        await d.run(ALICE, p.EmailClose(None, "1", "spam"))
    assert off.value.code == "no_email"
    d.email = EmailComponent(EmailConfig(enabled=True))  # no task offered to anyone
    with pytest.raises(DeskError) as sup:
        await d.run(SUPER, p.EmailReply(None, "1", "hi", "answered"))
    assert sup.value.code == "forbidden"
    with pytest.raises(DeskError) as unknown:
        await d.run(ALICE, p.EmailReply(None, "1", "hi", "answered"))
    assert unknown.value.code == "unknown_task"
