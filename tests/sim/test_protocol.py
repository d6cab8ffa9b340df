"""The simulator's AMI session behaves as Asterisk's manager.c does, errors included."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cti.sim.protocol import LineReader, parse_mask
from cti.sim.server import SimServer
from tests.conftest import examples
from tests.sim.conftest import RawClient


async def test_banner_is_one_line_with_no_blank_line_after_it(sim: SimServer) -> None:
    r, w = await asyncio.open_connection("127.0.0.1", sim.port)
    data = await asyncio.wait_for(r.read(100), 5)
    assert data == b"Asterisk Call Manager/13.0.0\r\n"
    w.close()


async def test_plain_login_answers_success_then_fully_booted(client: RawClient) -> None:
    resp = await client.login()
    assert resp.headers[:3] == [
        ("Response", "Success"),
        ("ActionID", "login"),
        ("Message", "Authentication accepted"),
    ]
    booted = await client.event("FullyBooted")
    assert [k for k, _ in booted.headers] == ["Event", "Privilege", "Uptime", "LastReload", "Status"]


async def test_md5_challenge_login_is_accepted(client: RawClient) -> None:
    await client.send(Action="Challenge", AuthType="MD5", ActionID="c1")
    ch = await client.response("c1")
    assert ch.headers[:2] == [("Response", "Success"), ("ActionID", "c1")]
    key = hashlib.md5((ch["Challenge"] + "ctisecret").encode()).hexdigest()
    await client.send(Action="Login", AuthType="MD5", Username="cti", Key=key, ActionID="l1")
    assert (await client.response("l1"))["Message"] == "Authentication accepted"


async def test_md5_login_with_a_wrong_key_fails(client: RawClient) -> None:
    await client.send(Action="Challenge", AuthType="MD5", ActionID="c1")
    await client.response("c1")
    await client.send(Action="Login", AuthType="MD5", Username="cti", Key="0" * 32, ActionID="l1")
    assert (await client.response("l1"))["Message"] == "Authentication failed"
    assert await client.closed()


async def test_challenge_without_md5_must_specify_auth_type(client: RawClient) -> None:
    await client.send(Action="Challenge", ActionID="c1")
    assert (await client.response("c1"))["Message"] == "Must specify AuthType"


async def test_bad_credentials_wait_then_error_then_close_as_in_the_transcript(
    sim: SimServer, client: RawClient, transcripts: Path
) -> None:
    t0 = time.monotonic()
    await client.send(Action="Login", ActionID="bad-1", Username="cti", Secret="wrong")
    assert await client.closed()
    assert time.monotonic() - t0 >= sim.auth_fail_delay * 0.9
    assert bytes(client.raw) == (transcripts / "10-login-failed.ami").read_bytes()


async def test_actions_before_login_are_permission_denied_and_the_session_stays(client: RawClient) -> None:
    await client.send(Action="Ping", ActionID="p")
    assert (await client.response("p"))["Message"] == "Permission denied"
    assert (await client.login())["Response"] == "Success"


async def test_ping_pong_carries_a_timestamp(client: RawClient) -> None:
    await client.login()
    await client.send(Action="Ping", ActionID="p")
    r = await client.response("p")
    assert [k for k, _ in r.headers] == ["Response", "ActionID", "Ping", "Timestamp"]
    assert r["Ping"] == "Pong"


async def test_unknown_action_gets_asterisks_text(client: RawClient) -> None:
    await client.login()
    await client.send(Action="NoSuchAction", ActionID="x")
    r = await client.response("x")
    assert r.headers == [
        ("Response", "Error"),
        ("ActionID", "x"),
        (
            "Message",
            "Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show available commands.",
        ),
    ]
    bad = await client.event("RequestBadFormat")
    assert bad["RequestType"] == "Action: NoSuchAction"


async def test_hangup_of_a_missing_channel_is_no_such_channel(client: RawClient) -> None:
    await client.login()
    await client.send(Action="Hangup", Channel="Local/none-0000;1", ActionID="h")
    assert (await client.response("h"))["Message"] == "No such channel"


async def test_a_message_without_action_is_missing_action(client: RawClient) -> None:
    await client.login()
    await client.send(ActionID="8")
    assert (await client.response("8"))["Message"] == "Missing action in request"
    await client.send_raw(b"\r\n")  # an empty message
    r = await client.expect(lambda m: m.get("Message") == "Missing action in request")
    assert r.action_id is None


async def test_a_line_over_1024_bytes_is_refused_without_running_the_action(
    sim: SimServer, client: RawClient
) -> None:
    await client.login()
    await client.send(("Action", "UserEvent"), ("UserEvent", "Big"), ("X", "y" * 1100), ("ActionID", "big"))
    r = await client.expect(lambda m: m.get("Message") == "Failed to parse message: line too long")
    assert r["Response"] == "Error"
    await client.send(Action="Ping", ActionID="after")
    assert (await client.response("after"))["Ping"] == "Pong"
    assert not any(m.event == "UserEvent" for m in client.inbox)


async def test_a_129th_line_is_too_many_lines(client: RawClient) -> None:
    await client.login()
    pairs = [("Action", "UserEvent"), ("UserEvent", "Many"), ("ActionID", "many")]
    pairs += [(f"H{i}", "v") for i in range(130)]
    await client.send(*pairs)
    r = await client.response("many")
    assert r["Message"] == "Too many lines in message or allocation failure"


async def test_bare_lf_line_endings_are_accepted(client: RawClient) -> None:
    await client.send_raw(b"Action: Login\nUsername: cti\nSecret: ctisecret\nActionID: lf\n\n")
    assert (await client.response("lf"))["Message"] == "Authentication accepted"


async def test_events_off_stops_events_but_not_responses(sim: SimServer, client: RawClient) -> None:
    await client.login(events="off")
    await client.send(Action="UserEvent", UserEvent="Hello", ActionID="u")
    assert (await client.response("u"))["Message"] == "Event Sent"
    await client.send(Action="Events", EventMask="on", ActionID="e")
    assert (await client.response("e"))["Events"] == "On"
    await client.send(Action="UserEvent", UserEvent="Again", ActionID="u2")
    ev = await client.event("UserEvent")
    assert ev["UserEvent"] == "Again"


async def test_each_client_has_its_own_filter(sim: SimServer) -> None:
    a, b = await RawClient.connect(sim.port), await RawClient.connect(sim.port)
    try:
        await a.login()
        await b.login()
        await b.send(Action="Filter", Operation="Add", Filter="UserEvent: Keep", ActionID="f")
        assert (await b.response("f"))["Message"] == "Success"
        await a.send(Action="UserEvent", UserEvent="Drop", ActionID="1")
        await a.send(Action="UserEvent", UserEvent="Keep", ActionID="2")
        assert (await a.event("UserEvent"))["UserEvent"] == "Drop"
        assert (await b.event("UserEvent"))["UserEvent"] == "Keep"
    finally:
        a.close()
        b.close()


async def test_events_raised_by_an_action_follow_its_response(sim: SimServer, client: RawClient) -> None:
    await client.login()
    await client.event("FullyBooted")
    await client.send(
        Action="QueuePause",
        Queue="sales",
        Interface="Local/1001@agents/n",
        Paused="true",
        Reason="lunch",
        ActionID="p",
    )
    first = await client.expect(lambda m: m.response is not None or m.event == "QueueMemberPause")
    assert first.response == "Success" and first["Message"] == "Interface paused successfully"
    assert (await client.event("QueueMemberPause"))["PausedReason"] == "lunch"


async def test_list_actions_start_items_and_complete_with_a_count(sim: SimServer, client: RawClient) -> None:
    await client.login()
    await client.send(Action="QueueStatus", ActionID="qs")
    start = await client.response("qs")
    assert start["EventList"] == "start" and start["Message"] == "Queue status will follow"
    done = await client.event("QueueStatusComplete")
    assert done["EventList"] == "Complete" and int(done["ListItems"]) == 7  # 2 QueueParams + 5 QueueMember
    await client.send(Action="QueueSummary", ActionID="sum")
    await client.response("sum")
    assert (await client.event("QueueSummaryComplete"))["ListItems"] == "2"


async def test_logoff_says_goodbye_and_closes(client: RawClient) -> None:
    await client.login()
    await client.send(Action="Logoff", ActionID="bye")
    r = await client.response("bye")
    assert r.headers == [
        ("Response", "Goodbye"),
        ("ActionID", "bye"),
        ("Message", "Thanks for all the fish."),
    ]
    assert await client.closed()


def test_line_reader_splits_whole_or_byte_by_byte_alike() -> None:
    data = b"Action: Ping\r\nActionID: 1\r\n\r\nAction: Login\nUsername: x\n\n"
    whole = LineReader().feed(data)
    r = LineReader()
    bytewise = [m for i in range(len(data)) for m in r.feed(data[i : i + 1])]
    assert (
        whole
        == bytewise
        == [(["Action: Ping", "ActionID: 1"], None), (["Action: Login", "Username: x"], None)]
    )


def test_event_masks_parse_as_asterisk_does() -> None:
    assert parse_mask("off") == frozenset()
    assert parse_mask("call,agent") == {"call", "agent"}
    assert parse_mask("nonsense") == frozenset()
    assert parse_mask("") is None
    assert "system" in (parse_mask("on") or set())


@settings(
    max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.binary(max_size=3000))
async def test_random_bytes_never_crash_the_server_and_a_valid_session_still_works(
    sim: SimServer, junk: bytes
) -> None:
    bad = await RawClient.connect(sim.port)
    await bad.send_raw(junk + b"\r\n\r\n")
    bad.close()
    good = await RawClient.connect(sim.port)
    try:
        assert (await good.login())["Message"] == "Authentication accepted"
        await good.send(Action="Ping", ActionID="p")
        assert (await good.response("p"))["Ping"] == "Pong"
    finally:
        good.close()
    assert not sim.problems


async def test_synchronous_originate_answers_only_after_the_outcome_and_holds_the_session(
    sim: SimServer, client: RawClient
) -> None:
    await client.login()
    await client.event("FullyBooted")
    await client.send(
        Action="Originate",
        Channel="Local/4155550104@pstn/n",
        Context="dialer-connect",
        Exten="4155550104",
        Priority="1",
        ActionID="sync",
    )
    await client.send(Action="Ping", ActionID="after")
    await asyncio.sleep(0.1)
    assert not any(m.response for m in client.inbox)  # nothing until the callee answers (3 s)
    sim.advance(3.1)
    first = await client.expect(lambda m: m.response is not None)
    assert first.action_id == "sync" and first["Message"] == "Originate successfully queued"
    assert (await client.response("after"))["Ping"] == "Pong"
    assert not any(m.event == "OriginateResponse" for m in client.inbox)


async def test_synchronous_originate_that_fails_says_originate_failed(
    sim: SimServer, client: RawClient
) -> None:
    await client.login()
    await client.send(
        Action="Originate",
        Channel="Local/4155550101@pstn/n",
        Context="dialer-connect",
        Exten="1",
        Priority="1",
        ActionID="busy",
    )
    assert (await client.response("busy"))["Message"] == "Originate failed"


@given(data=st.lists(st.binary(max_size=40), max_size=20), cuts=st.lists(st.integers(0, 800), max_size=10))
def test_line_reader_gives_the_same_messages_however_the_input_is_cut(
    data: list[bytes], cuts: list[int]
) -> None:
    stream = b"\r\n".join(data) + b"\r\n\r\n"
    whole = LineReader().feed(stream)
    r = LineReader()
    pieces, last = [], 0
    for c in sorted(set(min(c, len(stream)) for c in cuts)):
        pieces.append(stream[last:c])
        last = c
    pieces.append(stream[last:])
    assert [m for p in pieces for m in r.feed(p)] == whole


async def test_command_answers_in_the_asterisk_14_format(client: RawClient) -> None:
    await client.login()
    await client.send(Action="Command", Command="core show channels count", ActionID="c")
    r = await client.response("c")
    assert r["Message"] == "Command output follows"
    assert r.getall("Output") == ["0 active channels", "0 active calls"]
    await client.send(Action="Command", Command="frobnicate now", ActionID="bad")
    bad = await client.response("bad")
    assert bad["Response"] == "Error" and bad["Output"].startswith("No such command 'frobnicate now'")


async def test_write_classes_limit_what_a_user_may_do() -> None:
    from dataclasses import replace

    from cti.sim.scenario import User, transcript_pbx
    from tests.sim.conftest import START

    sc = transcript_pbx()
    sc = replace(sc, users=(*sc.users, User("wall", "board", frozenset({"agent"}), frozenset({"reporting"}))))
    sim = SimServer(sc, speed=1e-9, start=START)
    await sim.start("127.0.0.1", 0)
    c = await RawClient.connect(sim.port)
    try:
        await c.login("wall", "board")
        await c.send(Action="QueuePause", Interface="Local/1001@agents/n", Paused="true", ActionID="p")
        assert (await c.response("p"))["Message"] == "Permission denied"
        await c.send(Action="QueueStatus", ActionID="s")
        assert (await c.response("s"))["EventList"] == "start"
        sim.place_call("5550001", "x", "sales", talk=1)
        sim.advance(3)
        ev = await c.expect(
            lambda m: m.event is not None and m.event != "FullyBooted" and "ActionID" not in m
        )
        assert ev["Privilege"].startswith("agent")  # call-class events are not for this user
    finally:
        c.close()
        await sim.stop()


_ALICE = "Local/1001@agents/n"
_KEYS = [
    "Channel",
    "Queue",
    "Interface",
    "Paused",
    "Penalty",
    "Exten",
    "Context",
    "Priority",
    "Variable",
    "Timeout",
    "ChannelId",
    "Async",
    "CallerID",
    "UserEvent",
    "Filter",
    "EventMask",
    "AuthType",
    "Key",
    "Command",
    "Reason",
    "MemberName",
    "StateInterface",
    "Value",
    "Cause",
    "Operation",
    "Member",
]
_VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "true",
            "no",
            "1",
            "-5",
            "sales",
            "support",
            "hold",
            "deliver",
            "1002",
            "inbound",
            "Local/1001@agents/n",
            "Local/13800138000@callers/n",
            "Local/4155550101@pstn/n",
            "PJSIP/123@trunk",
            "/.*/",
            "(",
            "A=1,B=2",
            '"x" <1>',
            "core show version",
            "md5",
        ]
    ),
    st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=30),
)


@settings(
    max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    action=st.sampled_from(
        [
            "Originate",
            "Redirect",
            "Hangup",
            "Setvar",
            "Getvar",
            "QueueAdd",
            "QueueRemove",
            "QueuePause",
            "QueuePenalty",
            "BlindTransfer",
            "UserEvent",
            "QueueStatus",
            "Status",
            "CoreShowChannels",
            "QueueSummary",
            "Events",
            "Filter",
            "Command",
            "Challenge",
            "Ping",
        ]
    ),
    headers=st.lists(st.tuples(st.sampled_from(_KEYS), _VALUES), max_size=8),
)
# once drawn: a member action naming a queue that does not exist raised KeyError: '(' in the model
@example(action="QueuePause", headers=[("Interface", _ALICE), ("Paused", "1"), ("Queue", "(")])
@example(action="QueuePenalty", headers=[("Interface", _ALICE), ("Penalty", "1"), ("Queue", "(")])
async def test_any_action_with_any_arguments_gets_a_response_and_never_an_internal_error(
    sim: SimServer, action: str, headers: list[tuple[str, str]]
) -> None:
    c = await RawClient.connect(sim.port)
    try:
        await c.login()
        await c.send(
            ("Action", action), *[(k, v.strip()) for k, v in headers if k.strip()], ("ActionID", "fz")
        )
        sim.advance(40)  # a synchronous Originate answers only once its outcome is known
        r = await c.response("fz")
        assert r["Response"] in ("Success", "Error")
        await c.send(Action="Ping", ActionID="alive")
        await c.response("alive")
    finally:
        c.close()
    assert not sim.problems, sim.problems


async def test_a_stray_cr_inside_a_header_is_not_echoed_as_a_line_break(
    sim: SimServer, client: RawClient
) -> None:
    await client.login()
    await client.send_raw(b"Action: UserEvent\r\nUserEvent: Odd\r\nX: a\rb\r\nActionID: cr\r\n\r\n")
    assert (await client.response("cr"))["Message"] == "Event Sent"
    assert (await client.event("UserEvent"))["X"] == "a b"


async def test_member_actions_naming_an_unknown_queue_get_app_queues_errors(
    sim: SimServer, client: RawClient
) -> None:
    await client.login()
    await client.send(Action="QueuePause", Interface=_ALICE, Paused="1", Queue="(", ActionID="p")
    assert (await client.response("p"))["Message"] == "Interface not found"
    await client.send(Action="QueuePenalty", Interface=_ALICE, Penalty="1", Queue="(", ActionID="q")
    assert (await client.response("q"))["Message"] == "Invalid interface, queuename or penalty"
    assert not sim.problems, sim.problems
