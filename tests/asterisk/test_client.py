"""The link layer's routing: responses to their action, list items to their list, events in order,
whatever the TCP chunking. (Over real sockets: test_connection.py and test_panoramisk_defects.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.asterisk.ami import Message, banner, encode
from cti.asterisk.client import ActionLost, AmiProtocol, ListReply
from cti.core.errors import UsageError
from tests.conftest import examples


class RecordingTransport(asyncio.Transport):
    """A transport that keeps what is written (the peer is the test)."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += bytes(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


class Link:
    def __init__(self) -> None:
        self.events: list[Message] = []
        self.problems: list[str] = []
        self.proto = AmiProtocol(
            on_event=lambda m, at: self.events.append(m),
            on_problem=self.problems.append,
            wall_clock=lambda: 100.0,
            id_prefix="t",
        )
        self.transport = RecordingTransport()
        self.proto.connection_made(self.transport)


STREAM_ITEMS: list[dict[str, str]] = [
    {"Event": "FullyBooted", "Status": "Fully Booted"},
    {"Response": "Success", "ActionID": "t-1", "Ping": "Pong"},
    {"Event": "Newchannel", "CallerIDName": "José 李小龙 <b>x</b>", "Uniqueid": "1.1"},
    {"Response": "Success", "ActionID": "t-2", "EventList": "start", "Message": "Channels will follow"},
    {"Event": "CoreShowChannel", "ActionID": "t-2", "Channel": "A"},
    {"Event": "Hangup", "Uniqueid": "1.1"},  # interleaved with the list: still an event
    {"Event": "CoreShowChannel", "Channel": "B", "ActionID": "t-2"},  # ActionID anywhere
    {"Event": "CoreShowChannelsComplete", "ActionID": "t-2", "EventList": "Complete", "ListItems": "2"},
    {"Event": "OriginateResponse", "ActionID": "t-3", "Response": "Success", "Reason": "4"},
    {"Response": "Success", "ActionID": "t-3", "Message": "Originate successfully queued"},
    {"Response": "Success", "ActionID": "t-4", "Variable": "X", "Value": ""},
    {"Response": "Error", "ActionID": "nobody", "Message": "late reply"},
]
STREAM = banner() + b"".join(encode(m) for m in STREAM_ITEMS)


def run_stream(chunks: list[bytes]) -> tuple[list[Any], list[Message]]:
    async def main() -> tuple[list[Any], list[Message]]:
        link = Link()
        futures = [
            link.proto.send({"Action": "Ping"}),
            link.proto.send({"Action": "CoreShowChannels"}),
            link.proto.send({"Action": "Originate", "Async": "true"}),
            link.proto.send({"Action": "Getvar", "Variable": "X"}),
        ]
        for chunk in chunks:
            link.proto.data_received(chunk)
        assert all(f.done() for f in futures)
        assert link.proto.banner.result() == "Asterisk Call Manager/13.0.0"
        return [f.result() for f in futures], link.events

    return asyncio.run(main())


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def test_whole_stream_routes_responses_lists_and_events() -> None:
    results, events = run_stream([STREAM])
    ping, channels, originate, getvar = results
    assert ping.get("Ping") == "Pong"
    assert isinstance(channels, ListReply) and [m.get("Channel") for m in channels.items] == ["A", "B"]
    assert originate.get("Message") == "Originate successfully queued"
    assert getvar.headers[-1] == ("Value", "")
    assert [e.event for e in events] == ["FullyBooted", "Newchannel", "Hangup", "OriginateResponse"]
    assert events[1].get("CallerIDName") == "José 李小龙 <b>x</b>"


def test_one_byte_at_a_time_gives_the_same_routing() -> None:
    assert run_stream([STREAM[i : i + 1] for i in range(len(STREAM))]) == run_stream([STREAM])


@settings(max_examples=examples(60), suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=40))
def test_any_chunking_gives_the_same_routing(cuts: list[int]) -> None:
    assert run_stream(split(STREAM, cuts)) == run_stream([STREAM])


async def test_actions_get_unique_ids_and_a_duplicate_id_is_refused() -> None:
    link = Link()
    link.proto.send({"Action": "Ping"})
    link.proto.send({"Action": "Ping"})
    link.proto.send({"Action": "Ping", "ActionID": "mine"})
    with pytest.raises(UsageError, match="mine"):
        link.proto.send({"Action": "Ping", "ActionID": "mine"})
    with pytest.raises(UsageError, match="Action"):
        link.proto.send({"Channel": "x"})
    assert link.transport.written.count(b"ActionID: t-") == 2
    assert link.proto.pending_count == 3


async def test_a_dropped_link_fails_every_pending_action_with_action_lost() -> None:
    link = Link()
    closed: list[AmiProtocol] = []
    link.proto._on_close = closed.append
    future = link.proto.send({"Action": "Redirect", "Channel": "x"})
    link.proto.connection_lost(ConnectionResetError("reset by peer"))
    with pytest.raises(ActionLost, match=r"Redirect: connection lost: reset by peer; not re-sent"):
        future.result()
    assert closed == [link.proto]
    assert link.proto.closed.result().startswith("connection lost")
    after = link.proto.send({"Action": "Ping"})
    with pytest.raises(ActionLost, match="closed"):
        after.result()


async def test_a_forgotten_action_late_reply_is_dropped_not_turned_into_an_event() -> None:
    link = Link()
    link.proto.data_received(banner())
    link.proto.send({"Action": "Ping", "ActionID": "late"})
    link.proto.forget("late")
    link.proto.data_received(encode({"Response": "Success", "ActionID": "late", "Ping": "Pong"}))
    assert link.events == [] and link.proto.pending_count == 0


async def test_malformed_input_is_reported_and_decoding_goes_on() -> None:
    link = Link()
    link.proto.data_received(banner() + b"garbage without colon\r\n\r\n" + encode({"Event": "Hangup"}))
    assert len(link.problems) == 1 and "malformed AMI input" in link.problems[0]
    assert [e.event for e in link.events] == ["Hangup"]
