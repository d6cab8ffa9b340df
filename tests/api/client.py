"""A small HTTP/1.1 client over a real socket for the API tests (h11, as the server)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11


async def request(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = h11.Connection(h11.CLIENT)
    head = [("host", f"127.0.0.1:{port}"), ("content-length", str(len(body))), ("connection", "close")]
    head += list((headers or {}).items())
    out = conn.send(h11.Request(method=method, target=path, headers=head)) or b""
    out += conn.send(h11.Data(data=body)) or b"" if body else b""
    out += conn.send(h11.EndOfMessage()) or b""
    writer.write(out)
    await writer.drain()
    status, got, data = 0, {}, bytearray()
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
                got = {k.decode().lower(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                data += event.data
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
    finally:
        writer.close()
    return status, got, json.loads(data) if data else None


async def post(port: int, path: str, payload: Any, token: str | None = None) -> tuple[int, Any]:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    status, _, body = await request(port, "POST", path, json.dumps(payload).encode(), headers)
    return status, body


async def get(port: int, path: str, token: str | None = None) -> tuple[int, Any]:
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    status, _, body = await request(port, "GET", path, b"", headers)
    return status, body
