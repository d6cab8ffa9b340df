"""The simulator's ground truth: an Asterisk-format queue_log (app_queue's own log).

Each line is ``<epoch>|<callid>|<queue>|<agent>|<event>|<data...>`` with whole-second epochs, the
agent column holding member names (``log_membername_as_agent = yes``), exactly as in the shared
transcripts' ``*.queue_log`` files. Lines are kept in memory (``lines``) and, when a path is given,
appended to that file and flushed per line so a reader can follow it live.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TextIO


class QueueLog:
    def __init__(self, path: str | Path | None = None) -> None:
        self.lines: list[str] = []
        self._file: TextIO | None = open(path, "a", encoding="utf-8") if path else None
        self.listeners: list[Callable[[str], None]] = []  # each line as written (the PostgreSQL sink)

    def write(self, when: float, callid: str, queue: str, agent: str, event: str, *data: object) -> None:
        line = "|".join([str(int(when)), callid, queue, agent, event, *(str(d) for d in data)])
        self.lines.append(line)
        if self._file is not None:
            self._file.write(line + "\n")
            self._file.flush()
        for listener in self.listeners:
            listener(line)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)
