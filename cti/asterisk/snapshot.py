"""What a resync hands the tracker: the list replies read right after a (re)login."""

from __future__ import annotations

from dataclasses import dataclass, field

from cti.asterisk.ami import Message


@dataclass(frozen=True, slots=True)
class ResyncSnapshot:
    """CoreShowChannels and QueueStatus, read after every login. The tracker rebuilds its state from it.

    ``reason`` is "login" (first connection), "reconnect" (the link was lost) or "overflow" (the event
    queue overflowed and events were dropped); in the last two cases events are missing from the gap.
    """

    at: float
    reason: str
    channels: list[Message] = field(default_factory=list)  # CoreShowChannel items
    queue_status: list[Message] = field(default_factory=list)  # QueueParams / QueueMember / QueueEntry items
