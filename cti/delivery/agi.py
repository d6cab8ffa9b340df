"""FastAGI: the dialplan asks cti where a call goes, ``AGI(agi://cti-host:4573/route)``.

Served by panoramisk's FastAGI ``Application`` on the daemon's event loop (a ``Component`` of
cti.app). panoramisk is used where it is sound (its routes, ``Request.send_command`` and the AGI
result parser); its request handler is replaced (``AgiApplication.handler``) for these defects
(docs/design/routing.md "FastAGI"), each with a regression test in tests/delivery/test_agi.py:

1. it reads the request headers with ``while b"\\n\\n" not in buffer: buffer += await reader.read()``:
   a peer that closes before the blank line spins that loop forever (``read`` returns ``b""``), and a
   peer that never ends its headers holds the task and grows the buffer without bound;
2. it drops a header block that does not decode as UTF-8 with an exception and never closes the socket;
3. ``add_route`` wraps a plain function with ``asyncio.coroutine``, which Python 3.11 removed (only
   coroutine functions are routed here).

``/announce`` (the holding extension's periodic announcement, with the routing service): the held
call's EWT again, its overflow, the callback offer again (``RoutingService.announce``).

The route's answer: ``SET VARIABLE`` for every variable of ``InboundDecider.variables`` (CTI_QUEUE,
CTI_PRIORITY, CTI_SKILLS, CTI_RULE, CTI_EWT, CTI_CLOSED, CTI_TARGET), all within ``deadline`` seconds
of the request: a decision not ready by then is abandoned and nothing is set, so the dialplan's
fallback (``AGISTATUS`` FAILURE or an empty CTI_QUEUE: a plain ``Queue()``) takes the call. A request
that is not AGI (no ``agi_network_script``, bad headers, too long) is refused: the socket is closed at
once and nothing else is affected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from panoramisk.fast_agi import Application, Request

from cti.telemetry import Metric, counter

log = logging.getLogger("cti.delivery.agi")

MAX_HEADER_BYTES = 16 * 1024
Decide = Callable[[str, str, str], Awaitable[Mapping[str, str]]]  # (did, number, choice) -> variables
Announce = Callable[[str], Mapping[str, str]]  # the held call's uniqueid -> variables


def agi_quote(value: str) -> str:
    """A value as one AGI argument: in double quotes, with quotes and backslashes escaped, one line."""
    text = value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ")
    return f'"{text}"'


class AgiApplication(Application):  # type: ignore[misc]
    """panoramisk's FastAGI application with a bounded, total request reader (defects 1-3)."""

    def __init__(self, header_timeout: float = 2.0) -> None:
        super().__init__(loop=asyncio.get_running_loop())
        self.header_timeout = header_timeout
        self.refused = 0
        self.served = 0

    def add_route(self, path: str, endpoint: Callable[[Request], Awaitable[None]]) -> None:
        if not asyncio.iscoroutinefunction(endpoint):
            raise TypeError(f"route {path!r}: the endpoint must be an async function")
        super().add_route(path, endpoint)

    async def read_headers(self, reader: asyncio.StreamReader) -> dict[str, str] | None:
        try:
            async with asyncio.timeout(self.header_timeout):
                block = await reader.readuntil(b"\n\n")
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            return None
        if len(block) > MAX_HEADER_BYTES:
            return None
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            return None
        headers: dict[str, str] = {}
        for line in text.splitlines():
            if not line.strip():
                continue
            name, sep, value = line.partition(": ")
            if not sep or not name.startswith("agi_"):
                return None
            headers[name] = value
        return headers

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            headers = await self.read_headers(reader)
            script = (headers or {}).get("agi_network_script", "").split("?", 1)[0].strip("/")
            route = self._route.get(script) if headers is not None else None
            if headers is None or route is None:
                self.refused += 1
                log.warning(
                    "FastAGI request from %s refused: %s",
                    writer.get_extra_info("peername"),
                    "not an AGI request" if headers is None else f"no route {script!r}",
                )
                return
            try:
                await route(Request(self, headers, reader, writer, self.default_encoding))
                self.served += 1
            except Exception:
                log.exception("FastAGI route %r failed", script)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass


class AgiServer:
    """The ``[agi]`` component: ``/route`` answers with the inbound decision's channel variables."""

    def __init__(
        self,
        decide: Decide,
        *,
        host: str = "127.0.0.1",
        port: int = 4573,
        deadline: float = 0.3,
        header_timeout: float = 2.0,
        announce: Announce | None = None,
    ) -> None:
        self.decide, self.host, self.port = decide, host, port
        self.announce = announce
        self.deadline, self.header_timeout = deadline, header_timeout
        self.app: AgiApplication | None = None
        self.server: asyncio.Server | None = None
        self.late = 0
        self.ready = asyncio.Event()

    async def route(self, request: Request) -> None:
        h = request.headers
        did = h.get("agi_arg_1") or h.get("agi_dnid") or h.get("agi_extension", "")
        if did in ("unknown", "s"):
            did = ""
        number = h.get("agi_callerid", "")
        number = "" if number == "unknown" else number
        choice = h.get("agi_arg_2", "")
        await self._answer(request, lambda: self.decide(did, number, choice))

    async def announce_route(self, request: Request) -> None:
        """``AGI(agi://cti-host:4573/announce)``: the holding extension's periodic announcement asks
        again (``RoutingService.announce``: CTI_EWT, CTI_OFFER_CALLBACK, CTI_QUEUE, CTI_ANNOUNCE_EVERY)."""
        announce = self.announce
        assert announce is not None
        uniqueid = request.headers.get("agi_uniqueid", "")

        async def answer() -> Mapping[str, str]:
            return announce(uniqueid)

        await self._answer(request, answer)

    async def _answer(
        self, request: Request, variables_of: Callable[[], Awaitable[Mapping[str, str]]]
    ) -> None:
        """``SET VARIABLE`` for each variable, all within the deadline (else nothing more is set)."""
        try:
            async with asyncio.timeout(self.deadline):
                variables = await variables_of()
                for name, value in variables.items():
                    result = await request.send_command(f"SET VARIABLE {name} {agi_quote(value)}")
                    if "error" in result:
                        log.warning("FastAGI: SET VARIABLE %s: %s", name, result.get("msg", result))
                        return
        except TimeoutError:
            self.late += 1
            log.warning(
                "FastAGI: no decision within %.0f ms: the dialplan's fallback takes the call",
                self.deadline * 1000,
            )

    async def start(self) -> None:
        self.app = AgiApplication(self.header_timeout)
        self.app.add_route("route", self.route)
        if self.announce is not None:
            self.app.add_route("announce", self.announce_route)
        self.server = await asyncio.start_server(self.app.handler, self.host, self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        log.info("FastAGI listening on %s:%d", self.host, self.port)
        self.ready.set()

    async def run(self) -> None:
        if self.server is None:
            await self.start()
        assert self.server is not None
        try:
            await self.server.serve_forever()
        finally:
            self.server.close()

    def collect(self) -> list[Metric]:
        app: Any = self.app
        return [
            counter("agi_requests_total", "FastAGI route requests answered", app.served if app else 0),
            counter("agi_refused_total", "FastAGI connections refused (not AGI)", app.refused if app else 0),
            counter("agi_late_total", "FastAGI decisions past the deadline (fallback)", self.late),
        ]
