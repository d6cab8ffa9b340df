"""Opening handshakes spread over turns of the event loop (docs/websocket-protocol.md, "Limits").

asyncio runs every callback that is ready in one iteration before it looks at timers again: when 500
consoles reconnect at once, 500 HTTP upgrade requests are parsed in one turn and 500 handshakes
answered in the next, and nothing else (a screen pop) runs in between. The gate lets at most ``cap``
handshakes be in progress at once. A connection takes a slot when its request bytes arrive and keeps
it until its response is sent (or the connection is lost); over the cap its transport stops being read
(``pause_reading``) and its bytes wait, in order of arrival, until a slot frees on a later turn. Nobody
is refused: a burst is only spread out.

A slot is held only while the server has work to do for the connection: a request that arrives in
pieces gives its slot back between them, so a client that opens a socket and sends half a request
(or nothing) never keeps anyone else waiting.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

from websockets.asyncio.server import ServerConnection


class HandshakeGate:
    """At most ``cap`` slots taken; a freed slot goes to the oldest waiter, on the next loop turn."""

    def __init__(self, cap: int) -> None:
        if cap < 1:
            raise ValueError(f"the handshake cap must be at least 1, not {cap}")
        self.cap = cap
        self.busy = 0  # slots taken (including those handed to a waiter not yet run)
        self.most = 0  # the most slots taken at once since the start
        self.waited = 0  # connections that had to wait for a slot
        self._waiting: deque[Callable[[], None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def acquire(self) -> bool:
        """A slot now, or False (then ``wait``)."""
        if self.busy >= self.cap or self._waiting:
            return False
        self.busy += 1
        self.most = max(self.most, self.busy)
        return True

    def wait(self, admit: Callable[[], None]) -> None:
        """``admit`` is called (from the event loop, on a later turn) holding a slot it must release."""
        self.waited += 1
        self._waiting.append(admit)

    def release(self) -> None:
        if self._waiting:  # the slot passes on: a turn later, so one turn never runs two generations
            asyncio.get_running_loop().call_soon(self._waiting.popleft())
        else:
            self.busy -= 1


class GatedConnection(ServerConnection):
    """A websocket server connection whose opening handshake goes through ``gate`` (set on a subclass
    per server: see ``gated``)."""

    gate: ClassVar[HandshakeGate]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slot = False  # holds a slot of the gate
        self._opened = False  # the handshake is over: frames pass straight through
        self._held: list[bytes] | None = None  # bytes waiting for a slot (reading paused)
        self._lost = False

    def data_received(self, data: bytes) -> None:
        if self._opened or self._slot:
            super().data_received(data)
        elif self._held is not None:  # already read when reading was paused
            self._held.append(data)
        elif self.gate.acquire():
            self._slot = True
            super().data_received(data)
        else:
            self._held = [data]
            self.transport.pause_reading()
            self.gate.wait(self._admit)
            return
        self._done_for_now()

    def _admit(self) -> None:
        """Run by the gate with a slot taken for this connection."""
        self._slot = True
        data = b"".join(self._held or ())
        self._held = None
        if self._lost:
            self._release()
            return
        self.transport.resume_reading()
        super().data_received(data)
        self._done_for_now()

    def _done_for_now(self) -> None:
        """A request not yet whole gives its slot back: the next bytes come when the client sends them."""
        if self._slot and not self._opened and self.request is None and not self._lost:
            self._release()

    def _release(self) -> None:
        if self._slot:
            self._slot = False
            self.gate.release()

    async def handshake(self, *args: Any, **kwargs: Any) -> None:
        try:
            await super().handshake(*args, **kwargs)
        finally:
            self._opened = True
            self._release()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._release()
        super().connection_lost(exc)


def gated(gate: HandshakeGate) -> type[GatedConnection]:
    """The connection class of one server (``serve(create_connection=...)``)."""
    return type("GatedConnection", (GatedConnection,), {"gate": gate})


class SendPacer:
    """At most about ``per_turn`` backlogged messages written per turn of the event loop, across every
    client. A writer yields after each message, but 500 writers each with a catch-up to send (a
    reconnect storm) all run in every turn: 500 sends, tens of milliseconds, in one turn. A writer with
    more to send asks for a turn's share here first; the waiters are let through in order, ``per_turn``
    a turn. A client's first message after a quiet spell (a live screen pop) does not wait."""

    def __init__(self, per_turn: int) -> None:
        if per_turn < 1:
            raise ValueError(f"the sends per turn must be at least 1, not {per_turn}")
        self.per_turn = per_turn
        self.waited = 0  # times a writer waited for a later turn
        self._used = 0
        self._armed = False
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def share(self) -> None:
        if self._used < self.per_turn and not self._waiting:
            self._used += 1
            self._arm()
            return
        self.waited += 1
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        self._arm()
        await future

    def _arm(self) -> None:
        if not self._armed:
            self._armed = True
            asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        self._armed = False
        self._used = 0
        while self._waiting and self._used < self.per_turn:
            future = self._waiting.popleft()
            if not future.done():  # a cancelled waiter (its client went away) takes no share
                future.set_result(None)
                self._used += 1
        if self._waiting or self._used:
            self._arm()
