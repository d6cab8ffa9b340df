"""One AMI client session of the simulator, speaking the manager protocol as Asterisk's manager.c does.

Rules enforced here (each from main/manager.c and checked against the shared transcripts):

1. On connect: the banner ``Asterisk Call Manager/<version>`` and one CRLF, no blank line.
2. Input is read per line; CRLF or a bare LF ends a line. A line longer than 1024 bytes is dropped
   and the message answered ``Failed to parse message: line too long``; a 129th line gives
   ``Too many lines in message or allocation failure``. Neither runs the action. An empty message
   gives ``Missing action in request``. Bytes that are not UTF-8 are replaced, never fatal.
3. Before login only Login, Challenge and Logoff run; anything else is ``Permission denied``.
   Bad credentials: wait 1 s, ``Authentication failed``, close. MD5: ``Challenge`` then ``Login``
   with ``Key = md5(challenge + secret)``.
4. A response always echoes the ActionID as its second header. Events raised while an action runs
   are written after its response (never inside it); list items follow the ``EventList: start``
   response and end with ``<Name>Complete``, ``EventList: Complete``, ``ListItems``.
5. Asynchronous events pass the session's event mask (Login ``Events``, the ``Events`` action), the
   user's read classes and the session's ``Filter`` rules; responses and list items always pass.
6. A client that stops reading is dropped once its unsent output passes ``max_backlog`` bytes,
   as Asterisk drops a client that blocks it longer than writetimeout.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from cti.asterisk.ami import Message, banner, encode

if TYPE_CHECKING:
    from cti.sim.server import SimServer

MAX_LINE = 1024
MAX_LINES = 128
CATEGORIES = (
    "system",
    "call",
    "log",
    "verbose",
    "command",
    "agent",
    "user",
    "config",
    "dtmf",
    "reporting",
    "cdr",
    "dialplan",
    "originate",
    "agi",
    "cc",
    "aoc",
    "test",
    "security",
    "message",
)
Headers = list[tuple[str, str]]


def parse_mask(value: str) -> frozenset[str] | None:
    """An ``Events``/``EventMask`` value as a set of classes; None when it is not a valid mask."""
    v = value.strip().lower()
    if not v:
        return None
    if v in ("on", "yes", "true", "all"):
        return frozenset(CATEGORIES)
    if v in ("off", "no", "false", "none"):
        return frozenset()
    if v.isdigit():
        n = int(v)
        return frozenset(c for i, c in enumerate(CATEGORIES) if n & (1 << i))
    return frozenset(p.strip() for p in v.split(",") if p.strip() in CATEGORIES)


def _expand(classes: frozenset[str]) -> frozenset[str]:
    return frozenset(CATEGORIES) if "all" in classes else classes


class LineReader:
    """Split input into messages of header lines, enforcing Asterisk's 1024-byte/128-line limits."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._lines: list[str] = []
        self._error: str | None = None
        self._discarding = False

    def feed(self, data: bytes) -> list[tuple[list[str], str | None]]:
        """Return complete messages as (lines, error); error is Asterisk's text when it refused one."""
        out: list[tuple[list[str], str | None]] = []
        buf = self._buf
        buf += data
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                if len(buf) - start > MAX_LINE:  # a line longer than the input buffer: drop it
                    self._discarding = True
                    self._error = "Failed to parse message: line too long"
                    start = len(buf)
                break
            raw = bytes(buf[start:nl])
            start = nl + 1
            if self._discarding:
                self._discarding = False
                continue
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if len(raw) > MAX_LINE:
                self._error = "Failed to parse message: line too long"
                continue
            if not raw:
                lines, err = self._lines, self._error
                self._lines, self._error = [], None
                out.append((lines, err))
                continue
            if len(self._lines) >= MAX_LINES:
                self._error = self._error or "Too many lines in message or allocation failure"
                continue
            self._lines.append(raw.decode("utf-8", "replace"))
        del buf[:start]
        return out


def to_message(lines: list[str]) -> Message:
    """Header lines as a Message. A stray CR inside a line (not a line end) becomes a space: echoed
    back in an event (UserEvent) it would otherwise split the header."""
    headers: Headers = []
    for line in lines:
        if "\r" in line:
            line = line.replace("\r", " ")
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            continue
        headers.append((key.strip(), value.lstrip(" \t")))
    return Message(headers)


class AmiSession(asyncio.Protocol):
    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.reader = LineReader()
        self.authenticated = False
        self.username = ""
        self.read_classes: frozenset[str] = frozenset()
        self.write_classes: frozenset[str] = frozenset()
        self.mask: frozenset[str] = frozenset()
        self.challenge: str | None = None
        self.filters: list[tuple[bool, re.Pattern[str]]] = []
        self.closing = False
        self.busy = False
        self.close_after = False
        self.waiting = False
        self._inbox: deque[tuple[list[str], str | None]] = deque()
        self._held: list[bytes] = []
        self._blocked = False  # waiting out the failed-login delay
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self.peer = ("", 0)
        self.started = 0.0

    # ------------------------------------------------------------------ transport
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer = transport.get_extra_info("peername") or ("", 0)
        self.started = self.server.pbx.now
        transport.write(banner(self.server.scenario.version))
        self.server.sessions.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.sessions.discard(self)

    def data_received(self, data: bytes) -> None:
        if self._blocked or self.closing:
            return  # a failed login: Asterisk reads nothing more before it closes
        self._inbox.extend(self.reader.feed(data))
        self._drain()

    def _drain(self) -> None:
        """Run the queued actions in order; a synchronous Originate holds the rest until it ends."""
        while self._inbox and not (self.closing or self._blocked or self.waiting):
            lines, error = self._inbox.popleft()
            try:
                self.handle(lines, error)
            except Exception as e:  # never let a bug in one action take the server down
                self.server.log_problem(f"session {self.peer}: {type(e).__name__}: {e}")
                self.write([("Response", "Error"), ("Message", "Internal error")])

    def begin_wait(self) -> None:
        """A synchronous Originate: no response, no events, no other action until it ends."""
        self.waiting = True

    def end_wait(self, reply: Headers, aid: str | None) -> None:
        self.write(with_action_id(reply, aid))
        self.waiting = False
        self.busy = False
        held, self._held = self._held, []
        for data in held:
            self.write_raw(data)
        asyncio.get_running_loop().call_soon(self._drain)

    def write(self, headers: Headers) -> None:
        self.write_raw(encode(headers))

    def write_raw(self, data: bytes) -> None:
        """Queue output; it goes out in one write per loop turn (one syscall, not one per event)."""
        if self.transport is None or self.closing:
            return
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        t = self.transport
        out, self._out = self._out, []
        if t is None or t.is_closing() or not out:
            return
        if t.get_write_buffer_size() > self.server.max_backlog:
            self.server.log_problem(f"session {self.peer}: slow reader dropped")
            self.abort()
            return
        t.write(b"".join(out))

    def close(self) -> None:
        """Close once the output already written is sent (Logoff, a failed login)."""
        self._flush()
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection now (server stop, a client that stopped reading)."""
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    # ------------------------------------------------------------------ events
    def wants(self, category: str, headers: Headers, text: bytes) -> bool:
        if not self.authenticated or category not in self.mask or category not in self.read_classes:
            return False
        if self.filters:
            decoded = text.decode("utf-8", "replace")
            includes = [rx for inc, rx in self.filters if inc]
            excludes = [rx for inc, rx in self.filters if not inc]
            if includes and not any(rx.search(decoded) for rx in includes):
                return False
            if any(rx.search(decoded) for rx in excludes):
                return False
        return True

    def deliver(self, data: bytes) -> None:
        if self.busy:
            self._held.append(data)
        else:
            self.write_raw(data)

    # ------------------------------------------------------------------ actions
    def handle(self, lines: list[str], error: str | None) -> None:
        msg = to_message(lines)
        aid = msg.get("ActionID")
        if error is not None:
            self.respond_error(aid, error)
            return
        action = (msg.get("Action") or "").strip()
        if not action:
            self.respond_error(aid, "Missing action in request")
            return
        name = action.lower()
        if not self.authenticated and name not in ("login", "challenge", "logoff"):
            self.respond_error(aid, "Permission denied")
            return
        handler = self.server.actions.get(name)
        if handler is None:
            self.respond_error(
                aid,
                f"Invalid/unknown command: {action}. Use Action: ListCommands to show available commands.",
            )
            self.server.security_event(
                self, "RequestBadFormat", "Error", [("RequestType", f"Action: {action}")]
            )
            return
        needed = ACTION_CLASSES.get(name)
        if needed and not (needed & _expand(self.write_classes)):
            self.respond_error(aid, "Permission denied")
            return
        self.server.before_action()
        self.busy = True
        try:
            replies = handler(self, msg)
        except Exception as e:
            self.server.log_problem(f"action {action}: {type(e).__name__}: {e}")
            replies = [[("Response", "Error"), ("Message", "Internal error")]]
        finally:
            self.busy = self.waiting
        if self.waiting:
            return  # end_wait writes the response and the held events
        for r in replies:
            self.write(with_action_id(r, aid) if r and r[0][0] == "Response" else r)
        held, self._held = self._held, []
        for data in held:
            self.write_raw(data)
        if self.close_after:
            self.close()
        self.server.after_action()

    def respond_error(self, aid: str | None, message: str) -> None:
        self.write(with_action_id([("Response", "Error"), ("Message", message)], aid))

    def login_failed(self, aid: str | None) -> None:
        """Asterisk sleeps 1 s, answers Authentication failed, and closes the session."""
        self._blocked = True

        def finish() -> None:
            self.respond_error(aid, "Authentication failed")
            self.close()

        asyncio.get_running_loop().call_later(self.server.auth_fail_delay, finish)

    def check_login(self, msg: Message) -> bool:
        user = self.server.users.get(msg.get("Username") or "")
        if user is None:
            return False
        if (msg.get("AuthType") or "").lower() == "md5":
            if self.challenge is None:
                return False
            expected = hashlib.md5((self.challenge + user.secret).encode()).hexdigest()
            return (msg.get("Key") or "").lower() == expected
        return msg.get("Secret") == user.secret


def with_action_id(headers: Headers, aid: str | None) -> Headers:
    """Asterisk puts the ActionID second, right after Response."""
    if aid is None or any(k == "ActionID" for k, _ in headers):
        return headers
    return [headers[0], ("ActionID", aid), *headers[1:]]


# The write class an action needs (one overlapping class with the user's write= is enough).
ACTION_CLASSES: dict[str, frozenset[str]] = {
    "originate": frozenset({"originate"}),
    "redirect": frozenset({"call"}),
    "hangup": frozenset({"system", "call"}),
    "setvar": frozenset({"call"}),
    "getvar": frozenset({"call", "reporting"}),
    "queueadd": frozenset({"agent"}),
    "queueremove": frozenset({"agent"}),
    "queuepause": frozenset({"agent"}),
    "queuepenalty": frozenset({"agent"}),
    "blindtransfer": frozenset({"call"}),
    "userevent": frozenset({"user"}),
    "filter": frozenset({"system"}),
    "command": frozenset({"command"}),
    "coreshowchannels": frozenset({"system", "reporting"}),
    "status": frozenset({"system", "call", "reporting"}),
}

Handler = Callable[[AmiSession, Message], list[Headers]]
