"""The e-mail task queue in the daemon: tasks from the inbound server, offered with the pure decision.

The daemon calls ``dispatch`` whenever agents' states or the calls waiting change (and after each new
task): it offers the oldest waiting task to the agent ``cti.routing.tasks.offer_task`` chooses, through
``push`` (the console hub). Calls pre-empt: a task waits while a call waits in the agent's queues.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cti.mail.inbound import Accepted
from cti.routing.tasks import TaskAgent, offer_task


class TaskError(Exception):
    """A reply or disposition refused (no such task offered to this agent, a failed send): ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class EmailTask:
    id: str
    message: Accepted
    received: float
    deadline: float


class EmailTasks:
    def __init__(
        self,
        push: Callable[[str, EmailTask], None],
        *,
        deadline_seconds: float,
        clock: Callable[[], float],
    ) -> None:
        self._push = push
        self._deadline = deadline_seconds
        self._clock = clock
        self._ids = itertools.count(1)
        self.waiting: deque[EmailTask] = deque()
        self.offered: dict[str, EmailTask] = {}  # agent -> task

    def add(
        self,
        message: Accepted,
        *,
        task_id: str | None = None,
        received: float | None = None,
        deadline: float | None = None,
    ) -> EmailTask:
        """A new waiting task; a stored one (reloaded at start) keeps its id, arrival and deadline."""
        now = self._clock() if received is None else received
        task = EmailTask(
            task_id or f"email-{next(self._ids)}",
            message,
            now,
            now + self._deadline if deadline is None else deadline,
        )
        self.waiting.append(task)
        return task

    def deadline_of(self, received: float) -> float:
        return received + self._deadline

    def offered_to(self, agent: str) -> EmailTask | None:
        return self.offered.get(agent)

    def dispatch(self, agents: Sequence[TaskAgent], calls_waiting: Mapping[str, int]) -> list[str]:
        """Offer waiting tasks while an agent may take one; returns the agents offered to."""
        done: list[str] = []
        pool = [a for a in agents if a.agent not in self.offered]
        while self.waiting:
            agent = offer_task(pool, calls_waiting)
            if agent is None:
                break
            task = self.waiting.popleft()
            self.offered[agent] = task
            pool = [a for a in pool if a.agent != agent]
            self._push(agent, task)
            done.append(agent)
        return done

    def take_back(self, agent: str) -> EmailTask | None:
        """The agent went away (logged out) with a task offered: it waits again, first in line."""
        task = self.offered.pop(agent, None)
        if task is not None:
            self.waiting.appendleft(task)
        return task

    def close(self, agent: str) -> EmailTask | None:
        """The agent filed the task's disposition."""
        return self.offered.pop(agent, None)
