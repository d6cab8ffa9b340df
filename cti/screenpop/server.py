"""The consoles' one port: websocket API at ``/ws`` and the HTTP pages beside it.

HTTP (served from ``process_request``, before any websocket handshake):
  ``/`` -> ``/agent``; ``/agent``, ``/supervisor``, ``/reports`` and ``/campaigns`` (the consoles);
  ``/static/<file>`` (their JS and CSS, and the vendored Chart.js under ``vendor/``, loaded into memory
  at start);
  ``/api/reports`` (a supervisor's token as ``Authorization: Bearer``: a report as JSON, from the store);
  ``/healthz`` (JSON; 503 when degraded); ``/metrics`` (Prometheus).
  Every page is sent with a strict Content-Security-Policy (scripts only from this origin, no inline
  script), so even a rendering bug cannot run a caller-supplied ``<script>``.

Websocket session (docs/websocket-protocol.md):
  1. the first message is ``login`` (user name and password -> a signed token) or ``resume`` (a token,
     the session id and the last sequence number seen), within ``auth_timeout``; anything else closes the
     connection with 4001;
  2. the server answers ``welcome``, then either the missed messages (resume) or a ``snapshot``;
  3. from then on: pushed messages from the hub, and the client's commands, each answered by a
     ``result`` or an ``error`` carrying the command's ``ref``.
  Per connection: a reader, a writer draining the client's bounded buffer, and a watchdog (token expiry,
  the hub dropping a slow client). A rate limit guards against floods; frames over
  ``max_message_bytes`` are refused by the websocket layer (close 1009).

Hostile clients (docs/websocket-protocol.md "Limits"): every refusal is a close code and a counter.
  - bursts: ``accepts_per_turn`` connections accepted a turn (the kernel queues ``listen_backlog``),
    at most ``handshakes`` opening handshakes in progress at once (the others' sockets are not read
    until a slot frees) and ``sends_per_turn`` backlogged messages written a turn across all clients
    (``cti.screenpop.gate``): 500 reconnecting consoles are served over many short turns of the event
    loop instead of a few long ones, and none is refused;
  - input: the first message may hold ``max_login_bytes``; a frame nested too deep or not valid Unicode
    is refused before it is parsed (``protocol.Refused``: 1008, 1007);
  - logins: failures per address and per user name, and at most a few password checks at once
    (``cti.screenpop.logins``); a refused login never reaches the store;
  - slow consumers: a message that cannot be written within ``write_deadline``, or a transport buffer
    over ``transport_buffer_bytes``, drops the client with 4008; the socket's kernel send buffer is
    capped (``send_buffer_bytes``) so the backlog shows up in our buffers within seconds;
  - tokens: ``refresh`` gives a new one; ``sign_out`` (or an account found disabled, checked every
    ``account_check`` seconds) revokes every token of the user and closes their connections (4003) on
    this instance (revocations are kept in this process: another instance learns of a disabled account
    by its own check, and of a sign-out not at all until the token expires).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
import os
import socket
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from cti.core.clock import Clock, SystemClock
from cti.core.ids import AgentId
from cti.screenpop import protocol as p
from cti.screenpop.actions import Desk, DeskError
from cti.screenpop.gate import HandshakeGate, SendPacer, gated
from cti.screenpop.hub import CLOSE_TOO_SLOW, Client, Hub
from cti.screenpop.logins import Busy, LoginGuard, LoginLimits
from cti.screenpop.tokens import Identity, Revocations, TokenError, TokenSigner
from cti.telemetry import PREFIX, Metric, counter, new_registry

log = logging.getLogger("cti.screenpop.server")

CLOSE_AUTH = 4001
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "Try Again Later": the store that checks passwords is unreachable
CLOSE_FLOOD = 4029
CLOSE_EXPIRED = 4002
CLOSE_SIGNED_OUT = 4003
CLOSE_BUSY = 1013  # RFC 6455: try again later

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


class Account(Protocol):
    role: str
    member_name: str | None
    username: str


class Accounts(Protocol):
    async def authenticate(self, username: str, password: str) -> Any: ...

    async def active(self, usernames: Collection[str]) -> set[str]:
        """Which of these user names are accounts that may still log in."""
        ...


@dataclass(slots=True)
class Limits:
    max_message_bytes: int = 64 * 1024
    client_buffer: int = 1000
    rate: float = 20.0  # commands per second, sustained
    burst: float = 40.0
    flood_after: int = 200  # commands refused for rate before the connection is closed
    auth_timeout: float = 10.0
    ping_interval: float = 20.0
    failed_login_delay: float = 0.3
    close_timeout: float = 2.0
    max_login_bytes: int = 8 * 1024  # the first message: a login or a resume
    client_buffer_chars: int = 4 * 1024 * 1024  # characters queued per client (with client_buffer)
    write_deadline: float = 5.0  # seconds one message may take to be written to the socket
    transport_buffer_bytes: int = 1024 * 1024  # bytes in the transport's buffer before a drop
    send_buffer_bytes: int = 256 * 1024  # the socket's kernel send buffer (SO_SNDBUF)
    account_check: float = 30.0  # seconds between checks that connected users' accounts are active
    handshakes: int = 16  # opening handshakes in progress at once (cti.screenpop.gate); more wait
    sends_per_turn: int = 64  # backlogged messages written per loop turn, all clients together
    accepts_per_turn: int = 16  # connections asyncio accepts per turn (its ``backlog``)
    listen_backlog: int = 1024  # connections the kernel holds until they are accepted
    logins: LoginLimits = field(default_factory=LoginLimits)


class RateLimit:
    """A token bucket: ``rate`` per second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.t = now
        self.refused = 0

    def allow(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.t) * self.rate)
        self.t = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.refused += 1
        return False


def load_static() -> dict[str, tuple[bytes, str]]:
    """The pages' files, the vendored libraries under ``vendor/`` (no CDN: the consoles work offline) and
    the string catalogues under ``i18n/``."""
    files: dict[str, tuple[bytes, str]] = {}
    root = resources.files("cti.screenpop") / "static"
    for folder, prefix in ((root, ""), (root / "vendor", "vendor/"), (root / "i18n", "i18n/")):
        for entry in folder.iterdir():
            suffix = "." + entry.name.rsplit(".", 1)[-1]
            if entry.is_file() and suffix in _TYPES:
                files[prefix + entry.name] = (entry.read_bytes(), _TYPES[suffix])
    return files


def kept_secret(path: str) -> bytes:
    """The token key kept in ``path`` (``[web] secret_file``): read, or made (32 random bytes, hex, mode
    0600) the first time. Tokens signed with it outlive a restart, so a console's reload keeps working."""
    import secrets as _secrets
    from pathlib import Path

    file = Path(path)
    try:
        text = file.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        text = ""
    if len(text) < 32:
        text = _secrets.token_hex(32)
        file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(text + "\n")
    return text.encode("ascii")


# The reports endpoint (cti.reports.web): query parameters in, a JSON document out; ValueError: a bad query
ReportsEndpoint = Callable[[Mapping[str, str]], Awaitable[dict[str, Any]]]


class ConsoleServer:
    def __init__(
        self,
        hub: Hub,
        desk: Desk,
        accounts: Accounts,
        signer: TokenSigner,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        limits: Limits | None = None,
        registry: CollectorRegistry | None = None,
        health: Callable[[], dict[str, Any]] | None = None,
        clock: Clock | None = None,
        reports: ReportsEndpoint | None = None,
    ) -> None:
        self.hub = hub
        self.reports = reports
        self.desk = desk
        self.accounts = accounts
        self.signer = signer
        self.host = host
        self.port = port
        self.limits = limits or Limits()
        self.registry = registry if registry is not None else new_registry()
        self.health = health or (lambda: {"status": "ok"})
        self.clock = clock or SystemClock()  # token expiry, rate limits, message times
        self.static = load_static()
        self._server: Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._deadlines: asyncio.Task[None] | None = None
        self.guard = LoginGuard(self.limits.logins)
        self.gate = HandshakeGate(self.limits.handshakes)
        self.pacer = SendPacer(self.limits.sends_per_turn)
        self._admission = asyncio.Semaphore(8)
        self.revocations = Revocations(signer.ttl)
        self.logins = 0
        self.logins_failed = 0
        self.logins_unavailable = 0  # logins refused because the account store failed
        self.refused = 0  # bad, unauthorised or rate-limited commands
        self.connections = 0
        self.frames_refused: Counter[str] = Counter()  # too_big, too_deep, bad_text
        self.logins_refused: Counter[str] = Counter()  # attempts, busy
        self.sessions_revoked = 0

    # ---- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await serve(
            self._session,
            self.host,
            self.port,
            process_request=self._http,
            compression=None,  # per-client deflate costs more CPU than 1,000 agents' pops are worth
            max_size=self.limits.max_message_bytes,
            max_queue=16,
            ping_interval=self.limits.ping_interval,
            ping_timeout=self.limits.ping_interval,
            close_timeout=2,
            server_header="cti",
            create_connection=gated(self.gate),  # a burst of new connections is spread over loop turns
            backlog=self.limits.accepts_per_turn,
        )
        for listening in self._server.sockets:
            # asyncio accepts at most ``backlog`` connections per turn, and gave the same figure to
            # listen(): the kernel's queue is set again, larger, so a burst waits there and is not dropped
            with socket.socket(fileno=os.dup(listening.fileno())) as same:  # the same socket, by a copy
                same.listen(self.limits.listen_backlog)
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]
        self._sweeper = asyncio.create_task(self._check_accounts(), name="console-account-check")
        self._deadlines = asyncio.create_task(self._check_writes(), name="console-write-deadlines")
        log.info("consoles on http://%s:%d/", self.host, self.port, extra={"port": self.port})

    async def run(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self) -> None:
        for task in (self._sweeper, self._deadlines):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def collect(self) -> Iterable[Metric]:
        yield counter("ws_connections_total", "websocket connections", self.connections)
        yield counter(
            "ws_handshakes_waited_total", "connections whose handshake waited for a slot", self.gate.waited
        )
        yield counter("ws_logins_total", "successful logins", self.logins)
        yield counter("ws_login_failures_total", "refused logins and tokens", self.logins_failed)
        yield counter(
            "ws_logins_unavailable_total", "logins refused: the account store failed", self.logins_unavailable
        )
        yield counter("ws_refused_total", "bad, forbidden or rate-limited commands", self.refused)
        yield _labelled(
            "ws_frames_refused",
            "frames refused before parsing (connection closed)",
            "reason",
            {r: self.frames_refused[r] for r in ("too_big", "too_deep", "bad_text")},
        )
        yield _labelled(
            "ws_logins_refused",
            "logins refused before the password check",
            "limit",
            {r: self.logins_refused[r] for r in ("attempts", "busy")},
        )
        yield counter(
            "ws_sessions_revoked_total",
            "connections closed by a sign-out or a disabled account",
            self.sessions_revoked,
        )

    # ---- HTTP ----------------------------------------------------------------------------------------
    def _response(self, status: http.HTTPStatus, body: bytes, ctype: str, **extra: str) -> Response:
        headers = Headers(
            [
                ("Content-Type", ctype),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "no-referrer"),
                ("Content-Security-Policy", CSP),
            ]
        )
        for k, v in extra.items():
            headers[k.replace("_", "-")] = v
        return Response(status.value, status.phrase, headers, body)

    def _http(self, connection: ServerConnection, request: Request) -> Response | Awaitable[Response] | None:
        path = request.path.split("?", 1)[0]
        if path == "/ws":
            return None  # the websocket handshake proceeds
        if path == "/":
            return self._response(http.HTTPStatus.FOUND, b"", "text/plain", Location="/agent")
        if path == "/api/reports":
            return self._report(request)  # a coroutine: websockets awaits it
        if path in ("/agent", "/supervisor", "/reports", "/campaigns"):
            path = f"/static{path}.html"
        if path.startswith("/static/"):
            found = self.static.get(path[len("/static/") :])
            if found is not None:
                return self._response(http.HTTPStatus.OK, found[0], found[1])
        if path == "/healthz":
            report = self.health()
            status = (
                http.HTTPStatus.OK if report.get("status") == "ok" else http.HTTPStatus.SERVICE_UNAVAILABLE
            )
            return self._response(status, json.dumps(report).encode(), "application/json")
        if path == "/metrics":
            return self._response(
                http.HTTPStatus.OK, generate_latest(self.registry), CONTENT_TYPE_PLAIN_0_0_4
            )
        return self._response(http.HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")

    def _json(self, status: http.HTTPStatus, doc: dict[str, Any]) -> Response:
        return self._response(status, json.dumps(doc, ensure_ascii=False).encode(), "application/json")

    async def _report(self, request: Request) -> Response:
        """``GET /api/reports?kind=&from=&to=[&queue=][&agent=]`` with ``Authorization: Bearer <token>``
        (a console token of a supervisor): the report as JSON (cti.reports.web)."""
        from urllib.parse import parse_qsl, urlsplit

        auth = request.headers.get("Authorization", "")
        try:
            identity = self.signer.verify(auth.removeprefix("Bearer ").strip(), self.clock.now())
            if self.revocations.revoked(identity):
                raise TokenError("revoked")
        except TokenError as e:
            self.refused += 1
            return self._json(http.HTTPStatus.UNAUTHORIZED, {"error": f"token {e.reason}"})
        if not identity.supervisor:
            self.refused += 1
            return self._json(http.HTTPStatus.FORBIDDEN, {"error": "reports are for supervisors"})
        if self.reports is None:
            return self._json(http.HTTPStatus.SERVICE_UNAVAILABLE, {"error": "no store: reports are off"})
        query = dict(parse_qsl(urlsplit(request.path).query))
        try:
            doc = await self.reports(query)
        except ValueError as e:
            return self._json(http.HTTPStatus.BAD_REQUEST, {"error": str(e)})
        except Exception as e:  # the store failed: say so
            log.warning("report %r failed: %s", query.get("kind"), e)
            return self._json(http.HTTPStatus.SERVICE_UNAVAILABLE, {"error": "the store is unavailable"})
        return self._json(http.HTTPStatus.OK, doc)

    # ---- websocket session ---------------------------------------------------------------------------
    async def _send(self, ws: ServerConnection, message: dict[str, Any]) -> None:
        await ws.send(p.encode(message))

    async def _refuse_frame(self, ws: ServerConnection, e: p.Refused) -> None:
        """A frame refused before parsing: a counter, an error without ``ref``, the close code."""
        self.frames_refused[e.reason] += 1
        await self._send(ws, p.error(e.reason, e.message))
        await ws.close(e.close_code, e.message)

    def _first_frame(self, raw: str | bytes) -> p.Command:
        limit = self.limits.max_login_bytes
        if len(raw) > limit or (isinstance(raw, str) and len(raw) * 4 > limit and len(raw.encode()) > limit):
            raise p.Refused("too_big", p.CLOSE_TOO_BIG, f"the first message is over {limit} bytes")
        return p.parse(raw)

    async def _authenticate(self, ws: ServerConnection) -> tuple[Identity, dict[str, Any], Any] | None:
        try:
            async with asyncio.timeout(self.limits.auth_timeout):
                raw = await ws.recv()
            cmd = self._first_frame(raw)
        except TimeoutError:
            await ws.close(CLOSE_AUTH, "authentication required")
            return None
        except p.Refused as e:
            await self._refuse_frame(ws, e)
            return None
        except p.BadMessage as e:
            await self._send(ws, p.error(e.code, e.message, e.ref))
            await ws.close(CLOSE_AUTH, "authentication required")
            return None
        now = self.clock.now()
        if isinstance(cmd, p.Login):
            address = str(ws.remote_address[0]) if ws.remote_address else "?"
            wait = self.guard.refused(address, cmd.username, now)
            if wait is None:
                try:
                    async with self.guard.slot():
                        # checked again: others from this address may have failed while this one waited
                        wait = self.guard.refused(address, cmd.username, self.clock.now())
                        if wait is None:
                            account = await self.accounts.authenticate(cmd.username, cmd.password)
                except Busy:
                    self.logins_refused["busy"] += 1
                    await self._send(ws, p.error("busy", "too many logins at once: try again", cmd.ref))
                    await ws.close(CLOSE_BUSY, "too many logins at once")
                    return None
                except Exception as e:  # the database is down: say so, never a bare 1011
                    self.logins_unavailable += 1
                    log.warning("login of %r refused: the account store failed: %s", cmd.username[:64], e)
                    message = "the account store is unavailable; try again in a moment"
                    await self._send(ws, p.error("store_unavailable", message, cmd.ref))
                    await ws.close(CLOSE_TRY_AGAIN, "account store unavailable")
                    return None
            if wait is not None:
                self.logins_refused["attempts"] += 1
                message = f"too many failed logins: try again in {int(wait) + 1} s"
                await self._send(ws, p.error("too_many_attempts", message, cmd.ref))
                await ws.close(CLOSE_AUTH, "too many failed logins")
                return None
            role = getattr(account, "role", None)
            agent = getattr(account, "member_name", None)
            if account is None or role not in ("agent", "supervisor") or (role == "agent" and not agent):
                self.logins_failed += 1
                self.guard.failed(address, cmd.username, self.clock.now())
                await asyncio.sleep(self.limits.failed_login_delay)  # slow down password guessing
                await self._send(ws, p.error("auth_failed", "wrong user name or password", cmd.ref))
                await ws.close(CLOSE_AUTH, "authentication failed")
                return None
            self.guard.succeeded(cmd.username)
            member = AgentId(str(agent)) if role == "agent" else None
            token, identity = self.signer.issue(cmd.username, role, member, self.clock.now())
            self.logins += 1
            welcome = {"token": token, "ref": cmd.ref}
            return identity, welcome, None
        if isinstance(cmd, p.Resume):
            try:
                identity = self.signer.verify(cmd.token, now)
                if self.revocations.revoked(identity) or not await self._may_resume(identity):
                    raise TokenError("revoked")
            except TokenError as e:
                self.logins_failed += 1
                await self._send(ws, p.error("auth_failed", f"token {e.reason}", cmd.ref))
                await ws.close(CLOSE_AUTH, f"token {e.reason}")
                return None
            return identity, {"ref": cmd.ref}, (cmd.session, cmd.last_seq)
        await self._send(ws, p.error("auth_required", "log in first", cmd.ref))
        await ws.close(CLOSE_AUTH, "authentication required")
        return None

    def _count_closed(self, e: ConnectionClosed) -> None:
        if e.sent is not None and e.sent.code == p.CLOSE_TOO_BIG:  # the websocket layer's max_size
            self.frames_refused["too_big"] += 1

    async def _session(self, ws: ServerConnection) -> None:
        self.connections += 1
        sock = ws.transport.get_extra_info("socket")
        if sock is not None and self.limits.send_buffer_bytes:
            with contextlib.suppress(OSError):  # the kernel keeps little: a backlog shows up in our buffers
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.limits.send_buffer_bytes)
        try:
            authed = await self._authenticate(ws)
        except ConnectionClosed as e:
            self._count_closed(e)
            return
        if authed is None:
            return
        identity, welcome, resume = authed
        # A reconnect storm: sessions pass this gate a few per turn of the event loop (a waiter wakes
        # on the next turn), so the loop never prepares hundreds of welcomes and catch-ups in one turn.
        async with self._admission:
            await asyncio.sleep(0)
        client = Client(identity, self.limits.client_buffer, self.limits.client_buffer_chars)
        hello: dict[str, Any] = {
            "type": "welcome",
            "v": p.VERSION,
            "session": self.hub.session,
            "username": identity.username,
            "role": identity.role,
            "agent": identity.agent,
            "expires_at": identity.expires_at,
            "heartbeat": self.limits.ping_interval,
            "at": self.clock.now(),
            **{k: v for k, v in welcome.items() if v is not None},
        }
        # Synchronous from here to attach(): no hub message can slip between the catch-up and the stream.
        missed = None
        if resume is not None:
            session, last_seq = resume
            missed = self.hub.missed(identity, session, last_seq, self.limits.client_buffer - 2)
        hello["resumed"] = missed is not None
        hello["missed"] = len(missed or ())
        hello["seq"] = self.hub.seq
        first = [p.encode(hello)]
        if missed is None:
            first.append(p.encode(self.hub.snapshot(identity)))
        client.start(first + missed if missed is not None else first)  # one block: the GC skips it
        self.hub.attach(client)
        try:
            async with asyncio.TaskGroup() as tg:
                tasks = [
                    tg.create_task(self._writer(ws, client)),
                    tg.create_task(self._reader(ws, client)),
                    tg.create_task(self._watchdog(client)),
                ]
                for task in tasks:
                    task.add_done_callback(lambda _t: [t.cancel() for t in tasks])
        except* ConnectionClosed as group:
            for closed in group.exceptions:
                if isinstance(closed, ConnectionClosed):
                    self._count_closed(closed)
        finally:
            self.hub.detach(client)
        if client.closing is not None:
            code, reason = client.closing
            log.info("closing a console connection: %s", reason, extra={"user": client.identity.username})
            try:
                async with asyncio.timeout(self.limits.close_timeout):
                    if code != CLOSE_TOO_SLOW:  # what it was told last (an error, a result) goes first
                        for text in client.take_waiting():
                            await ws.send(text)
                    await ws.close(code, reason)
            except TimeoutError:
                ws.transport.abort()  # the peer does not read: do not wait for it

    async def _writer(self, ws: ServerConnection, client: Client) -> None:
        """Drains the client's buffer. ``sending_since`` marks a send in progress: the deadline check
        (``_check_writes``) drops a client whose send has waited too long, without a timer per message.
        After each message the writer yields, and with more to send it waits for its share of a turn
        (``SendPacer``), so a long backlog (a resume), or 500 of them, never holds the event loop for
        more than ``sends_per_turn`` messages a turn."""
        loop = asyncio.get_running_loop()
        most = self.limits.transport_buffer_bytes
        while True:
            text = await client.take()
            client.sending_since = loop.time()
            await ws.send(text)  # waits while the transport's buffer is over its high-water mark
            client.sending_since = None
            if ws.transport.get_write_buffer_size() > most:
                self.hub.drop(client, f"too slow: more than {most} bytes unsent")
                return
            if client.waiting:  # a backlog: a share of a later turn, with every other writer's
                await self.pacer.share()

    async def _check_writes(self) -> None:
        """Every quarter of ``write_deadline``: drop (4008) the clients whose send waited longer."""
        loop = asyncio.get_running_loop()
        deadline = self.limits.write_deadline
        while True:
            await asyncio.sleep(deadline / 4)
            now = loop.time()
            for client in self.hub.clients():
                since = client.sending_since
                if since is not None and now - since > deadline:
                    self.hub.drop(client, f"too slow: a message waited over {deadline:g} s to be written")

    async def _watchdog(self, client: Client) -> None:
        """Returns when the client must go: the hub dropped it, it flooded, or its token expired (a
        ``refresh`` moves the expiry: the wait starts again)."""
        while not client.dead.is_set():
            expires = client.identity.expires_at
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(expires - self.clock.now(), 0)):
                    await client.dead.wait()
            if client.identity.expires_at == expires:
                break
        client.kill(CLOSE_EXPIRED, "token expired: log in again")  # no-op when already closing

    # ---- tokens: refresh, sign-out, disabled accounts ------------------------------------------------
    def revoke(self, username: str, reason: str) -> int:
        """Void every token of ``username`` issued until now and close their connections here (4003)."""
        self.revocations.revoke(username, self.clock.now())
        closed = 0
        for client in self.hub.clients():
            if client.identity.username == username and client.closing is None:
                client.kill(CLOSE_SIGNED_OUT, reason)
                closed += 1
        self.sessions_revoked += closed
        return closed

    async def _may_resume(self, identity: Identity) -> bool:
        """The account is still active (a token outlives a restart, the revocations do not). When the
        store does not answer, the token's signature is enough: nobody is thrown out for an outage."""
        try:
            return identity.username in await self.accounts.active({identity.username})
        except Exception as e:
            log.warning("could not check an account on resume: %s", e)
            return True

    async def _check_accounts(self) -> None:
        while True:
            await asyncio.sleep(self.limits.account_check)
            users = {c.identity.username for c in self.hub.clients()}
            if not users:
                continue
            try:
                active = await self.accounts.active(users)
            except Exception as e:  # the store is down: nobody is thrown out for that
                log.warning("could not check the consoles' accounts: %s", e)
                continue
            for username in sorted(users - active):
                self.revoke(username, "account disabled")

    async def _refresh(self, client: Client, cmd: p.Refresh) -> None:
        ident = client.identity
        try:
            still = ident.username in await self.accounts.active({ident.username})
        except Exception:
            client.offer(p.encode(p.error("store_failed", "could not check the account: try again", cmd.ref)))
            return
        if not still:
            self.revoke(ident.username, "account disabled")
            return
        token, client.identity = self.signer.issue(ident.username, ident.role, ident.agent, self.clock.now())
        client.offer(
            p.encode(
                {
                    "type": "result",
                    "ref": cmd.ref,
                    "ok": True,
                    "action": "refresh",
                    "token": token,
                    "expires_at": client.identity.expires_at,
                }
            )
        )

    async def _reader(self, ws: ServerConnection, client: Client) -> None:
        limit = RateLimit(self.limits.rate, self.limits.burst, self.clock.now())
        told = 0.0
        async for raw in ws:
            now = self.clock.now()
            if not limit.allow(now):
                self.refused += 1
                if limit.refused >= self.limits.flood_after:
                    client.kill(CLOSE_FLOOD, "flood: too many messages")
                    return
                if now - told > 1.0:
                    told = now
                    client.offer(p.encode(p.error("rate_limited", "too many messages: slow down")))
                continue
            try:
                cmd = p.parse(raw)
            except p.Refused as e:
                self.frames_refused[e.reason] += 1
                client.offer(p.encode(p.error(e.reason, e.message)))
                client.kill(e.close_code, e.message)
                return
            except p.BadMessage as e:
                self.refused += 1
                client.offer(p.encode(p.error(e.code, e.message, e.ref)))
                continue
            await self._command(client, cmd)

    async def _command(self, client: Client, cmd: p.Command) -> None:
        if isinstance(cmd, p.Ping):
            client.offer(
                p.encode({"type": "pong", "ref": cmd.ref, "seq": self.hub.seq, "at": self.clock.now()})
            )
            return
        if isinstance(cmd, p.Login | p.Resume):
            client.offer(p.encode(p.error("already_authenticated", "this connection is logged in", cmd.ref)))
            return
        if self.clock.now() >= client.identity.expires_at:
            client.kill(CLOSE_EXPIRED, "token expired: log in again")
            return
        if isinstance(cmd, p.Refresh):
            await self._refresh(client, cmd)
            return
        if isinstance(cmd, p.SignOut):
            self.revoke(client.identity.username, "signed out")
            return
        try:
            result = await self.desk.run(client.identity, cmd)
        except DeskError as e:
            self.refused += 1
            refusal = p.error(e.code, e.message, cmd.ref)
            if e.field is not None:
                refusal["field"] = e.field
            client.offer(p.encode(refusal))
            return
        client.offer(
            p.encode({"type": "result", "ref": cmd.ref, "ok": True, "action": _action(cmd), **result})
        )


def _labelled(name: str, documentation: str, label: str, values: dict[str, int]) -> Metric:
    family = CounterMetricFamily(PREFIX + name, documentation, labels=[label])
    for key, value in values.items():
        family.add_metric([key], float(value))
    return family


def _action(cmd: p.Command) -> str:
    return type(cmd).__name__.lower()
