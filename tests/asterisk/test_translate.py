"""AMI messages become typed events: every real event translates, names are unescaped, bad input is
reported as MalformedEvent and never raises."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.asterisk import translate as tr
from cti.asterisk.ami import AmiDecoder, Message, encode, escape
from tests.conftest import TRANSCRIPTS

ALL = sorted(p.stem for p in TRANSCRIPTS.glob("*.ami"))


def msg(*pairs: tuple[str, str], **headers: str) -> Message:
    return Message([*pairs, *headers.items()])


def messages(name: str) -> list[Message]:
    return AmiDecoder().receive_data((TRANSCRIPTS / f"{name}.ami").read_bytes())


@pytest.mark.parametrize("name", ALL)
def test_every_event_of_every_transcript_translates_to_its_typed_class(name: str) -> None:
    for m in messages(name):
        ev = tr.translate(m, 5.0)
        if m.event is None:
            assert ev is None  # responses are not events
            continue
        assert ev is not None and not isinstance(ev, tr.MalformedEvent), (m, ev)
        assert ev.name == m.event
        if m.event in tr.BUILDERS:
            assert not isinstance(ev, tr.GenericEvent)
        if "Timestamp" in m.map:
            assert ev.at == float(m.map["Timestamp"])
        else:
            assert ev.at == 5.0


def test_channel_block_names_are_unescaped_and_unknown_becomes_empty() -> None:
    ev = tr.translate(
        msg(
            Event="Newchannel",
            Channel="PJSIP/t-1",
            ChannelState="4",
            CallerIDNum="<unknown>",
            CallerIDName='O\\\'Brien \\"Bob\\" \\\\ x',
            ConnectedLineNum="<unknown>",
            ConnectedLineName="<unknown>",
            Context="from-trunk",
            Exten="5000",
            Uniqueid="1.1",
            Linkedid="1.1",
        )
    )
    assert isinstance(ev, tr.ChannelEvent)
    assert ev.chan.caller_name == 'O\'Brien "Bob" \\ x'
    assert (ev.chan.caller_num, ev.chan.connected_name, ev.chan.state) == ("", "", 4)


@pytest.mark.parametrize("name", ["张伟", "<b>x</b>", "O'Brien", "José Núñez", "a\nb", ""])
def test_any_caller_name_survives_the_wire_unchanged(name: str) -> None:
    wire = encode([("Event", "Newchannel"), ("CallerIDName", escape(name)), ("Uniqueid", "1.2")])
    (m,) = AmiDecoder(expect_banner=False).receive_data(wire)
    ev = tr.translate(m)
    assert isinstance(ev, tr.ChannelEvent) and ev.chan.caller_name == name


def test_real_transcripts_carry_chinese_html_and_escaped_quotes() -> None:
    names = set()
    for m in messages("mixed-seed1"):
        ev = tr.translate(m)
        if isinstance(ev, tr.ChannelEvent):
            names.add(ev.chan.caller_name)
    assert {"张伟", "<b>x</b>", "O'Brien"} <= names and "O\\'Brien" not in names


def test_prefixed_blocks_become_second_channels_and_originate_dials_have_no_caller() -> None:
    (m,) = [m for m in messages("01-inbound-answered") if m.event == "DialBegin" and "Channel" not in m.map]
    ev = tr.translate(m)
    assert isinstance(ev, tr.DialEvent) and ev.caller is None
    assert ev.dest.uniqueid == "1795362992.0" and ev.dial_string == "13800138000@callers/n"
    (lb,) = [tr.translate(m) for m in messages("01-inbound-answered") if m.event == "LocalBridge"][:1]
    assert isinstance(lb, tr.LocalBridgeEvent) and lb.one.name.endswith(";1") and lb.two.name.endswith(";2")


def test_ring_no_answer_ring_time_is_converted_from_milliseconds() -> None:
    evs = [tr.translate(m) for m in messages("03-ring-no-answer") if m.event == "AgentRingNoAnswer"]
    assert evs and all(isinstance(e, tr.AgentEvent) for e in evs)
    assert {e.ring_time for e in evs if isinstance(e, tr.AgentEvent)} == {3.0, 4.0}


def test_queue_status_list_items_use_name_and_location() -> None:
    ev = tr.translate(msg(Event="QueueMember", Queue="sales", Name="Bob", Location="Local/1002@agents/n"))
    assert isinstance(ev, tr.QueueMemberEvent)
    assert (ev.member, ev.interface, ev.paused) == ("Bob", "Local/1002@agents/n", False)
    entry = tr.translate(msg(Event="QueueEntry", Queue="q", Position="2", Uniqueid="9.9", Wait="12"))
    assert isinstance(entry, tr.QueueEntryEvent) and (entry.position, entry.wait) == (2, 12)
    show = tr.translate(msg(Event="CoreShowChannel", Channel="X/1", Uniqueid="1.1", Duration="01:02:03"))
    assert isinstance(show, tr.CoreShowChannelEvent) and show.duration == 3723


def test_varset_value_is_unescaped_and_userevent_keeps_its_own_headers() -> None:
    ev = tr.translate(msg(Event="VarSet", Channel="none", Uniqueid="none", Variable="X", Value="a\\'b"))
    assert isinstance(ev, tr.VarSetEvent) and ev.chan is None and ev.value == "a'b"
    ue = tr.translate(
        msg(Event="UserEvent", Channel="L/1", Uniqueid="1.1", UserEvent="CtiWaiting", Choice="2", DID="5000")
    )
    assert isinstance(ue, tr.UserEventEvent)
    assert ue.user_event == "CtiWaiting" and ue.headers["Choice"] == "2" and ue.headers["DID"] == "5000"
    assert ue.chan is not None and ue.chan.uniqueid == "1.1"


def test_unknown_events_pass_through_with_their_headers() -> None:
    ev = tr.translate(msg(Event="PeerStatus", Timestamp="7.5", Peer="PJSIP/1001", PeerStatus="Reachable"))
    assert isinstance(ev, tr.GenericEvent)
    assert (ev.at, ev.headers["Peer"]) == (7.5, "PJSIP/1001")
    assert tr.translate(msg(Response="Success", ActionID="1")) is None


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"Event": "Hangup", "Channel": "X/1"}, "Uniqueid"),
        ({"Event": "QueueCallerJoin", "Uniqueid": "1.1", "Position": "first"}, "Position"),
        ({"Event": "BridgeEnter", "Uniqueid": "1.1"}, "BridgeUniqueid"),
        ({"Event": "CoreShowChannel", "Uniqueid": "1.1", "Duration": "soon"}, "Duration"),
        ({"Event": "AgentCalled", "Queue": "q"}, "Uniqueid"),
    ],
)
def test_malformed_events_are_reported_not_raised(headers: dict[str, str], problem: str) -> None:
    ev = tr.translate(Message(list(headers.items())), 1.0)
    assert isinstance(ev, tr.MalformedEvent)
    assert problem in ev.problem and ev.name == headers["Event"] and ev.raw


def test_agent_complete_after_both_channels_are_gone_has_no_caller_block() -> None:
    # Real: mixed-seed1 at 1795363145.123998 (both channels hung up before app_queue reported).
    ev = tr.translate(
        msg(Event="AgentComplete", Queue="support", MemberName="Carol", TalkTime="7", Reason="agent")
    )
    assert isinstance(ev, tr.AgentEvent) and ev.caller is None and ev.talk_time == 7


def test_a_bad_timestamp_falls_back_on_the_receive_time() -> None:
    ev = tr.translate(msg(Event="Something", Timestamp="yesterday"), 42.0)
    assert ev is not None and ev.at == 42.0


@given(
    st.sampled_from(sorted(tr.BUILDERS)),
    st.lists(
        st.tuples(
            st.sampled_from(
                ["Uniqueid", "Channel", "Position", "HoldTime", "RingTime", "Cause", "Linkedid", "X"]
            ),
            st.text(max_size=12),
        ),
        max_size=8,
    ),
)
def test_translate_never_raises_on_arbitrary_headers(name: str, pairs: list[tuple[str, str]]) -> None:
    ev = tr.translate(Message([("Event", name), *pairs]), 0.0)
    assert ev is not None and ev.name == name


def test_transcripts_directory_has_every_scenario(transcripts: Path) -> None:
    assert len(list(transcripts.glob("*.ami"))) == len(ALL) >= 11
