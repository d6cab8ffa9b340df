import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.screenpop import protocol as p

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
TYPES = ["login", "resume", "ping", "ready", "pause", "logout", "hangup", "transfer", "dial", "disposition"]


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


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "dial", "number": "100&Local/evil"}',
        '{"type": "transfer", "linkedid": "1", "to": "agent", "target": "Bob\\r\\nAction: Hangup"}',
        '{"type": "transfer", "linkedid": "1", "to": "queue", "target": "sales,1"}',
        '{"type": "pause", "reason": "' + "x" * 81 + '"}',
        '{"type": "disposition", "linkedid": "1", "disposition": "x", "notes": "\\u0000"}',
        '{"type": "resume", "token": "t", "last_seq": -1}',
        '{"type": "resume", "token": "t", "last_seq": true}',
        '{"type": "ping", "ref": {"nested": 1}}',
        '{"type": "ping", "ref": true}',
    ],
)
def test_values_that_could_reach_ami_unsafely_are_refused(text: str) -> None:
    with pytest.raises(p.BadMessage) as e:
        p.parse(text)
    assert e.value.code == "bad_field"
