"""Leases with fencing tokens over Redis: one instance at a time delivers a call, or to an agent.

Several daemons may watch one Asterisk (a hot standby, or two instances for capacity): each sees the same
``CtiWaiting`` and the same agents. Before it Redirects, an instance takes two leases, the call's and the
agent's (``SET NX PX`` inside one Lua script that also draws the fencing token from a counter that only
grows). The other instance's attempt fails and it leaves that call or agent alone until the lease ends.
A lease is released with compare-and-delete on the holder's token, so an instance that paused past its
lease (GC, a stalled loop) can never release the lease a newer holder took. docs/design/routing.md says
why leases and not one owner per agent group.
"""

from __future__ import annotations

from typing import Any, Protocol

from cti.bus.cancelling import shielded

_ACQUIRE = """
if redis.call('exists', KEYS[1]) == 1 then return 0 end
local token = redis.call('incr', KEYS[2])
redis.call('set', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return token
"""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class Leases(Protocol):
    async def acquire(self, name: str, ttl: float) -> int | None: ...

    async def release(self, name: str, token: int) -> None: ...


class RedisLeases:
    def __init__(self, url: str, holder: str, *, prefix: str = "cti") -> None:
        import redis.asyncio as aioredis

        self._redis: Any = aioredis.from_url(url)
        self.holder = holder
        self.prefix = prefix
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._release = self._redis.register_script(_RELEASE)
        self.refused = 0

    def _keys(self, name: str) -> list[str]:
        return [f"{self.prefix}:lease:{name}", f"{self.prefix}:fence:{name}"]

    async def acquire(self, name: str, ttl: float) -> int | None:
        """The fencing token, or None when another holder has the lease."""
        token = int(
            await shielded(self._acquire(keys=self._keys(name), args=[self.holder, max(1, int(ttl * 1000))]))
        )
        if token == 0:
            self.refused += 1
            return None
        return token

    async def release(self, name: str, token: int) -> None:
        await shielded(self._release(keys=self._keys(name)[:1], args=[f"{self.holder}:{token}"]))

    async def holder_of(self, name: str) -> str | None:
        value = await self._redis.get(self._keys(name)[0])
        return value.decode() if value else None

    async def close(self) -> None:
        await self._redis.aclose()
