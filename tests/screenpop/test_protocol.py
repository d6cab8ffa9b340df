import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cti.screenpop import protocol as p
from tests.conftest import examples

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
TYPES = [
    "login",
    "resume",
    "ping",
    "ready",
    "pause",
    "logout",
    "hangup",
    "transfer",
    "dial",
    "disposition",
    "schedule_callback",
    "callbacks",
    "email_reply",
    "email_close",
]


@given(JSON)
def test_any_json_value_parses_to_a_command_or_a_clear_error(value: object) -> None:
    try:
        cmd = p.parse(json.dumps(value))
    except p.BadMessage as e:
        assert e.code in ("bad_json", "bad_field", "unknown_type") and e.message
    else:
        assert isinstance(cmd, p.Command)


@given(
    st.sampled_from(TYPES),
    st.dictionaries(
        st.sampled_from(
            [
                "username",
                "password",
                "token",
                "last_seq",
                "reason",
                "agent",
                "linkedid",
                "to",
                "target",
                "number",
                "disposition",
                "notes",
                "ref",
                "session",
                "at",
                "for",
                "queue",
                "note",
            ]
        ),
        JSON,
        max_size=6,
    ),
)
def test_every_command_type_with_any_fields_parses_or_errs_cleanly(kind: str, fields: dict[str, Any]) -> None:
    try:
        p.parse(json.dumps({**fields, "type": kind}))
    except p.BadMessage as e:
        assert e.code in ("bad_json", "bad_field")


def test_commands_parse_to_their_typed_form() -> None:
    assert p.parse('{"type": "transfer", "linkedid": "1.1", "to": "number", "target": "+34 911-234"}') == (
        p.Transfer(None, "1.1", "number", "+34911234")
    )
    assert p.parse('{"type": "pause", "reason": "lunch", "ref": 7}') == p.Pause(
        7, "lunch", None
    )  # a number stays a number
    assert p.parse('{"type": "resume", "token": "t", "last_seq": 4}') == p.Resume(None, "t", None, 4)
    assert p.parse('{"type": "disposition", "linkedid": "1", "disposition": "sale", "notes": "a\\nb"}') == (
        p.Disposition(None, "1", "sale", "a\nb")
    )
    assert p.parse(
        '{"type": "disposition", "linkedid": "1", "disposition": "cb", "notes": "", "callback_at": 18e8}'
    ) == p.Disposition(None, "1", "cb", "", 1800000000.0)
    assert p.parse(
        '{"type": "schedule_callback", "number": "+1 (212) 555-0100", "at": 1800000000, "for": ""}'
    ) == p.ScheduleCallback(None, "+1 (212) 555-0100", 1800000000.0, "", None, "")
    assert p.parse('{"type": "callbacks"}') == p.ListCallbacks(None, None)
    assert p.parse('{"type": "email_reply", "task": "7", "body": "Dear Ann,\\nyes."}') == p.EmailReply(
        None, "7", "Dear Ann,\nyes.", "answered"
    )
    assert p.parse('{"type": "email_close", "task": "7", "disposition": "spam"}') == p.EmailClose(
        None, "7", "spam"
    )


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "dial", "number": "100&Local/evil"}',
        '{"type": "transfer", "linkedid": "1", "to": "agent", "target": "Bob\\r\\nAction: Hangup"}',
        '{"type": "transfer", "linkedid": "1", "to": "queue", "target": "sales,1"}',
        '{"type": "pause", "reason": "' + "x" * 81 + '"}',
        '{"type": "disposition", "linkedid": "1", "disposition": "x", "notes": "\\u0000"}',
        '{"type": "disposition", "linkedid": "1", "disposition": "x", "notes": "", "callback_at": "soon"}',
        '{"type": "disposition", "linkedid": "1", "disposition": "x", "notes": "", "callback_at": true}',
        '{"type": "resume", "token": "t", "last_seq": -1}',
        '{"type": "resume", "token": "t", "last_seq": true}',
        '{"type": "ping", "ref": {"nested": 1}}',
        '{"type": "schedule_callback", "number": "+12125550100", "at": "tomorrow"}',
        '{"type": "schedule_callback", "number": "+12125550100", "at": true}',
        '{"type": "schedule_callback", "number": "+12125550100", "at": 1e12}',
        '{"type": "schedule_callback", "number": "+12125550100", "at": 1800000000, "for": "Bob\\nX"}',
        '{"type": "schedule_callback", "number": "+12125550100", "at": 1800000000, "for": 5}',
        '{"type": "ping", "ref": true}',
        '{"type": "email_reply", "task": "7", "body": ""}',
        '{"type": "email_reply", "task": "7", "body": "\\u0000"}',
        '{"type": "email_close", "task": "7", "disposition": "a\\nb"}',
        '{"type": "email_close", "task": 7, "disposition": "spam"}',
    ],
)
def test_values_that_could_reach_ami_unsafely_are_refused(text: str) -> None:
    with pytest.raises(p.BadMessage) as e:
        p.parse(text)
    assert e.value.code == "bad_field"


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


DEEP_JSON = st.recursive(
    st.none() | st.integers() | st.text(alphabet='[]{}"\\ab,:', max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=40,
)


@settings(max_examples=examples(300))
@given(DEEP_JSON)
@example(json.loads("[" * 9 + "]" * 9))  # one over
@example([[[[[[[["[[[[[[[[[[", {"{{{{": "]]]]"}]]]]]]]])  # 8 deep, brackets in strings
def test_the_depth_limit_counts_brackets_outside_strings_exactly(value: Any) -> None:
    text = json.dumps(value)
    if _depth(value) > p.MAX_DEPTH:
        with pytest.raises(p.Refused) as refused:
            p.load(text)
        assert refused.value.close_code == p.CLOSE_TOO_DEEP
    else:
        assert p.load(text) == value  # brackets inside strings never count


@settings(max_examples=examples(300))
@given(st.text(max_size=60))
def test_any_text_is_parsed_or_refused_never_an_unexpected_error(text: str) -> None:
    try:
        p.parse(text)
    except (p.BadMessage, p.Refused):
        pass


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\ud83d", "x\\ude00y"])
def test_an_unpaired_surrogate_escape_is_refused_anywhere_in_the_message(escape: str) -> None:
    for text in (
        f'{{"type": "ping", "ref": "{escape}"}}',
        f'{{"type": "pause", "reason": "{escape}"}}',
        f'{{"type": "x", "{escape}": 1}}',
    ):
        with pytest.raises(p.Refused) as refused:
            p.parse(text)
        assert refused.value.reason == "bad_text"
    assert p.parse('{"type": "ping", "ref": "\\\\ud800"}').ref == "\\ud800"  # an escaped backslash: text


# ---- preview dialling (cti.delivery.dialer) ----
def test_preview_commands_carry_the_card_id_within_limits() -> None:
    assert p.parse(json.dumps({"type": "preview_dial", "preview": "ab12", "ref": 3})) == p.PreviewDial(
        3, "ab12"
    )
    assert p.parse(json.dumps({"type": "preview_skip", "preview": "ab12"})) == p.PreviewSkip(None, "ab12")
    for bad in ({}, {"preview": ""}, {"preview": 5}, {"preview": "x" * 65}, {"preview": "a\nb"}):
        with pytest.raises(p.BadMessage) as e:
            p.parse(json.dumps({"type": "preview_dial", **bad}))
        assert e.value.code == "bad_field"


def test_the_preview_card_carries_the_lead_and_the_script_as_given() -> None:
    card = p.preview_card("id1", "Alice", "renewals", 7, "<img src=x onerror=alert(1)>", "+1212", "Hi", 9.0)
    assert card["type"] == "preview" and card["lead"] == {
        "id": 7,
        "name": "<img src=x onerror=alert(1)>",
        "number": "+1212",
    }
    assert (card["script"], card["expires_at"], card["agent"]) == ("Hi", 9.0, "Alice")
