"""A burst of new connections is spread over turns of the event loop (cti.screenpop.gate), and nobody is
refused for it. Counted, not timed: how many handshakes the server answers in one turn of the loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from cti.screenpop.gate import HandshakeGate, SendPacer
from cti.screenpop.server import ConsoleServer, Limits
from tests.conftest import timeout
from tests.screenpop.console import login, recv, running_console

CAP = 4


class _Turns:
    """Numbers the turns of the event loop: a callback that schedules itself runs once per turn."""

    def __init__(self) -> None:
        self.now = 0
        self._loop = asyncio.get_running_loop()
        self._stopped = False
        self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        self.now += 1
        if not self._stopped:
            self._loop.call_soon(self._tick)

    def stop(self) -> None:
        self._stopped = True


@contextlib.contextmanager
def handshakes_per_turn(server: ConsoleServer) -> Iterator[Counter[int]]:
    """Counts, per loop turn, the requests the server answers (``process_request`` runs once per
    handshake, just before the response is sent). The websockets server took ``server._http`` when it
    started; the count wraps what it calls."""
    turns = _Turns()
    per_turn: Counter[int] = Counter()
    assert server._server is not None
    answer = server._http

    def counting(connection: ServerConnection, request: Request) -> Response | Awaitable[Response] | None:
        per_turn[turns.now] += 1
        return answer(connection, request)

    server._http = counting  # type: ignore[method-assign]
    try:
        yield per_turn
    finally:
        server._http = answer  # type: ignore[method-assign]
        turns.stop()


@contextlib.asynccontextmanager
async def counted(limits: Limits) -> AsyncIterator[tuple[ConsoleServer, str, Counter[int]]]:
    async with running_console(limits) as console:
        server = console.server
        # serve() took the bound method at start: restart it so the wrapper is what it calls
        await server.close()
        with handshakes_per_turn(server) as per_turn:
            await server.start()
            yield server, console.ws_url, per_turn


async def test_a_burst_of_200_connections_is_answered_a_few_per_turn_and_none_refused() -> None:
    async with counted(Limits(failed_login_delay=0.01, handshakes=CAP)) as (server, url, per_turn):
        clients = await asyncio.gather(*(connect(url) for _ in range(200)))  # every one is answered
        assert sum(per_turn.values()) == 200
        assert max(per_turn.values()) <= CAP, sorted(per_turn.values())[-5:]
        assert server.gate.most <= CAP
        assert server.gate.waited > 0  # the burst did have to wait
        assert server.gate.busy == 0 and server.gate.waiting == 0  # every slot was given back
        await asyncio.gather(*(ws.close() for ws in clients))


async def test_a_client_sending_half_a_request_or_nothing_holds_no_slot() -> None:
    async with counted(Limits(failed_login_delay=0.01, handshakes=1)) as (server, url, _):
        port = server.port
        _, silent = await asyncio.open_connection("127.0.0.1", port)
        _, half = await asyncio.open_connection("127.0.0.1", port)
        half.write(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the rest
        await half.drain()
        async with asyncio.timeout(timeout(5)):  # the open_timeout (10 s) is not what lets it in
            ws = await connect(url)
        await ws.close()
        for writer in (silent, half):
            writer.close()


async def test_connections_over_the_cap_still_log_in() -> None:
    async with running_console(Limits(failed_login_delay=0.01, handshakes=1)) as console:
        sessions = await asyncio.gather(*(login(console, "alice") for _ in range(5)))
        assert console.server.gate.waited > 0
        await asyncio.gather(*(ws.close() for ws, _ in sessions))


def test_the_gate_hands_a_freed_slot_to_the_oldest_waiter_on_a_later_turn() -> None:
    async def scenario() -> list[str]:
        gate = HandshakeGate(1)
        order: list[str] = []
        assert gate.acquire()
        gate.wait(lambda: order.append("first"))
        gate.wait(lambda: order.append("second"))
        assert not gate.acquire()  # a newcomer does not jump the queue
        gate.release()
        assert order == []  # not in the same turn
        await asyncio.sleep(0)
        assert order == ["first"] and gate.busy == 1
        gate.release()
        await asyncio.sleep(0)
        gate.release()
        assert order == ["first", "second"] and gate.busy == 0
        return order

    assert asyncio.run(scenario()) == ["first", "second"]
    with pytest.raises(ValueError, match="at least 1"):
        HandshakeGate(0)


async def test_the_pacer_lets_per_turn_writers_through_a_turn_in_order() -> None:
    pacer = SendPacer(3)
    turns = _Turns()
    passed: list[tuple[int, int]] = []  # (writer, turn)

    async def writer(i: int) -> None:
        await pacer.share()
        passed.append((i, turns.now))

    await asyncio.gather(*(writer(i) for i in range(10)))
    turns.stop()
    assert [i for i, _ in passed] == list(range(10))  # first come, first served
    assert max(Counter(t for _, t in passed).values()) <= 3
    assert pacer.waited == 7


async def test_a_resume_storm_is_written_a_bounded_number_of_messages_a_turn() -> None:
    async with running_console(Limits(failed_login_delay=0.01, sends_per_turn=5)) as console:
        sessions = [await login(console, "super") for _ in range(4)]
        for _ in range(50):  # a backlog for every client at once
            console.hub.callbacks_changed(None)
        for ws, _ in sessions:
            for _ in range(50):
                assert (await recv(ws))["type"] == "callbacks_changed"
        assert console.server.pacer.waited > 0
        await asyncio.gather(*(ws.close() for ws, _ in sessions))
