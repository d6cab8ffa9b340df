"""The queue_log cti appends for the calls it routes, in Asterisk's own format.

app_queue writes ``<epoch>|<callid>|<queue>|<agent>|<event>|<data...>`` for the calls it handles; cti
writes the same lines for CTI-routed calls (the callid is the waiting channel's Uniqueid, the agent
column the queue member name, as with ``log_membername_as_agent = yes``), so queue_log tools keep
working. The fields of each event are app_queue's (apps/app_queue.c, and the shared transcripts):

    ENTERQUEUE      url|callerid|position
    RINGNOANSWER    ringtime (ms)
    CONNECT         holdtime|bridged channel uniqueid|ringtime (s)
    COMPLETECALLER  holdtime|calltime|origposition      (the caller hung up)
    COMPLETEAGENT   holdtime|calltime|origposition      (the agent hung up)
    BLINDTRANSFER   extension|context|holdtime|calltime|origposition
    ATTENDEDTRANSFER method|data|holdtime|calltime|origposition
    ABANDON         position|origposition|waittime
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TextIO

log = logging.getLogger("cti.delivery.queue_log")


def _field(value: object) -> str:
    # a '|' or a line break inside a field would split the line: replace them (caller-ID is hostile)
    return str(value).replace("|", "/").replace("\n", " ").replace("\r", " ")


def format_line(when: float, callid: str, queue: str, agent: str, event: str, *data: object) -> str:
    return "|".join([str(int(when)), _field(callid), _field(queue), _field(agent), event, *map(_field, data)])


class QueueLogWriter:
    """Appends lines to a file (flushed per line: a reader can follow it live); keeps them when no path."""

    def __init__(self, path: str | Path | None = None, *, keep: bool = False) -> None:
        self.path = Path(path) if path else None
        self.lines: list[str] | None = [] if keep or path is None else None
        self._file: TextIO | None = None
        self.errors = 0
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")

    def write(self, when: float, callid: str, queue: str, agent: str, event: str, *data: object) -> None:
        line = format_line(when, callid, queue, agent, event, *data)
        if self.lines is not None:
            self.lines.append(line)
        if self._file is not None:
            try:
                self._file.write(line + "\n")
                self._file.flush()
            except OSError as e:
                self.errors += 1
                log.error("cannot append to the queue_log %s: %s", self.path, e)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
