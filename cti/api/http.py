"""A small HTTP/1.1 JSON server on asyncio streams, the protocol handled by h11.

It serves the CRM API (cti.api.crm) on a listener of its own (``[api] host/port``;
docs/design/api.md says why not the console server's port). Every response is JSON. Limits: a request
body over ``max_body`` bytes gets 413 and the connection is closed; a client that sends nothing for
``idle_timeout`` seconds is closed; headers over h11's limit (16 KiB) get 431 (h11's own check).
Keep-alive is h11's: one request at a time per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import h11

log = logging.getLogger("cti.api.http")

READ_SIZE = 65536


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # without the query
    query: str
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: Any  # JSON-able
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response]]


class HttpError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("reason", ""))
        self.status, self.body = status, body


class JsonServer:
    def __init__(
        self,
        handler: Handler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body: int = 16384,
        idle_timeout: float = 30.0,
    ) -> None:
        self.handler = handler
        self.host, self.port = host, port
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self.requests = 0
        self.errors = 0
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def run(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        try:
            await self._server.serve_forever()
        finally:
            await self.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._conns):
                task.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await self._read(conn, reader, writer)
                if request is None:
                    break
                self.requests += 1
                try:
                    response = await self.handler(request)
                except HttpError as e:
                    response = Response(e.status, e.body)
                except Exception:
                    log.exception("API %s %s failed", request.method, request.path)
                    self.errors += 1
                    response = Response(500, {"error": "internal", "reason": "the request failed"})
                await self._write(conn, writer, response)
                if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                    break
                try:
                    conn.start_next_cycle()
                except h11.LocalProtocolError:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            if task is not None:
                self._conns.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Request | None:
        head: h11.Request | None = None
        body = bytearray()
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as e:
                status = e.error_status_hint
                with contextlib.suppress(Exception):
                    await self._write(
                        conn, writer, Response(status, {"error": "bad_request", "reason": str(e)})
                    )
                return None
            if event is h11.NEED_DATA:
                try:
                    async with asyncio.timeout(self.idle_timeout):
                        data = await reader.read(READ_SIZE)
                except TimeoutError:
                    return None
                conn.receive_data(data)
                if not data and conn.their_state is h11.IDLE:
                    return None
                continue
            if isinstance(event, h11.Request):
                head = event
                length = dict(event.headers).get(b"content-length")
                if length is not None and length.isdigit() and int(length) > self.max_body:
                    await self._too_large(conn, writer)
                    return None
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > self.max_body:
                    await self._too_large(conn, writer)
                    return None
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                target = head.target.decode("latin-1")
                path, _, query = target.partition("?")
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in head.headers}
                return Request(head.method.decode("ascii"), path, query, headers, bytes(body))
            elif isinstance(event, h11.ConnectionClosed):
                return None

    async def _too_large(self, conn: h11.Connection, writer: asyncio.StreamWriter) -> None:
        body = {"error": "too_large", "reason": f"the request body is over {self.max_body} bytes"}
        with contextlib.suppress(Exception):
            await self._write(conn, writer, Response(413, body, {"connection": "close"}))

    async def _write(self, conn: h11.Connection, writer: asyncio.StreamWriter, response: Response) -> None:
        data = json.dumps(response.body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = [
            ("content-type", "application/json; charset=utf-8"),
            ("content-length", str(len(data))),
            ("cache-control", "no-store"),
            *response.headers.items(),
        ]
        if response.status == 401:
            headers.append(("www-authenticate", 'Bearer realm="cti"'))
        out = conn.send(h11.Response(status_code=response.status, headers=headers))
        out = (out or b"") + (conn.send(h11.Data(data=data)) or b"") + (conn.send(h11.EndOfMessage()) or b"")
        writer.write(out)
        await writer.drain()
