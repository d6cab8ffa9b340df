"""Our own small AMI client: one asyncio protocol per TCP link, bytes through our sans-I/O codec.

Why not panoramisk's Manager: see docs/design/ami-client.md (ten defects, each reproduced in
tests/asterisk/test_panoramisk_defects.py). This module is the link layer only; reconnecting, keepalive,
resync and the ordered event queue live in cti/asterisk/connection.py.

Theory of operation (numbered rules; every branch below that enforces one names it):

1. ``data_received`` never blocks and never awaits: it feeds bytes to ``AmiDecoder`` (which buffers and
   decodes only complete messages, so a UTF-8 character split across reads is kept and an empty last
   header survives), then routes each message synchronously. Asterisk drops a client that stops reading
   for ``writetimeout`` (100 ms), so nothing slow may run here.
2. A ``Response`` (a message without ``Event``) is matched to its pending action by ``ActionID`` (we
   always send one, unique per client). A response nobody waits for is logged and dropped; it never
   reaches the event stream.
3. A list action is recognised by the server's ``EventList: start`` on its response, never by the
   message text. Its items are the events carrying its ActionID, and the list ends on the item with
   ``EventList: Complete`` (``is_list_complete``). Items never reach the event stream.
4. Every other event, including those echoing an ActionID we sent (``OriginateResponse``, ``UserEvent``),
   goes to ``on_event`` in arrival order.
5. When the link drops, every pending action fails with ``ActionLost``. This layer never re-sends
   anything; the connection decides (only idempotent reads are retried).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from cti.asterisk.ami import AmiDecoder, Message, encode, is_list_complete
from cti.core.errors import CtiError, ProtocolError, UsageError

log = logging.getLogger("cti.asterisk.client")

ActionInput = Mapping[str, str] | Iterable[tuple[str, str]]

# Actions that only read state: safe to send again on a new link when the reply was lost.
IDEMPOTENT_ACTIONS = frozenset(
    name.lower()
    for name in (
        "Ping",
        "Challenge",
        "CoreShowChannels",
        "CoreStatus",
        "CoreSettings",
        "QueueStatus",
        "QueueSummary",
        "Status",
        "Getvar",
        "ExtensionState",
        "DeviceStateList",
        "ExtensionStateList",
        "ListCommands",
        "BridgeList",
        "BridgeInfo",
        "PJSIPShowEndpoints",
        "PJSIPShowEndpoint",
        "SIPpeers",
        "SIPshowpeer",
        "QueueRule",
        "DBGet",
        "MailboxCount",
        "MailboxStatus",
    )
)


class AmiLinkError(CtiError):
    """Base class of the errors the AMI link raises to its callers."""


class ActionLost(AmiLinkError):
    """The link dropped before the action's reply arrived. It was not re-sent: it may or may not have run."""

    def __init__(self, action: str, detail: str = "the AMI link dropped before the reply") -> None:
        super().__init__(f"{action}: {detail}; not re-sent automatically")
        self.action = action


class NotConnected(AmiLinkError):
    """No logged-in AMI link to send the action on."""


class AuthenticationFailed(ProtocolError):
    """Asterisk refused the credentials (it answers after a 1 s delay, then closes the socket)."""


@dataclass(frozen=True, slots=True)
class ListReply:
    """A list action's reply: the response, the items in order, and the closing ``...Complete`` event."""

    response: Message
    items: list[Message] = field(default_factory=list)
    complete: Message | None = None

    @property
    def ok(self) -> bool:
        return (self.response.response or "").lower() == "success"


OnReply = Callable[[Message], None]


class _Pending:
    __slots__ = ("future", "items", "listing", "name", "on_reply")

    def __init__(
        self, name: str, future: asyncio.Future[Message | ListReply], on_reply: OnReply | None
    ) -> None:
        self.name = name
        self.future = future
        self.on_reply = on_reply  # called synchronously when the response arrives, before what follows it
        self.items: list[Message] | None = None  # set once the response says EventList: start
        self.listing: Message | None = None


def action_pairs(action: ActionInput) -> list[tuple[str, str]]:
    items = action.items() if isinstance(action, Mapping) else action
    return [(str(k), str(v)) for k, v in items]


def header(pairs: list[tuple[str, str]], key: str) -> str | None:
    lk = key.lower()
    for k, v in pairs:
        if k.lower() == lk:
            return v
    return None


class AmiProtocol(asyncio.Protocol):
    """One AMI TCP link. Create it through ``loop.create_connection(lambda: AmiProtocol(...), ...)``."""

    def __init__(
        self,
        *,
        on_event: Callable[[Message, float], None],
        on_problem: Callable[[str], None],
        wall_clock: Callable[[], float] = time.time,
        id_prefix: str | None = None,
        on_close: Callable[[AmiProtocol], None] | None = None,
    ) -> None:
        self._on_event = on_event
        self._on_close = on_close
        self._on_problem = on_problem
        self._wall = wall_clock
        self._decoder = AmiDecoder(expect_banner=True)
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)
        self._prefix = id_prefix or f"cti-{secrets.token_hex(4)}"
        self._transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.banner: asyncio.Future[str] = loop.create_future()
        self.closed: asyncio.Future[str] = loop.create_future()  # result: why the link ended
        self.last_rx = time.monotonic()  # last time any byte arrived (keepalive watches it)
        self.messages = 0
        self.bytes_in = 0

    # --- asyncio.Protocol -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        # Rule 1: synchronous, bounded work only.
        self.last_rx = time.monotonic()
        self.bytes_in += len(data)
        received_at = self._wall()
        msgs = self._decoder.receive_data(data)
        if not self.banner.done() and self._decoder.banner is not None:
            self.banner.set_result(self._decoder.banner)
        for problem in self._decoder.take_errors():
            self._on_problem(f"malformed AMI input skipped: {problem.reason}: {problem.raw!r}")
        for msg in msgs:
            self.messages += 1
            self._route(msg, received_at)

    def eof_received(self) -> bool | None:
        return None  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f"connection lost: {exc}" if exc else "connection closed by the server"
        self._closing()
        self._fail_pending(reason)
        if not self.banner.done():
            self.banner.set_exception(ActionLost("banner", reason))
            self.banner.exception()  # mark retrieved: nobody may be waiting for it
        if not self.closed.done():
            self.closed.set_result(reason)

    # --- routing ----------------------------------------------------------------------------------
    def _route(self, msg: Message, received_at: float) -> None:
        if msg.event is not None:
            if self._pending:
                # Asterisk writes "ActionID" in this exact case; peek avoids splitting every event.
                aid = msg.peek("ActionID")
                pending = self._pending.get(aid) if aid is not None else None
                if pending is not None and pending.items is not None:
                    # Rule 3: a list item, or the end of the list.
                    if is_list_complete(msg):
                        assert pending.listing is not None
                        self._resolve(aid, ListReply(pending.listing, pending.items, msg))
                    else:
                        pending.items.append(msg)
                    return
            # Rule 4. (An event may carry a Response header too: OriginateResponse does.)
            self._on_event(msg, received_at)
            return
        # Rule 2.
        aid = msg.action_id
        pending = self._pending.get(aid) if aid is not None else None
        if pending is None:
            log.debug("response with no pending action dropped: %r", msg)
            return
        if pending.on_reply is not None:
            callback, pending.on_reply = pending.on_reply, None
            callback(msg)
        if pending.items is None and (msg.get("EventList") or "").lower() == "start":
            pending.items = []  # Rule 3: a list follows
            pending.listing = msg
            return
        self._resolve(aid, msg)

    def _resolve(self, aid: str | None, result: Message | ListReply) -> None:
        assert aid is not None
        pending = self._pending.pop(aid)
        if not pending.future.done():
            pending.future.set_result(result)

    def _closing(self) -> None:
        # Before any waiter wakes up with ActionLost: whoever retries must not find this link still "up".
        if self._on_close is not None:
            callback, self._on_close = self._on_close, None
            callback(self)

    def _fail_pending(self, reason: str) -> None:
        # Rule 5.
        pending, self._pending = self._pending, {}
        for p in pending.values():
            if not p.future.done():
                p.future.set_exception(ActionLost(p.name, reason))

    # --- API ----------------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self.closed.done() and not self._transport.is_closing()

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def next_action_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    def send(
        self, action: ActionInput, on_reply: OnReply | None = None
    ) -> asyncio.Future[Message | ListReply]:
        """Write one action; the future gets its ``Message`` response, or a ``ListReply`` for a list.

        ``on_reply(response)`` runs inside ``data_received`` the moment the response arrives, before any
        message that follows it is routed (the resync uses it to mark where a list starts)."""
        pairs = action_pairs(action)
        name = header(pairs, "Action")
        if not name:
            raise UsageError("an AMI action needs an 'Action' header")
        aid = header(pairs, "ActionID")
        if aid is None:
            aid = self.next_action_id()
            pairs.append(("ActionID", aid))
        elif aid in self._pending:
            raise UsageError(f"ActionID {aid!r} is already waiting for a reply")
        data = encode(pairs)  # refuses CR/LF injection before anything is registered
        future: asyncio.Future[Message | ListReply] = asyncio.get_running_loop().create_future()
        if not self.is_open:
            future.set_exception(ActionLost(name, "the AMI link is closed"))
            return future
        self._pending[aid] = _Pending(name, future, on_reply)
        assert self._transport is not None
        self._transport.write(data)
        return future

    def forget(self, action_id: str) -> None:
        """Stop waiting for a reply (after a timeout); a late reply is then dropped (rule 2)."""
        self._pending.pop(action_id, None)

    def logoff(self) -> None:
        """Say goodbye (``Logoff``, not awaited) and close once it is written: the clean shutdown."""
        self._closing()
        self._fail_pending("cti is shutting down")
        if not self.closed.done():
            self.closed.set_result("logged off")
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(encode({"Action": "Logoff", "ActionID": self.next_action_id()}))
            self._transport.close()

    def abort(self, reason: str) -> None:
        """Drop the link now (dead keepalive, shutdown). Pending actions fail with ``ActionLost``."""
        self._closing()
        self._fail_pending(reason)
        if not self.closed.done():
            self.closed.set_result(reason)
        if self._transport is not None:
            self._transport.abort()


async def request(
    proto: AmiProtocol, action: ActionInput, limit: float, on_reply: OnReply | None = None
) -> Message | ListReply:
    """Send one action on one link and wait for its reply (see ``AmiProtocol.send``)."""
    pairs = action_pairs(action)
    if header(pairs, "ActionID") is None:
        pairs.append(("ActionID", proto.next_action_id()))
    future = proto.send(pairs, on_reply)
    try:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that races a reply.
        async with asyncio.timeout(limit):
            return await future
    finally:
        if future.cancelled():  # timed out or the caller was cancelled: a late reply is dropped
            aid = header(pairs, "ActionID")
            assert aid is not None
            proto.forget(aid)


async def login(
    proto: AmiProtocol,
    *,
    username: str,
    secret: str,
    auth: str = "md5",
    events: str = "on",
    limit: float = 10.0,
) -> Message:
    """Log in on a fresh link: MD5 challenge (``auth='md5'``, falls back to plain when the server refuses
    the challenge) or plain. Raises ``AuthenticationFailed`` on bad credentials."""
    async with asyncio.timeout(limit):
        await proto.banner
    login_action: list[tuple[str, str]] | None = None
    if auth == "md5":
        challenge = await request(proto, {"Action": "Challenge", "AuthType": "MD5"}, limit)
        assert isinstance(challenge, Message)
        token = challenge.get("Challenge")
        if (challenge.response or "").lower() == "success" and token:
            key = hashlib.md5((token + secret).encode("utf-8")).hexdigest()  # AMI's own scheme
            login_action = [
                ("Action", "Login"),
                ("AuthType", "MD5"),
                ("Username", username),
                ("Key", key),
                ("Events", events),
            ]
        else:
            refused = challenge.get("Message")
            log.warning("AMI server refused the MD5 challenge (%s); using plain login", refused)
    elif auth != "plain":
        raise UsageError(f"unknown AMI auth {auth!r} (use 'md5' or 'plain')")
    if login_action is None:
        login_action = [("Action", "Login"), ("Username", username), ("Secret", secret), ("Events", events)]
    reply = await request(proto, login_action, limit)
    assert isinstance(reply, Message)
    if (reply.response or "").lower() != "success":
        raise AuthenticationFailed(
            f"AMI login refused for user {username!r}: {reply.get('Message') or reply.response}"
        )
    return reply
