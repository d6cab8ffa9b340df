"""The component tells the router which agent works a task (no call rings it unless it allows it), and
the console's fulfilment and allow-calls commands parse strictly."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pytest

from cti.config import EmailConfig
from cti.core.events import AgentState
from cti.mail.component import EmailComponent
from cti.mail.inbound import Accepted
from cti.routing.tasks import TaskAgent
from cti.screenpop import protocol as p


def test_the_router_hears_of_each_task_worked_and_of_the_agents_allowance() -> None:
    seen: list[tuple[str, str | None, bool]] = []

    def feed() -> tuple[Sequence[TaskAgent], Mapping[str, int]]:
        return [TaskAgent("Alice", AgentState.AVAILABLE, frozenset({"email"}), frozenset({"q"}))], {}

    comp = EmailComponent(EmailConfig(), feed=feed, working=lambda a, t, allow: seen.append((a, t, allow)))
    comp._spawn = lambda coro: coro.close()  # type: ignore[method-assign, attr-defined]
    task = comp.tasks.add(Accepted("ann@example.com", "s", "b", "<1@x>"))
    assert comp.dispatch() == ["Alice"]
    comp.allow_calls("Alice", True)
    comp._closed("Alice")
    assert seen == [("Alice", task.id, False), ("Alice", task.id, True), ("Alice", None, True)]


def test_fulfil_and_allow_calls_commands() -> None:
    cmd = p.parse('{"type": "fulfil", "linkedid": "1.2", "customer": 7, "documents": [3, 4], "ref": 1}')
    assert cmd == p.Fulfil(1, "1.2", 7, (3, 4))
    assert p.parse('{"type": "documents"}') == p.Documents(None)
    assert p.parse('{"type": "email_allow_calls", "allow": false}') == p.EmailAllowCalls(None, False)
    for bad in (
        '{"type": "fulfil", "linkedid": "1.2", "customer": 7, "documents": []}',
        '{"type": "fulfil", "linkedid": "1.2", "customer": true, "documents": [1]}',
        '{"type": "fulfil", "linkedid": "1.2", "customer": 7, "documents": ["1"]}',
        json.dumps({"type": "fulfil", "linkedid": "1.2", "customer": 7, "documents": list(range(1, 30))}),
        '{"type": "email_allow_calls", "allow": "yes"}',
    ):
        with pytest.raises(p.BadMessage):
            p.parse(bad)
