"""Which channel of a live call a console action addresses: the agent's leg, or the caller's side.

Hangup, BlindTransfer and Redirect name a channel. The call tracker of the instance connected to the
call's Asterisk server knows the live channels; this instance asks its own trackers for its own servers,
and the instance connected to any other server over Redis (``cti.bus.commands.RemoteServers``).

Rules:

1. the agent's channel is the live channel of that agent's leg whose hangup was not already requested;
2. the caller's channel is the journey's primary channel (``is_caller``); failing that, the first live
   channel that is no agent's leg;
3. a call that is unknown or over has no channel (``None``): the desk reports ``no_channel``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from cti.core.ids import AgentId


class LiveChannel(Protocol):
    """A live channel as the call tracker shows it (``cti.asterisk.calls.ChannelView``)."""

    @property
    def name(self) -> str: ...

    @property
    def agent(self) -> AgentId | None: ...

    @property
    def is_caller(self) -> bool: ...

    @property
    def hangup_requested(self) -> bool: ...


class ChannelSource(Protocol):
    """A call tracker: the live channels of a call."""

    def channels_of(self, linkedid: str) -> Sequence[LiveChannel]: ...


class RemoteChannels(Protocol):
    """The instances connected to the servers this one is not connected to."""

    async def agent_channel(self, server: str, linkedid: str, agent: AgentId) -> str | None: ...

    async def caller_channel(self, server: str, linkedid: str) -> str | None: ...


def agent_channel(channels: Iterable[LiveChannel], agent: AgentId) -> str | None:
    """Rule 1."""
    for ch in channels:
        if ch.agent == agent and not ch.hangup_requested:
            return ch.name
    return None


def caller_channel(channels: Sequence[LiveChannel]) -> str | None:
    """Rule 2."""
    for ch in channels:
        if ch.is_caller:
            return ch.name
    for ch in channels:
        if ch.agent is None:
            return ch.name
    return None


class TrackerChannels:
    """Channel names of live calls (``cti.screenpop.actions.CallChannels``): from this instance's call
    trackers for its own Asterisk servers, else from the instance connected to the server."""

    def __init__(self, remote: RemoteChannels | None = None) -> None:
        self.trackers: dict[str, ChannelSource] = {}
        self.remote = remote

    def _channels(self, server: str, linkedid: str) -> Sequence[LiveChannel]:
        tracker = self.trackers.get(server)
        return [] if tracker is None else tracker.channels_of(linkedid)

    def local_agent_channel(self, server: str, linkedid: str, agent: AgentId) -> str | None:
        return agent_channel(self._channels(server, linkedid), agent)

    def local_caller_channel(self, server: str, linkedid: str) -> str | None:
        return caller_channel(self._channels(server, linkedid))

    def channel_like(self, server: str, linkedid: str, prefix: str, suffix: str) -> str | None:
        """A live channel of the call named ``<prefix>…<suffix>`` (a warm transfer's consultation leg;
        this instance's own servers only)."""
        for ch in self._channels(server, linkedid):
            if ch.name.startswith(prefix) and ch.name.endswith(suffix) and not ch.hangup_requested:
                return ch.name
        return None

    async def agent_channel(self, server: str, linkedid: str, agent: AgentId) -> str | None:
        if server in self.trackers or self.remote is None:
            return self.local_agent_channel(server, linkedid, agent)
        return await self.remote.agent_channel(server, linkedid, agent)

    async def caller_channel(self, server: str, linkedid: str) -> str | None:
        if server in self.trackers or self.remote is None:
            return self.local_caller_channel(server, linkedid)
        return await self.remote.caller_channel(server, linkedid)
