"""The dial attempt's transition table and the blending decision (cti.dialer.session)."""

from __future__ import annotations

import pytest

from cti.dialer.session import (
    TABLE,
    TERMINAL,
    BlendRule,
    Ev,
    State,
    amd_event,
    blend,
    fail_event,
    progressive_lines,
    step,
)


@pytest.mark.parametrize(
    ("events", "end"),
    [
        ([Ev.SEND, Ev.ACCEPTED, Ev.ANSWER, Ev.HUMAN, Ev.AGENT, Ev.HANGUP], State.ENDED),
        ([Ev.SEND, Ev.ACCEPTED, Ev.ANSWER, Ev.NOTSURE, Ev.AGENT], State.CONNECTED),
        ([Ev.SEND, Ev.ACCEPTED, Ev.ANSWER, Ev.HUMAN, Ev.NO_AGENT], State.ABANDONED),
        ([Ev.SEND, Ev.ACCEPTED, Ev.ANSWER, Ev.MACHINE, Ev.PLAYED], State.MESSAGE),
        ([Ev.SEND, Ev.ACCEPTED, Ev.BUSY], State.FAILED),
        ([Ev.SEND, Ev.REFUSED], State.FAILED),
        ([Ev.SEND, Ev.ACCEPTED, Ev.LINK_LOST], State.UNKNOWN),
        ([Ev.SEND, Ev.LINK_LOST, Ev.ANSWER], State.ANSWERED),
        ([Ev.SEND, Ev.LINK_LOST, Ev.HANGUP], State.ENDED),
    ],
)
def test_paths(events: list[Ev], end: State) -> None:
    s = State.QUEUED
    for e in events:
        nxt = step(s, e)
        assert nxt is not None, (s, e)
        s = nxt
    assert s is end


def test_nothing_leads_back_to_dialling_and_terminal_states_stay() -> None:
    for (src, _), dst in TABLE.items():
        assert dst not in (State.QUEUED, State.ORIGINATING) or src is State.QUEUED
        assert src not in TERMINAL
    assert step(State.UNKNOWN, Ev.SEND) is None  # a lost link never re-originates
    assert step(State.ABANDONED, Ev.AGENT) is None  # dropped is dropped


def test_amd_and_failures() -> None:
    assert [amd_event(s) for s in ("MACHINE", "human", "NOTSURE", "HANGUP", "")] == [
        Ev.MACHINE,
        Ev.HUMAN,
        Ev.NOTSURE,
        Ev.NOTSURE,
        Ev.NOTSURE,
    ]
    assert [fail_event(o) for o in ("busy", "congestion", "no-answer", "failed")] == [
        Ev.BUSY,
        Ev.CONGESTION,
        Ev.NO_ANSWER,
        Ev.NO_ANSWER,
    ]


@pytest.mark.parametrize(
    ("idle", "ringing", "free", "lines"),
    [(3, 0, 10, 3), (3, 2, 10, 1), (3, 5, 10, 0), (5, 0, 2, 2), (0, 0, 5, 0)],
)
def test_progressive(idle: int, ringing: int, free: int, lines: int) -> None:
    assert progressive_lines(idle, 4, ringing, free) == lines


RULE = BlendRule(idle_above=2, service_level_below=0.8)


@pytest.mark.parametrize(
    ("current", "idle", "sl", "expected"),
    [
        ({"a": False, "b": False}, 2, 0.9, {"a": False, "b": False}),  # not above the threshold
        ({"a": False, "b": False}, 3, 0.9, {"a": True, "b": False}),  # one in excess: one moves
        ({"a": False, "b": False}, 9, None, {"a": True, "b": True}),  # no figure yet: idle decides
        ({"a": True, "b": False}, 3, 0.9, {"a": True, "b": True}),
        ({"a": True, "b": True}, 9, 0.5, {"a": False, "b": False}),  # service level fell: all back
        ({"a": True, "b": False}, 0, 0.85, {"a": True, "b": False}),  # in between: stay put
    ],
)
def test_blend(current: dict[str, bool], idle: int, sl: float | None, expected: dict[str, bool]) -> None:
    assert blend(current, idle, sl, RULE) == expected
