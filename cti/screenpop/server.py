"""The consoles' one port: websocket API at ``/ws`` and the HTTP pages beside it.

HTTP (served from ``process_request``, before any websocket handshake):
  ``/`` -> ``/agent``; ``/agent`` and ``/supervisor`` (the consoles); ``/static/<file>`` (their JS and
  CSS, loaded into memory at start); ``/healthz`` (JSON; 503 when degraded); ``/metrics`` (Prometheus).
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
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from cti.core.clock import Clock, SystemClock
from cti.core.ids import AgentId
from cti.screenpop import protocol as p
from cti.screenpop.actions import Desk, DeskError
from cti.screenpop.hub import Client, Hub
from cti.screenpop.tokens import Identity, TokenError, TokenSigner
from cti.telemetry import Metric, counter, new_registry

log = logging.getLogger("cti.screenpop.server")

CLOSE_AUTH = 4001
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "Try Again Later": the store that checks passwords is unreachable
CLOSE_FLOOD = 4029
CLOSE_EXPIRED = 4002

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
    files: dict[str, tuple[bytes, str]] = {}
    root = resources.files("cti.screenpop") / "static"
    for entry in root.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in _TYPES:
            files[entry.name] = (entry.read_bytes(), _TYPES[suffix])
    return files


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
    ) -> None:
        self.hub = hub
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
        self.logins = 0
        self.logins_failed = 0
        self.logins_unavailable = 0  # logins refused because the account store failed
        self.refused = 0  # bad, unauthorised or rate-limited commands
        self.connections = 0

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
        )
        sock = next(iter(self._server.sockets))
        self.port = sock.getsockname()[1]
        log.info("consoles on http://%s:%d/", self.host, self.port, extra={"port": self.port})

    async def run(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def collect(self) -> Iterable[Metric]:
        yield counter("ws_connections_total", "websocket connections", self.connections)
        yield counter("ws_logins_total", "successful logins", self.logins)
        yield counter("ws_login_failures_total", "refused logins and tokens", self.logins_failed)
        yield counter(
            "ws_logins_unavailable_total", "logins refused: the account store failed", self.logins_unavailable
        )
        yield counter("ws_refused_total", "bad, forbidden or rate-limited commands", self.refused)

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

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/ws":
            return None  # the websocket handshake proceeds
        if path == "/":
            return self._response(http.HTTPStatus.FOUND, b"", "text/plain", Location="/agent")
        if path in ("/agent", "/supervisor"):
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

    # ---- websocket session ---------------------------------------------------------------------------
    async def _send(self, ws: ServerConnection, message: dict[str, Any]) -> None:
        await ws.send(p.encode(message))

    async def _authenticate(self, ws: ServerConnection) -> tuple[Identity, dict[str, Any], Any] | None:
        try:
            async with asyncio.timeout(self.limits.auth_timeout):
                raw = await ws.recv()
            cmd = p.parse(raw)
        except TimeoutError:
            await ws.close(CLOSE_AUTH, "authentication required")
            return None
        except p.BadMessage as e:
            await self._send(ws, p.error(e.code, e.message, e.ref))
            await ws.close(CLOSE_AUTH, "authentication required")
            return None
        now = self.clock.now()
        if isinstance(cmd, p.Login):
            try:
                account = await self.accounts.authenticate(cmd.username, cmd.password)
            except Exception as e:  # the database is down: say so, never a bare 1011
                self.logins_unavailable += 1
                log.warning("login of %r refused: the account store failed: %s", cmd.username[:64], e)
                message = "the account store is unavailable; try again in a moment"
                await self._send(ws, p.error("store_unavailable", message, cmd.ref))
                await ws.close(CLOSE_TRY_AGAIN, "account store unavailable")
                return None
            role = getattr(account, "role", None)
            agent = getattr(account, "member_name", None)
            if account is None or role not in ("agent", "supervisor") or (role == "agent" and not agent):
                self.logins_failed += 1
                await asyncio.sleep(self.limits.failed_login_delay)  # slow down password guessing
                await self._send(ws, p.error("auth_failed", "wrong user name or password", cmd.ref))
                await ws.close(CLOSE_AUTH, "authentication failed")
                return None
            member = AgentId(str(agent)) if role == "agent" else None
            token, identity = self.signer.issue(cmd.username, role, member, now)
            self.logins += 1
            welcome = {"token": token, "ref": cmd.ref}
            return identity, welcome, None
        if isinstance(cmd, p.Resume):
            try:
                identity = self.signer.verify(cmd.token, now)
            except TokenError as e:
                self.logins_failed += 1
                await self._send(ws, p.error("auth_failed", f"token {e.reason}", cmd.ref))
                await ws.close(CLOSE_AUTH, f"token {e.reason}")
                return None
            return identity, {"ref": cmd.ref}, (cmd.session, cmd.last_seq)
        await self._send(ws, p.error("auth_required", "log in first", cmd.ref))
        await ws.close(CLOSE_AUTH, "authentication required")
        return None

    async def _session(self, ws: ServerConnection) -> None:
        self.connections += 1
        try:
            authed = await self._authenticate(ws)
        except ConnectionClosed:
            return
        if authed is None:
            return
        identity, welcome, resume = authed
        client = Client(identity, self.limits.client_buffer)
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
        client.offer(p.encode(hello))
        if missed is None:
            client.offer(p.encode(self.hub.snapshot(identity)))
        for text in missed or ():
            client.offer(text)
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
        except* ConnectionClosed:
            pass
        finally:
            self.hub.detach(client)
        if client.closing is not None:
            code, reason = client.closing
            log.info("closing a console connection: %s", reason, extra={"user": client.identity.username})
            try:
                async with asyncio.timeout(self.limits.close_timeout):
                    await ws.close(code, reason)
            except TimeoutError:
                ws.transport.abort()  # the peer does not read: do not wait for it

    async def _writer(self, ws: ServerConnection, client: Client) -> None:
        while True:
            text = await client.queue.get()
            await ws.send(text)

    async def _watchdog(self, client: Client) -> None:
        """Returns when the client must go: the hub dropped it, it flooded, or its token expired."""
        remaining = client.identity.expires_at - self.clock.now()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(remaining, 0)):
                await client.dead.wait()
        client.kill(CLOSE_EXPIRED, "token expired: log in again")  # no-op when already closing

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
        try:
            result = await self.desk.run(client.identity, cmd)
        except DeskError as e:
            self.refused += 1
            client.offer(p.encode(p.error(e.code, e.message, cmd.ref)))
            return
        client.offer(
            p.encode({"type": "result", "ref": cmd.ref, "ok": True, "action": _action(cmd), **result})
        )


def _action(cmd: p.Command) -> str:
    return type(cmd).__name__.lower()
