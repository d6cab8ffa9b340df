"""Supervisors listening in on agents' calls (ChanSpy, docs/design/supervisor-monitoring.md). Pure.

A session starts when the desk originates the supervisor's phone into ``ChanSpy(<agent's channel>,
qESd<mode>)``: ``q`` no beep (the agent is not told), ``E`` the supervisor's phone hangs up when the
agent's channel does, ``S`` it hangs up at once when that channel is already gone, ``d`` DTMF 4/5/6
switch listen/whisper/barge (the desk sends them with ``PlayDTMF Receive=true``: no second call), and
``w`` (whisper) or ``B`` (barge) for the mode asked first.

``Spies`` keeps one session per supervisor, found again by the Originate's ``ChannelId`` (the spyer's
Uniqueid in ChanSpyStart/ChanSpyStop) or the spyer's channel name. Its messages go to supervisors only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cti.core.events import SpyStarted, SpyStopped
from cti.core.ids import AgentId

MODES = ("listen", "whisper", "barge")
_OPTION = {"listen": "", "whisper": "w", "barge": "B"}
DIGIT = {"listen": "4", "whisper": "5", "barge": "6"}  # app_chanspy.c change_spy_mode with 'd'


def chanspy_data(channel: str, mode: str) -> str:
    """ChanSpy's Data for spying on exactly ``channel`` (its full name as the prefix) in ``mode``."""
    return f"{channel},qESd{_OPTION[mode]}"


@dataclass(slots=True)
class SpySession:
    supervisor: str  # the supervisor's user name
    agent: AgentId
    server: str
    linkedid: str
    spyee_channel: str
    mode: str  # listen, whisper, barge
    channel_id: str  # the Originate's ChannelId: the spyer channel's Uniqueid
    since: float  # asked at, then spying since (ChanSpyStart)
    spyer_channel: str | None = None  # known from ChanSpyStart
    state: str = "calling"  # calling: the supervisor's phone rings; on: spying; ended

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "spy",
            "supervisor": self.supervisor,
            "agent": self.agent,
            "server": self.server,
            "linkedid": self.linkedid,
            "mode": self.mode,
            "state": self.state,
            "since": self.since,
        }


class Spies:
    def __init__(self) -> None:
        self.by_supervisor: dict[str, SpySession] = {}

    def of(self, supervisor: str) -> SpySession | None:
        return self.by_supervisor.get(supervisor)

    def add(self, session: SpySession) -> None:
        self.by_supervisor[session.supervisor] = session

    def end(self, session: SpySession) -> SpySession | None:
        """Forget ``session`` (if it is still the supervisor's); the ended session, or None."""
        if self.by_supervisor.get(session.supervisor) is not session:
            return None
        del self.by_supervisor[session.supervisor]
        session.state = "ended"
        return session

    def _find(self, server: str, uniqueid: str, channel: str) -> SpySession | None:
        for s in self.by_supervisor.values():
            if s.server == server and (
                (uniqueid and s.channel_id == uniqueid) or (channel and s.spyer_channel == channel)
            ):
                return s
        return None

    def of_channel(self, server: str, channel_id: str) -> bool:
        return self._find(server, channel_id, "") is not None

    def started(self, event: SpyStarted) -> SpySession | None:
        s = self._find(event.server, event.spyer_uniqueid, event.spyer_channel)
        if s is None:
            return None  # someone else's ChanSpy (from the dialplan): not a console's session
        s.spyer_channel, s.state, s.since = event.spyer_channel, "on", event.at
        return s

    def stopped(self, event: SpyStopped) -> SpySession | None:
        s = self._find(event.server, event.spyer_uniqueid, event.spyer_channel)
        return self.end(s) if s is not None else None

    def originate_failed(self, server: str, channel_id: str) -> SpySession | None:
        """The supervisor's phone did not answer (OriginateResponse Failure)."""
        s = self._find(server, channel_id, "")
        return self.end(s) if s is not None else None

    def snapshot(self) -> list[dict[str, Any]]:
        return [s.to_json() for s in self.by_supervisor.values()]
