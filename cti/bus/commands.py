"""Commands across daemon instances: a console on instance B acts on a call that instance A's Asterisk has.

Each instance serves the Asterisk servers it is connected to. For each such server it takes requests from
the Redis list ``<prefix>:cmd:<server>`` with ``BLPOP``, so that exactly one instance carries out each
request even when two are connected to the same PBX, and keeps ``<prefix>:owner:<server>`` alive (a key
with a short expiry) so that a requester knows at once whether anyone serves that server.

A request is desk-level, never an AMI action: ``op`` is one of ``OPS`` ("hang up call X for agent Y",
"transfer call X of agent Y to the queue Q", "pause agent Y", ...) with its arguments. The owner checks it
again against its own state (its call tracker: is X really a call of agent Y? its seats: which interface
and queues agent Y has on that server) and builds the AMI action itself from a fixed template per op
(``WHITELIST``: the only AMI actions an owner sends for another instance). Who may ask (the console's
login, its role, "one of your calls") is decided by the requesting instance (``Desk``) before it asks.

Every request is signed: ``sig`` is HMAC-SHA256, keyed by ``[redis] command_key`` (the same on every
instance), over the canonical JSON of the rest of the request (sorted keys, no spaces, ASCII). It carries
``id`` (32 hex digits), ``op``, ``server``, ``args``, ``origin`` and ``deadline`` (epoch seconds). The owner
refuses (logs and counts, carries out nothing) an unsigned or wrongly signed request, a deadline already
passed or further than ``MAX_AHEAD`` seconds away, and an ``id`` it has seen (``SET NX`` of
``<prefix>:seen:<id>`` until the deadline: a replayed entry is refused by every owner). The owner answers
on ``<prefix>:reply:<id>``, a key it derives from the id (a list with a short expiry): the requester
cannot name the key the owner writes to.

Non-idempotent actions (Originate, Redirect, Hangup, transfers) are never sent twice: a request is popped
once, and an owner never starts one whose deadline has passed (a request that waited while no owner was
running is dropped and counted, not carried out late). A requester that hears nothing by the deadline
reports that the outcome is unknown, never that it failed, and does not retry.

Write access to Redis without the key therefore gets nothing carried out; with the key, only what a
console could ask for. Protect Redis and the key as you protect the AMI port.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
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
MAX_AHEAD = 60.0  # seconds: a deadline further away than this is refused (a request lives ~5 s)
MIN_KEY = 16  # characters of [redis] command_key

# op -> the AMI action the owner builds for it (``_build``); the lookups send no action
WHITELIST: dict[str, str | None] = {
    "pause": "QueuePause",
    "ready": "QueuePause",
    "queue_add": "QueueAdd",
    "queue_remove": "QueueRemove",
    "hangup": "Hangup",
    "transfer": "BlindTransfer",  # or Redirect of the caller's channel when the agent has no leg
    "originate": "Originate",
    # CTI hold and parking (docs/design/hold-and-park.md)
    "hold": "Redirect",
    "unhold": "Bridge",
    "park": "Park",
    "pickup": "Originate",
    "agent_channel": None,
    "caller_channel": None,
    # warm transfers and conferences (cti.screenpop.consult): built by _build_consult
    "atxfer": "Atxfer",
    "consult_cancel": "Hangup",
    "consult_redirect": "Redirect",
    "conference": "Redirect",
    "conference_kick": "ConfbridgeKick",
    "originate_conference": "Originate",
}
CONSULT_CONTEXTS = ("cti-consult", "cti-consult-dial")
CONFERENCE_CONTEXT = "cti-conference"
OPS = tuple(WHITELIST)
TRANSFER_TO = ("agent", "queue", "dial")

_ID = re.compile(r"^[0-9a-f]{32}$")
_EXTEN = re.compile(r"^[A-Za-z0-9_+*#.-]{1,80}$")  # a dialplan extension, a queue name, a number
_TEXT = re.compile(r"^[^\x00-\x1f\x7f]{0,200}$")
_ROOM = re.compile(
    r"^[0-9]{1,20}$"
)  # a ConfBridge room cti made up  # a pause reason: no CR/LF/NUL/control characters


class RemoteError(Exception):
    """A request another instance could not carry out (``code``: no_owner, not_sent, failed, unknown_outcome,
    refused, or the desk's code of a refusal: not_your_call, no_channel, unknown_agent, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Refused(Exception):
    """The owner will not carry out a request (``code`` goes back to the requester)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class OwnerSeat:
    """An agent's membership on one of the owner's servers, as the owner sees it."""

    interface: str
    queues: tuple[str, ...]
    extension: str | None  # of the interface: "transfer to agent" dials it


@dataclass(frozen=True, slots=True)
class LocalServer:
    """What an owner needs to check and carry out requests for one of its Asterisk servers."""

    send_action: Callable[[dict[str, str]], Awaitable[Message]]
    agent_channel: Callable[[str, AgentId], str | None]  # (linkedid, agent) -> channel name
    caller_channel: Callable[[str], str | None]  # linkedid -> channel name
    on_call: Callable[[str, AgentId], bool] = lambda lid, agent: False  # agent has a leg in that call
    seat: Callable[[AgentId], OwnerSeat | None] = lambda agent: None
    # (linkedid, prefix, suffix) -> a live channel of the call so named (a warm transfer's consultation)
    channel_like: Callable[[str, str, str], str | None] = lambda lid, prefix, suffix: None
    contexts: Mapping[str, str] = field(
        default_factory=lambda: {"agent": "deliver", "queue": "inbound", "dial": "pstn"}
    )
    # CTI hold and parking: the holding contexts, the lot, the pick-up context, the park timeout (s)
    holding: Mapping[str, str] = field(
        default_factory=lambda: {
            "hold": "cti-hold",
            "hold_agent": "cti-hold-agent",
            "lot": "default",
            "parking": "parkedcalls",
            "park_timeout": "120",
        }
    )


def canonical(request: Mapping[str, Any]) -> bytes:
    """The bytes a request's ``sig`` covers: every field but ``sig``, as sorted, compact, ASCII JSON."""
    body = {k: v for k, v in request.items() if k != "sig"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(key: bytes, request: Mapping[str, Any]) -> str:
    return hmac.new(key, canonical(request), hashlib.sha256).hexdigest()


def signed_ok(key: bytes, request: Mapping[str, Any]) -> bool:
    sig = request.get("sig")
    return isinstance(sig, str) and hmac.compare_digest(sig, sign(key, request))


def reply_key(prefix: str, rid: str) -> str:
    return f"{prefix}:reply:{rid}"


def _text(args: Mapping[str, Any], name: str, pattern: re.Pattern[str] = _EXTEN) -> str:
    value = args.get(name)
    if not isinstance(value, str) or not pattern.match(value):
        raise Refused("bad_field", f"{name!r} is missing or not a plain value")
    return value


def _agent(args: Mapping[str, Any]) -> AgentId | None:
    agent = args.get("agent")
    return None if agent is None else AgentId(_text(args, "agent"))


def _seat(local: LocalServer, agent: AgentId | None) -> OwnerSeat:
    seat = None if agent is None else local.seat(agent)
    if seat is None:
        raise Refused("unknown_agent", f"no queue membership of {agent} on this server")
    return seat


def _member(local: LocalServer, args: Mapping[str, Any]) -> tuple[AgentId, OwnerSeat, str]:
    agent = _agent(args)
    seat = _seat(local, agent)
    queue = _text(args, "queue")
    if queue not in seat.queues:
        raise Refused("not_member", f"{agent} is not a member of {queue}")
    assert agent is not None
    return agent, seat, queue


def _call_channel(local: LocalServer, args: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(the agent's channel, the caller's channel) of the call, after checking it is the agent's call."""
    lid = _text(args, "linkedid")
    agent = _agent(args)
    if agent is not None and not local.on_call(lid, agent):
        raise Refused("not_your_call", f"{lid} is not a call of {agent} on this server")
    mine = local.agent_channel(lid, agent) if agent is not None else None
    caller = local.caller_channel(lid)
    if mine is None and caller is None:
        raise Refused("no_channel", "the call has no live channel")
    return mine, caller


def _build(local: LocalServer, op: str, args: Mapping[str, Any]) -> dict[str, str]:
    """The AMI action of a desk-level request, built from the owner's own state (``WHITELIST``)."""
    if op in ("pause", "ready"):
        seat = _seat(local, _agent(args))
        if op == "ready":
            return {"Action": "QueuePause", "Interface": seat.interface, "Paused": "false"}
        reason = _text(args, "reason", _TEXT)
        return {"Action": "QueuePause", "Interface": seat.interface, "Paused": "true", "Reason": reason}
    if op == "queue_add":
        agent, seat, queue = _member(local, args)
        return {
            "Action": "QueueAdd",
            "Queue": queue,
            "Interface": seat.interface,
            "MemberName": agent,
            "Paused": "false",
        }
    if op == "queue_remove":
        _, seat, queue = _member(local, args)
        return {"Action": "QueueRemove", "Queue": queue, "Interface": seat.interface}
    if op == "hangup":
        mine, caller = _call_channel(local, args)
        return {"Action": "Hangup", "Channel": str(mine or caller)}
    if op == "transfer":
        to = args.get("to")
        if to not in TRANSFER_TO:
            raise Refused("bad_field", f"transfer to {to!r}: not one of {TRANSFER_TO}")
        if to == "agent":
            exten = _seat(local, AgentId(_text(args, "target"))).extension
            if exten is None:
                raise Refused("unknown_agent", "no extension known for the target agent")
        else:
            exten = _text(args, "target")
        mine, caller = _call_channel(local, args)
        context = local.contexts[str(to)]
        if mine is not None:
            return {"Action": "BlindTransfer", "Channel": mine, "Context": context, "Exten": exten}
        return {
            "Action": "Redirect",
            "Channel": str(caller),
            "Context": context,
            "Exten": exten,
            "Priority": "1",
        }
    if op == "originate":
        caller = _agent(args)
        seat = _seat(local, caller)
        number = _text(args, "number")
        return {
            "Action": "Originate",
            "Channel": seat.interface,
            "Context": local.contexts["dial"],
            "Exten": number,
            "Priority": "1",
            "Async": "true",
            "Timeout": "30000",
            "CallerID": f'"{caller}" <{number}>',
            "ChannelId": _text(args, "channel_id"),
        }
    if op in ("hold", "unhold", "park", "pickup"):
        return _holding(local, op, args)
    if op in CONSULT_OPS:
        return _build_consult(local, op, args)
    raise Refused("refused", f"{op!r} is not a request an owner carries out")


CONSULT_OPS = frozenset(
    {"atxfer", "consult_cancel", "consult_redirect", "conference", "conference_kick", "originate_conference"}
)


def _consultation(local: LocalServer, args: Mapping[str, Any]) -> tuple[str, str, str]:
    """(the agent's channel, exten, context) of the agent's warm transfer of their call."""
    mine, _ = _call_channel(local, args)
    context = _text(args, "context")
    if mine is None or context not in (*CONSULT_CONTEXTS, local.contexts["queue"]):
        raise Refused("bad_field", "a warm transfer is from the agent's own channel to a consult context")
    return mine, _text(args, "exten"), context


def _build_consult(local: LocalServer, op: str, args: Mapping[str, Any]) -> dict[str, str]:
    """Warm transfers and conferences (docs/design/warm-transfer-and-conference.md), from the owner's
    own view of the call: the agent's and the caller's channels, the consultation's Local channel."""
    if op == "atxfer":
        own, exten, context = _consultation(local, args)
        return {"Action": "Atxfer", "Channel": own, "Exten": exten, "Context": context}
    if op in ("consult_cancel", "consult_redirect"):
        _, exten, context = _consultation(local, args)
        target = local.channel_like(_text(args, "linkedid"), f"Local/{exten}@{context}-", ";1")
        if target is None:
            raise Refused("no_channel", "the consultation's channel is gone")
        if op == "consult_cancel":
            return {"Action": "Hangup", "Channel": target}
    room = _text(args, "room", _ROOM)
    into = {"Context": CONFERENCE_CONTEXT, "Exten": room, "Priority": "1"}
    if op == "consult_redirect":
        return {"Action": "Redirect", "Channel": str(target), **into}
    mine, caller = _call_channel(local, args)
    if mine is None or caller is None:
        raise Refused("no_channel", "a conference needs the agent's and the caller's channels")
    if op == "conference":
        extra = {"ExtraChannel": caller, "ExtraContext": CONFERENCE_CONTEXT, "ExtraExten": room}
        return {"Action": "Redirect", "Channel": mine, **into, **extra, "ExtraPriority": "1"}
    if op == "conference_kick":
        who = mine if args.get("who") == "agent" else "all"
        return {"Action": "ConfbridgeKick", "Conference": room, "Channel": who}
    if args.get("to") == "agent":
        seat = _seat(local, AgentId(_text(args, "target")))
        dial = seat.interface
    else:
        dial = f"Local/{_text(args, 'target')}@{local.contexts['dial']}/n"
    caller_id = f'"{_agent(args)}" <{_text(args, "caller")}>'
    action = {"Action": "Originate", "Channel": dial, **into, "Async": "true", "Timeout": "30000"} | {
        "CallerID": caller_id
    }
    if "channel_id" in args:  # the requester's console pops the colleague by it
        action["ChannelId"] = _text(args, "channel_id", _ID)
    return action


def _holding(local: LocalServer, op: str, args: Mapping[str, Any]) -> dict[str, str]:
    """Hold (a dual Redirect), unhold (Bridge), park (Park) of the agent's own call; a pick-up
    (Originate of the agent's phone into the parking context) of a parked call's space."""
    h = local.holding
    if op == "pickup":
        seat = _seat(local, _agent(args))
        return {
            "Action": "Originate",
            "Channel": seat.interface,
            "Context": h["parking"],
            "Exten": _text(args, "space"),
            "Priority": "1",
            "Async": "true",
        }
    mine, caller = _call_channel(local, args)
    if mine is None or caller is None:
        raise Refused("no_channel", "the call has no live agent's and caller's channels")
    if op == "hold":
        return {
            "Action": "Redirect",
            "Channel": caller,
            "Context": h["hold"],
            "Exten": "s",
            "Priority": "1",
            "ExtraChannel": mine,
            "ExtraContext": h["hold_agent"],
            "ExtraExten": "s",
            "ExtraPriority": "1",
        }
    if op == "unhold":
        return {"Action": "Bridge", "Channel1": mine, "Channel2": caller, "Tone": "no"}
    park = {"Action": "Park", "Channel": caller, "TimeoutChannel": mine, "Parkinglot": h["lot"]}
    seconds = float(h.get("park_timeout") or 0)
    if seconds > 0:
        park["Timeout"] = str(int(seconds * 1000))
    return park


def _keys(prefix: str, server: str) -> tuple[str, str]:
    return f"{prefix}:cmd:{server}", f"{prefix}:owner:{server}"


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


class CommandService:
    """The owner side: checks and carries out the requests of other instances for this instance's servers."""

    def __init__(
        self,
        url: str,
        instance: str,
        servers: Mapping[str, LocalServer],
        *,
        key: bytes,
        prefix: str = "cti",
        concurrency: int = 16,
        clock: Clock | None = None,
    ) -> None:
        if len(key) < MIN_KEY:
            raise ValueError(f"the command key must be at least {MIN_KEY} bytes")
        self.clock = clock or SystemClock()  # request deadlines (epoch seconds, shared by the instances)
        self.url = url
        self.instance = instance
        self.servers = dict(servers)
        self.key = key
        self.prefix = prefix
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self.done = 0  # requests carried out (whatever Asterisk answered)
        self.expired = 0  # requests dropped because their deadline had passed
        self.bad = 0  # requests that did not decode
        self.refused: dict[str, int] = {}  # reason -> requests refused (signature, replay, state)
        self.ready = asyncio.Event()

    def collect(self) -> Iterable[Metric]:
        yield counter("commands_done_total", "requests of other instances carried out", self.done)
        yield counter("commands_expired_total", "requests dropped past their deadline", self.expired)
        yield counter("commands_bad_total", "requests that did not decode", self.bad)
        for reason, n in sorted(self.refused.items()):
            yield counter("commands_refused_total", "requests refused by the owner", n, reason=reason)

    def _refuse(self, reason: str, detail: str, req: Mapping[str, Any]) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1
        log.warning(
            "command service: %s %s from %s refused (%s): %s",
            str(req.get("op"))[:40],
            str(req.get("id"))[:40],
            str(req.get("origin"))[:40],
            reason,
            detail,
        )

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
                rid, op, server = req["id"], req["op"], req["server"]
                deadline = float(req["deadline"])
                args = req.get("args") or {}
                if not isinstance(rid, str) or not _ID.match(rid):
                    raise ValueError("the id is not 32 hex digits")
                if op not in OPS or server not in self.servers or not isinstance(args, dict):
                    raise ValueError(f"unknown op {str(op)[:40]!r} or server {str(server)[:40]!r}")
            except (ValueError, KeyError, TypeError) as e:
                self.bad += 1
                log.warning("command service: a request that does not decode (%s): %.200r", e, raw)
                return
            if not signed_ok(self.key, req):
                why = "no signature" if "sig" not in req else "wrong signature"
                self._refuse(why.replace(" ", "_"), f"{why}: is [redis] command_key the same here?", req)
                return
            now = self.clock.now()
            if now > deadline:
                self.expired += 1
                log.warning(
                    "command service: %s %s from %s dropped: its deadline passed", op, rid, req.get("origin")
                )
                return
            if deadline - now > MAX_AHEAD:
                self._refuse("deadline", f"its deadline is {deadline - now:.0f} s away", req)
                return
            seen = f"{self.prefix}:seen:{rid}"
            if not await client.set(seen, "1", nx=True, px=int((deadline - now + 1.0) * 1000)):
                self._refuse("replay", "this request id was already taken", req)
                return
            answer = await self._carry_out(self.servers[server], op, args, deadline)
            if answer.get("code") not in (None, "failed", "unknown_outcome"):
                self._refuse(str(answer["code"]), str(answer.get("error")), req)
            else:
                self.done += 1
            key = reply_key(self.prefix, rid)
            pipe = client.pipeline(transaction=False)
            pipe.rpush(key, json.dumps(answer))
            pipe.expire(key, REPLY_TTL)
            await pipe.execute()
        except (RedisError, OSError) as e:
            log.warning("command service: the reply was not sent: %s", e)
        finally:
            self._slots.release()

    async def _carry_out(
        self, local: LocalServer, op: str, args: dict[str, Any], deadline: float
    ) -> dict[str, Any]:
        try:
            if op == "agent_channel":
                agent = _agent(args)
                lid = _text(args, "linkedid")
                return {"ok": True, "channel": None if agent is None else local.agent_channel(lid, agent)}
            if op == "caller_channel":
                return {"ok": True, "channel": local.caller_channel(_text(args, "linkedid"))}
            action = _build(local, op, args)
            async with asyncio.timeout(max(0.1, deadline - self.clock.now())):
                reply = await local.send_action(action)
            return {"ok": True, "reply": reply.headers}
        except Refused as e:
            return {"ok": False, "code": e.code, "error": str(e)}
        except TimeoutError:
            return {"ok": False, "code": "unknown_outcome", "error": "Asterisk did not answer in time"}
        except Exception as e:  # reported to the requester: an owner never dies of one request
            return {"ok": False, "code": "failed", "error": f"{type(e).__name__}: {e}"}


class RemoteServers:
    """The requester side: desk-level requests and channel names for servers another instance is
    connected to."""

    def __init__(
        self,
        url: str,
        instance: str,
        *,
        key: bytes,
        prefix: str = "cti",
        timeout: float = 5.0,
        clock: Clock | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self.url = url
        self.instance = instance
        self.key = key
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

    def request(self, server: str, op: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """A signed request (``op`` one of ``OPS``), due within ``timeout``."""
        request: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "op": op,
            "server": server,
            "args": dict(args),
            "origin": self.instance,
            "deadline": self.clock.now() + self.timeout,
        }
        request["sig"] = sign(self.key, request)
        return request

    async def call(self, server: str, op: str, args: Mapping[str, Any]) -> dict[str, Any]:
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
            request = self.request(server, op, args)
            queue = _keys(self.prefix, server)[0]
            pipe = client.pipeline(transaction=False)
            pipe.rpush(queue, json.dumps(request))
            pipe.expire(queue, int(self.timeout) + REPLY_TTL)  # no owner ever: the list does not linger
            await pipe.execute()
            self.sent += 1
            # the owner starts nothing after the deadline; a reply may still be on its way just after it
            popped = await _blpop(
                client, [reply_key(self.prefix, request["id"])], self.timeout + 1.0, requeue=False
            )
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
    """A server another instance is connected to, as ``Desk`` addresses it: desk-level requests
    (``cti.screenpop.actions.DeskRequests``), carried out by that instance."""

    remote: RemoteServers
    server: str

    async def request(self, op: str, args: Mapping[str, Any]) -> Message:
        """Asterisk's answer to the action the owner built for ``op``."""
        answer = await self.remote.call(self.server, op, args)
        return Message([(str(k), str(v)) for k, v in answer.get("reply") or []])
