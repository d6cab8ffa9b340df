import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.bus import codec
from cti.core.errors import ProtocolError
from cti.core.events import AgentState, CallerInfo, Resynced, StreamProblem, UserEventRaised
from tests.bus.events import agent_state, inbound_call, transferred


def test_every_event_of_a_call_survives_the_round_trip() -> None:
    events = [
        *inbound_call(),
        agent_state("Bob", AgentState.PAUSED, reason="lunch"),
        transferred("1.1", "Bob"),
    ]
    assert codec.loads(codec.dumps(events)) == events


def test_the_journey_inside_call_ended_keeps_its_legs_and_enums() -> None:
    ended = inbound_call()[-1]
    back = codec.loads(codec.dumps([ended]))[0]
    assert back == ended
    assert back.journey.queue_legs[0].outcome.value == "answered"  # type: ignore[attr-defined]


@given(name=st.text(), number=st.text(max_size=30), headers=st.dictionaries(st.text(), st.text(), max_size=4))
def test_any_text_in_names_and_user_event_headers_round_trips(
    name: str, number: str, headers: dict[str, str]
) -> None:
    events = [
        *inbound_call(name=name, number=number),
        UserEventRaised(1.0, "pbx1", "CtiWaiting", None, None, headers),
        Resynced(2.0, "pbx1", "reconnect", 3, 2),
        StreamProblem(3.0, "pbx1", "bad line"),
    ]
    assert codec.loads(codec.dumps(events)) == events


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ("not json", "not JSON"),
        ('{"kind": "CallQueued"}', "expected a list"),
        ('[{"event": "Exploded", "data": {}}]', "unknown kind"),
        ('[{"event": "StreamProblem"}]', "expected a data object"),
        ('[{"event": "StreamProblem", "data": {"at": 1, "server": "x"}}]', "missing field 'problem'"),
        (
            '[{"event": "AgentStateChanged", "data": {"at": 1, "server": "x", "agent": "a", "interface": "i",'
            ' "state": "dancing"}}]',
            "not a AgentState",
        ),
        (
            '[{"event": "StreamProblem", "data": {"at": "soon", "server": "x", "problem": "p"}}]',
            "expected a number",
        ),
    ],
)
def test_bad_payloads_are_refused_with_a_clear_error(payload: str, words: str) -> None:
    with pytest.raises(ProtocolError, match=words):
        codec.loads(payload)


def test_the_encoding_is_plain_json_with_snake_case_fields() -> None:
    envelope = json.loads(codec.dumps([inbound_call()[1]]))[0]
    assert envelope["event"] == "AgentRinging"
    raw = envelope["data"]
    assert raw["caller"] == {"number": "+14155550101", "name": "Jane Roe"}
    assert raw["direction"] == "inbound"
    assert CallerInfo(**raw["caller"]) == CallerInfo("+14155550101", "Jane Roe")
