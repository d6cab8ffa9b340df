from __future__ import annotations

import asyncio
import smtplib

from cti.core.events import AgentState
from cti.mail.service import EmailTask, EmailTasks
from cti.mail.smtp_server import InboundSink, start_smtp_server, stop_smtp_server
from cti.routing.tasks import TaskAgent

MSG = "From: ann@example.com\r\nSubject: call me\r\nMessage-ID: <9@x>\r\n\r\nplease\r\n"


def send(port: int) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        return s.sendmail("ann@example.com", ["tasks@cti.example"], MSG)  # the refused recipients


async def test_mail_over_smtp_waits_while_calls_wait_then_reaches_the_idle_agent() -> None:
    loop = asyncio.get_running_loop()
    pushed: list[tuple[str, EmailTask]] = []
    tasks = EmailTasks(lambda a, t: pushed.append((a, t)), deadline_seconds=3600, clock=loop.time)
    arrived = asyncio.Event()

    def on_task(a: object) -> None:
        tasks.add(a)  # type: ignore[arg-type]
        arrived.set()

    port = await start_smtp_server(InboundSink(on_task, lambda q: None))
    try:
        assert await loop.run_in_executor(None, send, port.getHost().port) == {}
        await arrived.wait()
    finally:
        await stop_smtp_server(port)
    idle = TaskAgent("1001", AgentState.AVAILABLE, frozenset({"email"}), frozenset({"sales"}))
    on_call = TaskAgent("1002", AgentState.ON_CALL, frozenset({"email"}), frozenset({"sales"}))
    assert tasks.dispatch([on_call, idle], {"sales": 2}) == []  # calls waiting: the task waits
    assert pushed == [] and len(tasks.waiting) == 1
    assert tasks.dispatch([on_call, idle], {"sales": 0}) == ["1001"]
    agent, task = pushed[0]
    assert agent == "1001" and task.message.subject == "call me"
    assert task.deadline == task.received + 3600
    assert tasks.dispatch([on_call, idle], {}) == []  # one task per agent
    assert tasks.close("1001") is task
