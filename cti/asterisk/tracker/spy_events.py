"""ChanSpyStart / ChanSpyStop (apps/app_chanspy.c ``publish_chanspy_message``): a supervisor's phone
listening in on a channel. Read from the raw message: the Spyer/Spyee channel blocks' names and ids."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cti.asterisk.ami import Message
from cti.asterisk.tracker.dispatch import light
from cti.core.events import DomainEvent, SpyStarted, SpyStopped

if TYPE_CHECKING:
    from cti.asterisk.tracker.tracker import CallTracker


@light("ChanSpyStart")
def on_chanspy_start(t: CallTracker, msg: Message, at: float, out: list[DomainEvent]) -> None:
    spyer, spyee = msg.peek("SpyerChannel"), msg.peek("SpyeeChannel")
    if spyer and spyee:
        out.append(
            SpyStarted(
                at,
                t.server,
                spyer,
                msg.peek("SpyerUniqueid") or "",
                spyee,
                msg.peek("SpyeeLinkedid") or "",
            )
        )


@light("ChanSpyStop")
def on_chanspy_stop(t: CallTracker, msg: Message, at: float, out: list[DomainEvent]) -> None:
    spyer = msg.peek("SpyerChannel")
    if spyer:
        out.append(SpyStopped(at, t.server, spyer, msg.peek("SpyerUniqueid") or ""))
