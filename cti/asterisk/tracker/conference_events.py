"""Handlers of ConfBridge events (apps/confbridge/confbridge_manager.c): an agent's channel in a conference
room is an agent on a call (docs/design/warm-transfer-and-conference.md).

cti makes a three-way call by redirecting the agent's and the customer's channels into ``ConfBridge()``:
app_queue sees its call end there (``AgentComplete``, Reason transfer) and would start the agent's
wrap-up while the agent still talks in the room. ``ConfbridgeJoin`` of the agent's leg makes it a call of
the agent's (ON_CALL) until its ``ConfbridgeLeave``, when the queue's wrap-up starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cti.asterisk import translate as tr
from cti.asterisk.tracker.dispatch import on
from cti.core.events import DomainEvent

if TYPE_CHECKING:
    from cti.asterisk.tracker.tracker import CallTracker


@on(tr.ChannelEvent, "ConfbridgeJoin")
def on_conference_join(t: CallTracker, ev: tr.ChannelEvent, out: list[DomainEvent]) -> None:
    ch = t.channels.by_uid.get(ev.chan.uniqueid)
    if ch is None or ch.agent is None:
        return
    visits = ch.journey.visits
    queue = visits[-1].leg.queue if visits else None
    t.roster.conference_joined(ch.uid, ch.agent, queue, ev.at, out)


@on(tr.ChannelEvent, "ConfbridgeLeave")
def on_conference_leave(t: CallTracker, ev: tr.ChannelEvent, out: list[DomainEvent]) -> None:
    t.roster.conference_left(ev.chan.uniqueid, ev.at, out)
