"""The sans-I/O codec: whole, byte by byte, random chunks; banner; malformed input; escaping."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.asterisk.ami import (
    ASTERISK_LIMITS,
    DEFAULT_LIMITS,
    AmiDecoder,
    Limits,
    Message,
    encode,
    escape,
    excerpt,
    is_list_complete,
    unescape,
)
from tests.conftest import FUZZ, TRANSCRIPTS, examples


def feed(data: bytes, cuts: list[int]) -> list[Message]:
    dec = AmiDecoder()
    out: list[Message] = []
    prev = 0
    for c in [*sorted(set(cuts)), len(data)]:
        out += dec.receive_data(data[prev:c])
        prev = c
    return out


def test_banner_then_messages_and_empty_last_header_is_kept() -> None:
    data = b"Asterisk Call Manager/13.0.0\r\nResponse: Success\r\nActionID: 1\r\nValue: \r\n\r\n"
    dec = AmiDecoder()
    msgs = dec.receive_data(data)
    assert dec.banner == "Asterisk Call Manager/13.0.0"
    assert msgs == [Message([("Response", "Success"), ("ActionID", "1"), ("Value", "")])]
    assert msgs[0]["Value"] == ""


def test_a_utf8_character_split_across_reads_survives() -> None:
    body = "Event: Newchannel\r\nCallerIDName: José 张伟\r\n\r\n".encode()
    data = b"Asterisk Call Manager/13.0.0\r\n" + body
    for cut in range(1, len(data)):
        msgs = feed(data, [cut])
        assert msgs[0]["CallerIDName"] == "José 张伟"


def test_repeated_headers_are_an_ordered_list() -> None:
    m = AmiDecoder(expect_banner=False).receive_data(b"Event: X\r\nVariable: a=1\r\nVariable: b=2\r\n\r\n")[0]
    assert m.getall("Variable") == ["a=1", "b=2"]
    assert m["Variable"] == "a=1"


def test_malformed_lines_are_reported_and_skipped_without_losing_the_rest() -> None:
    dec = AmiDecoder(expect_banner=False)
    msgs = dec.receive_data(b"Event: X\r\ngarbage line\r\nA: 1\r\n\r\n\xff\xfeEvent: Y\r\n\r\n")
    assert len(msgs) == 2
    assert msgs[1].headers == [("\ufffd\ufffdEvent", "Y")]
    assert msgs[0]["A"] == "1"
    reasons = [p.reason for p in dec.take_errors()]
    assert any("Key: Value" in r for r in reasons)
    assert any("UTF-8" in r for r in reasons)


def test_an_oversized_message_is_discarded_and_the_stream_goes_on() -> None:
    dec = AmiDecoder(expect_banner=False, max_message_bytes=100)
    assert dec.receive_data(b"Event: Big\r\n" + b"X: " + b"y" * 200) == []
    assert dec.take_errors()
    msgs = dec.receive_data(b"\r\n\r\nEvent: Small\r\n\r\n")
    assert [m.event for m in msgs] == ["Small"]


def test_encode_refuses_header_injection() -> None:
    with pytest.raises(ValueError):
        encode({"Action": "Originate", "CallerID": "x\r\nAction: Hangup"})
    assert encode({"Action": "Ping", "ActionID": "1"}) == b"Action: Ping\r\nActionID: 1\r\n\r\n"


def test_case_insensitive_lookup_and_list_completion() -> None:
    m = Message([("EventList", "Complete"), ("UniqueID", "1.2")])
    assert m.get("Uniqueid") == "1.2"
    assert is_list_complete(m)
    assert not is_list_complete(Message([("EventList", "start")]))


@given(st.text())
def test_escape_then_unescape_is_identity(s: str) -> None:
    assert unescape(escape(s)) == s


def test_unescape_the_way_asterisk_escapes_names() -> None:
    assert unescape("O\\'Brien") == "O'Brien"
    assert unescape('say \\"hi\\" \\\\ there') == 'say "hi" \\ there'


ALL_TRANSCRIPTS = sorted(p.name for p in TRANSCRIPTS.glob("*.ami"))
BYTEWISE_PREFIX = (
    None if FUZZ else 400_000
)  # mixed-seed1 (5 MB) byte by byte takes ~15 s: whole under make fuzz


def bytewise(data: bytes) -> tuple[list[Message], list[str]]:
    dec = AmiDecoder()
    out: list[Message] = []
    for i in range(len(data)):
        out += dec.receive_data(data[i : i + 1])
    return out, [p.reason for p in dec.take_errors() + dec.finish()]


@pytest.mark.parametrize("name", ALL_TRANSCRIPTS)
def test_every_transcript_decodes_identically_whole_and_byte_by_byte(name: str) -> None:
    raw = (TRANSCRIPTS / name).read_bytes()
    if BYTEWISE_PREFIX is not None and len(raw) > BYTEWISE_PREFIX:
        raw = raw[: raw.index(b"\r\n\r\n", BYTEWISE_PREFIX) + 4]  # a prefix that ends on a message
    dec = AmiDecoder()
    whole = dec.receive_data(raw)
    assert dec.banner and dec.banner.startswith("Asterisk Call Manager/")
    assert dec.take_errors() + dec.finish() == []  # real Asterisk output is within every limit
    assert len(whole) == raw.count(b"\r\n\r\n") and whole
    one_by_one, problems = bytewise(raw)
    assert problems == []
    assert [m.headers for m in one_by_one] == [m.headers for m in whole]


@settings(max_examples=examples(30), deadline=None)
@given(data=st.data())
def test_every_transcript_decodes_identically_whole_and_in_random_chunks(data: st.DataObject) -> None:
    raw = (TRANSCRIPTS / data.draw(st.sampled_from(ALL_TRANSCRIPTS))).read_bytes()
    whole = feed(raw, [])
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=50))
    assert feed(raw, cuts) == whole


# ---- limits (Asterisk's, widened for what Asterisk writes): applied while reading ------------------------

SMALL = Limits(line_bytes=64, lines=6, message_bytes=256)
_GOOD = st.lists(
    st.tuples(
        st.text(st.characters(codec="ascii", exclude_characters=":\r\n"), min_size=1, max_size=10),
        st.text(
            st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=12
        ),
    ),
    min_size=1,
    max_size=4,
)


def _bad_message(kind: str, size: int) -> bytes:
    if kind == "line":
        return b"Event: Big\r\nValue: " + b"v" * size + b"\r\n\r\n"
    if kind == "lines":
        return b"Event: Many\r\n" + b"a: b\r\n" * (6 + size % 50) + b"\r\n"
    return (
        b"Event: Huge\r\n" + b"x: " + b"y" * 40 + b"\r\n" * 1 + (b"z: " + b"w" * 50 + b"\r\n") * 5 + b"\r\n"
    )


@settings(max_examples=examples(80), deadline=None)
@given(
    before=st.lists(_GOOD, max_size=3),
    after=st.lists(_GOOD, min_size=1, max_size=3),
    kind=st.sampled_from(["line", "lines", "bytes"]),
    size=st.integers(65, 5000),
    cuts=st.lists(st.integers(0, 20_000), max_size=30),
)
def test_a_message_over_a_limit_is_skipped_and_reported_and_its_neighbours_come_through_whatever_the_reads(
    before: list[list[tuple[str, str]]],
    after: list[list[tuple[str, str]]],
    kind: str,
    size: int,
    cuts: list[int],
) -> None:
    data = b"".join(map(encode, before)) + _bad_message(kind, size) + b"".join(map(encode, after))
    dec = AmiDecoder(expect_banner=False, limits=SMALL)
    out: list[Message] = []
    prev = 0
    for c in [*sorted({c for c in cuts if c < len(data)}), len(data)]:
        out += dec.receive_data(data[prev:c])
        assert len(dec._buf) <= SMALL.message_bytes  # never more held than one message's limit
        prev = c
    assert [m.headers for m in out] == before + after
    problems = dec.take_errors() + dec.finish()
    assert len(problems) == 1 and "skipped" in problems[0].reason


@settings(max_examples=examples(150), deadline=None)
@given(chunks=st.lists(st.binary(min_size=100, max_size=1000), min_size=1, max_size=10), banner=st.booleans())
def test_any_bytes_never_raise_never_grow_the_buffer_and_are_quoted_escaped(
    chunks: list[bytes], banner: bool
) -> None:
    dec = AmiDecoder(expect_banner=banner, limits=SMALL)
    for chunk in chunks:
        for msg in dec.receive_data(chunk):
            assert msg.headers  # every message has its headers
        assert len(dec._buf) <= SMALL.message_bytes + len(b"Asterisk Call Manager/")
    for problem in dec.take_errors() + dec.finish():
        assert problem.raw.isprintable() and len(problem.raw) <= 4 * 120


def test_problems_escape_control_characters_of_the_input() -> None:
    dec = AmiDecoder(expect_banner=False)
    dec.receive_data("Event: X\r\nno colon \x1b[2J\x1b]0;owned\x07 \u202e\r\n\r\n".encode())
    (problem,) = dec.take_errors()
    assert problem.raw == "no colon \\x1b[2J\\x1b]0;owned\\x07 \\u202e"
    assert excerpt(b"a\r\nb\n\xff") == "a\\r\\nb\\n\ufffd"


def test_the_limits_are_asterisks_own_widened_for_what_it_writes() -> None:
    assert (ASTERISK_LIMITS.line_bytes, ASTERISK_LIMITS.lines) == (1024, 128)  # manager.c
    assert DEFAULT_LIMITS.line_bytes >= ASTERISK_LIMITS.line_bytes
    assert DEFAULT_LIMITS.lines >= ASTERISK_LIMITS.lines
    dec = AmiDecoder(expect_banner=False, limits=ASTERISK_LIMITS)
    assert dec.receive_data(b"Event: A\r\nV: " + b"v" * 1021 + b"\r\n\r\n")[0].event == "A"  # 1024 bytes
    assert dec.receive_data(b"Event: B\r\nV: " + b"v" * 1022 + b"\r\n\r\nEvent: C\r\n\r\n")[0].event == "C"
    assert ["line longer than 1024 bytes" in p.reason for p in dec.take_errors()] == [True]


def test_a_banner_without_a_line_end_is_no_banner_and_costs_no_memory() -> None:
    dec = AmiDecoder(limits=SMALL)
    for _ in range(1000):
        assert dec.receive_data(b"Asterisk Call Manager/13.0.0" + b"y" * 100) == []
        assert len(dec._buf) <= SMALL.message_bytes
    assert dec.no_banner is not None and "no line end" in dec.no_banner
    short = AmiDecoder()
    short.receive_data(b"Asterisk Call Manager/13.0.0")
    short.finish()
    assert short.no_banner == "the stream ended before the AMI banner line (no CRLF)"


def test_a_malformed_line_in_a_block_of_messages_spoils_only_its_own_message() -> None:
    good = [encode([("Event", f"E{i}"), ("Uniqueid", f"1.{i}"), ("Value", "")]) for i in range(5)]
    data = b"".join(good[:2]) + b"Event: Bad\r\nno colon here\r\nUniqueid: 9.9\r\n\r\n" + b"".join(good[2:])
    dec = AmiDecoder(expect_banner=False)
    msgs = dec.receive_data(data)
    assert [m.event for m in msgs] == ["E0", "E1", "Bad", "E2", "E3", "E4"]
    assert msgs[2].headers == [("Event", "Bad"), ("Uniqueid", "9.9")]
    assert [p.reason for p in dec.take_errors()] == ["header line without 'Key: Value'"]
    assert msgs[4].map == {"Event": "E3", "Uniqueid": "1.3", "Value": ""}


def test_blank_lines_between_messages_in_one_read_are_skipped() -> None:
    data = b"Event: A\r\nX: 1\r\n\r\n\r\n\r\nEvent: B\r\nX: 2\r\n\r\n\r\nEvent: C\r\n\r\n"
    dec = AmiDecoder(expect_banner=False)
    assert [(m.event, m.get("X")) for m in dec.receive_data(data)] == [("A", "1"), ("B", "2"), ("C", None)]
    assert dec.take_errors() == []


def test_lazy_and_built_messages_read_alike() -> None:
    (lazy,) = AmiDecoder(expect_banner=False).receive_data(
        b"Event: Hangup\r\nTimestamp: 1.5\r\nChanVariable: A=1\r\nChanVariable: B=2\r\nValue: \r\n\r\n"
    )
    built = Message(
        [
            ("Event", "Hangup"),
            ("Timestamp", "1.5"),
            ("ChanVariable", "A=1"),
            ("ChanVariable", "B=2"),
            ("Value", ""),
        ]
    )
    assert lazy == built and lazy.headers == built.headers and lazy.map == built.map
    for m in (lazy, built):
        assert m.event == "Hangup" and m.peek("Timestamp") == "1.5" and m.peek("ChanVariable") == "A=1"
        assert (
            m.peek("Value") == "" and m.peek("Missing") is None and m.getall("chanvariable") == ["A=1", "B=2"]
        )


def test_a_message_from_text_with_a_line_without_colon_space_maps_like_its_headers() -> None:
    m = Message.from_text("Event: X\r\nbare\r\nA: 1\r\nA: 2")
    assert m.map == {"Event": "X", "bare": "", "A": "1"} == dict(reversed(m.headers))
    assert m.peek("A") == "1" and m["A"] == "1"


def test_a_bare_line_feed_inside_a_value_stays_in_the_value_without_an_error() -> None:
    dec = AmiDecoder(expect_banner=False)
    msgs = dec.receive_data(b"Event: A\r\nAppData: x\ny\r\n\r\nEvent: B\r\nX: 1\r\n\r\n")
    assert [m.headers for m in msgs] == [[("Event", "A"), ("AppData", "x\ny")], [("Event", "B"), ("X", "1")]]
    assert dec.take_errors() == []


def test_mentions_is_false_only_when_no_header_holds_the_fragment() -> None:
    (lazy,) = AmiDecoder(expect_banner=False).receive_data(b"Event: VarSet\r\nVariable: QUEUESTATUS\r\n\r\n")
    built = Message([("Event", "VarSet"), ("Variable", "QUEUESTATUS")])
    for m in (lazy, built):
        assert m.mentions("QUEUESTATUS") and m.mentions("VarSet") and not m.mentions("TIMEOUT")


_KEYS = st.text(st.characters(exclude_categories=["Cs"], exclude_characters=":\r\n"), min_size=1, max_size=8)
_VALUES = st.text(st.sampled_from(": a\n\r张"), max_size=8).filter(lambda v: "\r\n" not in v)


@given(st.lists(st.tuples(_KEYS, _VALUES), min_size=1, max_size=8))
def test_a_decoded_message_reads_its_headers_and_first_values_whatever_the_values_hold(
    pairs: list[tuple[str, str]],
) -> None:
    raw = "".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n"
    (msg,) = AmiDecoder(expect_banner=False).receive_data(raw.encode())
    first: dict[str, str] = {}
    for k, v in pairs:
        first.setdefault(k, v)
    assert msg.map == first
    assert msg.peek(pairs[-1][0]) == first[pairs[-1][0]]
    assert msg.headers == pairs
