"""The daemon's e-mail component: the inbound ESMTP server and the task queue, on the daemon's loop.

Not yet done (branch ``email``): quarantined messages are logged with their reason, not yet stored;
``tasks.dispatch`` is not yet fed with the router's agent states (tasks wait until it is).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from cti.config import EmailConfig
from cti.mail.inbound import Accepted, LoopGuard, Quarantined
from cti.mail.service import EmailTask, EmailTasks
from cti.mail.smtp_server import InboundSink, start_smtp_server, stop_smtp_server

log = logging.getLogger("cti.mail")


class EmailComponent:
    def __init__(self, cfg: EmailConfig) -> None:
        self.cfg = cfg
        self.tasks = EmailTasks(self._offer, deadline_seconds=cfg.deadline_hours * 3600, clock=self._now)
        self.quarantined: list[Quarantined] = []
        self.port: int | None = None
        self.started = asyncio.Event()

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _offer(self, agent: str, task: EmailTask) -> None:
        log.info("e-mail task %s offered to %s", task.id, agent)

    def _task(self, message: Accepted) -> None:
        self.tasks.add(message)

    def _quarantine(self, q: Quarantined) -> None:
        self.quarantined.append(q)
        log.warning("e-mail quarantined from %r: %s (%d bytes)", q.sender, q.reason, len(q.raw))

    async def run(self) -> None:
        c = self.cfg
        sink = InboundSink(
            self._task,
            self._quarantine,
            size_limit=c.size_limit_bytes,
            guard=LoopGuard(c.loop_max_repeats, c.loop_window_seconds),
        )
        listening: Any = await start_smtp_server(sink, c.host, c.port)
        self.port = listening.getHost().port
        log.info("e-mail: ESMTP server on %s:%d", c.host, self.port)
        self.started.set()
        try:
            await asyncio.Event().wait()
        finally:
            await stop_smtp_server(listening)
