from __future__ import annotations

import asyncio
import smtplib

from cti.config import EmailConfig
from cti.mail.component import EmailComponent

MSG = "From: ann@example.com\r\nSubject: hi\r\n\r\nplease\r\n"


def send(port: int, msg: str) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
        return s.sendmail("ann@example.com", ["tasks@cti.example"], msg)


async def test_component_queues_tasks_and_quarantines_auto_replies() -> None:
    comp = EmailComponent(EmailConfig(enabled=True, port=0))
    run = asyncio.create_task(comp.run())
    await comp.started.wait()
    assert comp.port
    loop = asyncio.get_running_loop()
    try:
        assert await loop.run_in_executor(None, send, comp.port, MSG) == {}
        auto = "Auto-Submitted: auto-replied\r\n" + MSG
        assert await loop.run_in_executor(None, send, comp.port, auto) == {}
    finally:
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
    assert [t.message.subject for t in comp.tasks.waiting] == ["hi"]
    assert [q.reason for q in comp.quarantined] == ["auto-reply: Auto-Submitted auto-replied"]
