"""Asterisk's side of FastAGI for the simulated Asterisk: ``AGI(agi://host:port/route,...)``.

What res_agi does for an ``agi://`` script: connect (giving up after ``CONNECT_TIMEOUT``, its
``MAX_AGI_CONNECT``: then ``AGISTATUS`` is FAILURE), send the ``agi_*`` headers and a blank line, then
answer each command until the server closes the connection (``AGISTATUS`` SUCCESS). Only what a routing
script needs is answered: ``SET VARIABLE`` (``200 result=1``); any other command gets
``510 Invalid or unknown command``, as Asterisk answers one it does not know.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

CONNECT_TIMEOUT = 2.0  # res_agi.c MAX_AGI_CONNECT (ms 2000)
SCRIPT_LIMIT = 30.0  # the simulator's own limit on one script (Asterisk has none; cti's deadline is short)
_SET = re.compile(r'^SET VARIABLE (\S+) "((?:[^"\\]|\\.)*)"$')


def unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


async def run_script(host: str, port: int, headers: list[tuple[str, str]]) -> dict[str, str] | None:
    """The variables the script set, or None when it could not be reached (AGISTATUS FAILURE)."""
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            reader, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return None
    variables: dict[str, str] = {}
    try:
        block = "".join(f"{k}: {v}\n" for k, v in headers) + "\n"
        writer.write(block.encode())
        await writer.drain()
        async with asyncio.timeout(SCRIPT_LIMIT):
            while line := await reader.readline():
                m = _SET.match(line.decode("utf-8", "replace").rstrip("\r\n"))
                if m is not None:
                    variables[m.group(1)] = unquote(m.group(2))
                    writer.write(b"200 result=1\n")
                else:
                    writer.write(b"510 Invalid or unknown command\n")
                await writer.drain()
    except (OSError, TimeoutError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return variables
