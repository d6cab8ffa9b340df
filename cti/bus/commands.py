"""Commands across daemon instances: a console on instance B acts on a call that instance A's Asterisk has.

Each instance serves the Asterisk servers it is connected to. For each such server it takes requests from
the Redis list ``<prefix>:cmd:<server>`` with ``BLPOP``, so that exactly one instance carries out each
request even when two are connected to the same PBX, and keeps ``<prefix>:owner:<server>`` alive (a key
with a short expiry) so that a requester knows at once whether anyone serves that server.

A request is JSON: ``id``, ``op`` (``action``: send an AMI action; ``agent_channel`` / ``caller_channel``:
name a live call's channel, from the owner's call tracker), its arguments, ``origin`` and a ``deadline``
(epoch seconds). The owner answers on ``<prefix>:reply:<id>`` (a list with a short expiry).

Non-idempotent actions (Originate, Redirect, Hangup, transfers) are never sent twice: a request is popped
once, and an owner never starts one whose deadline has passed (a request that waited while no owner was
running is dropped and counted, not carried out late). A requester that hears nothing by the deadline
reports that the outcome is unknown, never that it failed, and does not retry.

Who may ask is decided before a request is sent: the requesting instance authenticated the console and
checked its role and calls (``Desk``). Anyone who can write to Redis can therefore send AMI actions
through an owner: protect Redis as you protect the AMI port (``requirepass``/ACLs, a private network).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cti.asterisk.ami import Message
from cti.bus.cancelling import shielded
from cti.core.clock import Clock, SystemClock
from cti.core.ids import AgentId
from cti.telemetry import Metric, counter

log = logging.getLogger("cti.bus.commands")

OWNER_TTL = 10.0  # seconds an owner key lives without being refreshed
REPLY_TTL = 60  # seconds a reply waits for its requester
OPS = ("action", "agent_channel", "caller_channel")


class RemoteError(Exception):
    """A request another instance could not carry out (``code``: no_owner, not_sent, failed,
    unknown_outcome)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class LocalServer:
    """What an owner needs to carry out requests for one of its Asterisk servers."""

    send_action: Callable[[dict[str, str]], Awaitable[Message]]
    agent_channel: Callable[[str, AgentId], str | None]  # (linkedid, agent) -> channel name
    caller_channel: Callable[[str], str | None]  # linkedid -> channel name


async def _blpop(
    client: aioredis.Redis, keys: list[str], block: float, *, requeue: bool
) -> tuple[Any, Any] | None:
    """``BLPOP`` that a cancellation does not interrupt mid-read (``cti.bus.cancelling``); what the read
    still returns after its caller left is pushed back for another owner (``requeue``: a request) or
    dropped (a reply nobody waits for any more)."""

    def give_back(popped: Any) -> None:
        if popped is None or not requeue:
            return
        key, raw = popped
        push: asyncio.Future[Any] = asyncio.ensure_future(client.lpush(key, raw))
        push.add_done_callback(lambda t: t.cancelled() or t.exception())

    popped: Any = await shielded(client.blpop(keys, timeout=block), give_back)
    return tuple(popped) if popped else None


def _keys(prefix: str, server: str) -> tuple[str, str]:
    return f"{prefix}:cmd:{server}", f"{prefix}:owner:{server}"


class CommandService:
    """The owner side: carries out the requests of other instances for this instance's servers."""

    def __init__(
        self,
        url: str,
        instance: str,
        servers: Mapping[str, LocalServer],
        *,
        prefix: str = "cti",
        concurrency: int = 16,
        clock: Clock | None = None,
    ) -> None:
        self.clock = clock or SystemClock()  # request deadlines (epoch seconds, shared by the instances)
        self.url = url
        self.instance = instance
        self.servers = dict(servers)
        self.prefix = prefix
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self.done = 0  # requests carried out (whatever Asterisk answered)
        self.expired = 0  # requests dropped because their deadline had passed
        self.bad = 0  # requests that did not decode
        self.ready = asyncio.Event()

    def collect(self) -> Iterable[Metric]:
        yield counter("commands_done_total", "requests of other instances carried out", self.done)
        yield counter("commands_expired_total", "requests dropped past their deadline", self.expired)
        yield counter("commands_bad_total", "requests that did not decode", self.bad)

    async def run(self) -> None:
        if not self.servers:
            return
        delay = 0.2
        while True:
            client = aioredis.from_url(self.url)
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(self._keep_ownership(client))
                    tg.create_task(self._take(client))
            except* (RedisError, OSError) as group:
                log.warning("command service: %s; retrying in %.1fs", group.exceptions[0], delay)
            finally:
                self.ready.clear()
                await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _keep_ownership(self, client: aioredis.Redis) -> None:
        while True:
            pipe = client.pipeline(transaction=False)
            for server in self.servers:
                pipe.set(_keys(self.prefix, server)[1], self.instance, px=int(OWNER_TTL * 1000))
            await shielded(pipe.execute())
            self.ready.set()
            await asyncio.sleep(OWNER_TTL / 3)

    async def _take(self, client: aioredis.Redis) -> None:
        queues = [_keys(self.prefix, s)[0] for s in self.servers]
        while True:
            popped = await _blpop(client, queues, 1.0, requeue=True)
            if popped is None:
                continue
            await self._slots.acquire()
            task = asyncio.get_running_loop().create_task(self._serve(client, popped[1]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _serve(self, client: aioredis.Redis, raw: bytes | str) -> None:
        try:
            try:
                req = json.loads(raw)
                rid, op, server, reply_to = req["id"], req["op"], req["server"], req["reply_to"]
                deadline = float(req["deadline"])
                args = req.get("args") or {}
                if op not in OPS or server not in self.servers or not isinstance(args, dict):
                    raise ValueError(f"unknown op {op!r} or server {server!r}")
            except (ValueError, KeyError, TypeError) as e:
                self.bad += 1
                log.warning("command service: a request that does not decode (%s): %.200r", e, raw)
                return
            if self.clock.now() > deadline:
                self.expired += 1
                log.warning(
                    "command service: %s %s from %s dropped: its deadline passed", op, rid, req.get("origin")
                )
                return
            answer = await self._carry_out(self.servers[server], op, args, deadline)
            self.done += 1
            pipe = client.pipeline(transaction=False)
            pipe.rpush(reply_to, json.dumps(answer))
            pipe.expire(reply_to, REPLY_TTL)
            await pipe.execute()
        except (RedisError, OSError) as e:
            log.warning("command service: the reply was not sent: %s", e)
        finally:
            self._slots.release()

    async def _carry_out(
        self, local: LocalServer, op: str, args: dict[str, Any], deadline: float
    ) -> dict[str, Any]:
        try:
            if op == "action":
                action = {str(k): str(v) for k, v in dict(args["action"]).items()}
                async with asyncio.timeout(max(0.1, deadline - self.clock.now())):
                    reply = await local.send_action(action)
                return {"ok": True, "reply": reply.headers}
            if op == "agent_channel":
                return {
                    "ok": True,
                    "channel": local.agent_channel(str(args["linkedid"]), AgentId(str(args["agent"]))),
                }
            return {"ok": True, "channel": local.caller_channel(str(args["linkedid"]))}
        except TimeoutError:
            return {"ok": False, "code": "unknown_outcome", "error": "Asterisk did not answer in time"}
        except Exception as e:  # reported to the requester: an owner never dies of one request
            return {"ok": False, "code": "failed", "error": f"{type(e).__name__}: {e}"}


class RemoteServers:
    """The requester side: AMI actions and channel names for servers another instance is connected to."""

    def __init__(
        self,
        url: str,
        instance: str,
        *,
        prefix: str = "cti",
        timeout: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self.url = url
        self.instance = instance
        self.prefix = prefix
        self.timeout = timeout
        self._client: aioredis.Redis | None = None
        self.sent = 0

    def collect(self) -> Iterable[Metric]:
        yield counter("commands_sent_total", "requests to other instances", self.sent)

    def link(self, server: str) -> RemoteLink:
        return RemoteLink(self, server)

    async def owner(self, server: str) -> str | None:
        found = await self._redis().get(_keys(self.prefix, server)[1])
        return found.decode() if isinstance(found, bytes) else found

    async def agent_channel(self, server: str, linkedid: str, agent: AgentId) -> str | None:
        return await self._channel(server, "agent_channel", {"linkedid": linkedid, "agent": agent})

    async def caller_channel(self, server: str, linkedid: str) -> str | None:
        return await self._channel(server, "caller_channel", {"linkedid": linkedid})

    async def _channel(self, server: str, op: str, args: dict[str, Any]) -> str | None:
        channel = (await self.call(server, op, args)).get("channel")
        return str(channel) if channel else None

    async def call(self, server: str, op: str, args: dict[str, Any]) -> dict[str, Any]:
        client = self._redis()
        try:
            owner = await self.owner(server)
        except (RedisError, OSError) as e:  # nothing was sent: Redis refused before the request
            raise RemoteError(
                "not_sent", f"Redis unreachable, the request to {server!r} was not sent: {e}"
            ) from None
        try:
            if owner is None:
                raise RemoteError("no_owner", f"no cti instance is connected to Asterisk server {server!r}")
            rid = uuid.uuid4().hex
            reply_to = f"{self.prefix}:reply:{rid}"
            deadline = self.clock.now() + self.timeout
            request = {
                "id": rid,
                "op": op,
                "server": server,
                "args": args,
                "origin": self.instance,
                "deadline": deadline,
                "reply_to": reply_to,
            }
            queue = _keys(self.prefix, server)[0]
            pipe = client.pipeline(transaction=False)
            pipe.rpush(queue, json.dumps(request))
            pipe.expire(queue, int(self.timeout) + REPLY_TTL)  # no owner ever: the list does not linger
            await pipe.execute()
            self.sent += 1
            # the owner starts nothing after the deadline; a reply may still be on its way just after it
            popped = await _blpop(client, [reply_to], self.timeout + 1.0, requeue=False)
        except (RedisError, OSError) as e:
            raise RemoteError("unknown_outcome", f"Redis failed while asking {server!r}: {e}") from None
        if popped is None:
            raise RemoteError(
                "unknown_outcome", f"the instance serving {server!r} did not answer in {self.timeout:.0f} s"
            )
        answer: dict[str, Any] = json.loads(popped[1])
        if not answer.get("ok"):
            raise RemoteError(str(answer.get("code") or "failed"), str(answer.get("error")))
        return answer

    def _redis(self) -> aioredis.Redis:
        if self._client is None:
            self._client = aioredis.from_url(self.url)
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


@dataclass(frozen=True, slots=True)
class RemoteLink:
    """``send_action`` for a server another instance is connected to (what ``Desk`` calls)."""

    remote: RemoteServers
    server: str

    async def send_action(self, action: dict[str, str]) -> Message:
        answer = await self.remote.call(self.server, "action", {"action": action})
        return Message([(str(k), str(v)) for k, v in answer.get("reply") or []])
