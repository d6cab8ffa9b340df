"""Sans-I/O AMI codec: bytes in, messages out; messages in, bytes out. No sockets, no asyncio.

Theory of operation (the rules Asterisk's manager.c follows, and which this module enforces):

1. On connect the server sends a banner line, ``Asterisk Call Manager/<ver>`` + CRLF, with no blank line
   after it. A client-side decoder (``expect_banner=True``) reads it first.
2. Every message is ``Key: Value`` lines, each ended by CRLF, and the message is closed by an empty line
   (CRLF CRLF). Asterisk always writes the space after the colon, even for an empty value: an empty last
   header (``Value: ``) is a real header and is kept.
3. Bytes are buffered and only a *complete* message is decoded, so a UTF-8 character split across TCP
   reads is never lost (panoramisk 1.4 decodes each chunk alone with ``errors='ignore'``).
4. Repeated headers (``ChanVariable``, ``Variable``, ``Output``) are an ordered list: ``getall``.
5. Malformed input never raises: it is reported in ``take_errors()`` and the decoder carries on with the
   next message. Undecodable bytes are replaced (U+FFFD) and reported; nothing else of the message is lost.
6. Input is bounded while it is read, in constant memory: a line, a message's lines and a message's bytes
   (``Limits``). Asterisk's manager.c bounds what it reads from a client to lines of 1024 bytes
   (``char inbuf[1025]``) and 128 lines a message (``AST_MAX_MANHEADERS``): ``ASTERISK_LIMITS``. What
   Asterisk writes has no limit of its own (a caller-ID name is as long as the caller sends it), so the
   client reads with those limits widened (``DEFAULT_LIMITS``: 16 KiB lines, 1024 lines, 1 MiB), far over
   anything the real transcripts hold (100-byte lines, 42 lines, 1.3 KB). A message over a limit is
   reported and skipped up to its blank line without being held: a 200 MB line costs no memory.
7. Problems quote the input only through ``excerpt``: control characters (CR, LF, ESC...) are escaped,
   never copied into a log line or a terminal.
8. A client-side stream that shows no banner line (no CRLF within a line's limit, or none before its end)
   is reported in ``no_banner``: ``cti replay`` fails on it with a clear message.
9. ``CallerIDName``-like values and VarSet ``Value`` are C-escaped by Asterisk (``\\'``, ``\\"``, ``\\\\``,
   ``\\n``): ``unescape`` undoes that. The translator applies it; the codec keeps raw values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import repeat

BANNER_PREFIX = "Asterisk Call Manager/"
_SEP = b"\r\n\r\n"
_BANNER_B = BANNER_PREFIX.encode()
# A well-formed message: every line "Key: Value" (key non-empty, without ':' or CR/LF), no blank line.
# Checked as "the first line is good and no later line is bad": two searches the re engine anchors on
# literal text, several times faster than one pattern alternating on ^.
_GOOD_FIRST = re.compile(r"[^\r\n:]+: ")
_BAD_NEXT = re.compile(r"\r\n(?![^\r\n:]+: )")
# The same over the raw bytes of a block of messages joined by CRLFCRLF: a blank line is allowed, but not
# two in a row. This runs on every line of the stream, so it is tuned for the re engine: bytes (one byte a
# character; a UTF-8 key is non-ASCII bytes, all in the class), the key class spelled as byte ranges (a
# bitmap, cheaper per byte than the negated list [^\r\n:]), matched possessively (it holds no ':', so
# it never gives back), and anchored on LF alone. A bare LF inside a value then sends its block to the
# careful per-message path below, which reads it exactly as this fast path would have.
_KEY_B = rb"[\x00-\x09\x0b\x0c\x0e-\x39\x3b-\xff]"  # any byte but CR, LF and ':'
_GOOD_FIRST_B = re.compile(_KEY_B + rb"+: ")
_BAD_IN_BLOCK_B = re.compile(rb"\n(?!" + _KEY_B + rb"++: |\r\n(?!\r\n))")


@dataclass(frozen=True, slots=True)
class Limits:
    line_bytes: int  # bytes in one line, CRLF excluded
    lines: int  # lines in one message
    message_bytes: int  # bytes in one message


ASTERISK_LIMITS = Limits(line_bytes=1024, lines=128, message_bytes=1024 * 128)  # manager.c, what it reads
DEFAULT_LIMITS = Limits(line_bytes=16 * 1024, lines=1024, message_bytes=1024 * 1024)  # rule 6
DEFAULT_MAX_MESSAGE_BYTES = DEFAULT_LIMITS.message_bytes


def excerpt(raw: bytes | str, limit: int = 120) -> str:
    """At most ``limit`` characters of ``raw`` for a log line: undecodable bytes replaced, control and
    other unprintable characters (CR, LF, ESC, bidi overrides) escaped as ``\\r``, ``\\x1b``..."""
    text = raw[:limit] if isinstance(raw, str) else raw[: limit * 4].decode("utf-8", "replace")[:limit]
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass(frozen=True, slots=True)
class AmiProblem:
    """Something malformed in the input stream. ``raw`` is a bounded excerpt for the log."""

    reason: str
    raw: str


class Message:
    """One AMI message: an ordered list of headers, with dict-like access to the first value of a key.

    A decoder hands out messages whose text was checked well-formed but is split into headers only when
    first read (``headers``, ``map``, ``get``...): most events a tracker receives are skipped on their
    name alone, so they are never split. ``event`` and ``peek`` read the text without splitting it.
    """

    __slots__ = ("_ci", "_headers", "_map", "_text")

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self._headers: list[tuple[str, str]] | None = headers
        self._map: dict[str, str] | None = None
        self._text: str | None = None
        self._ci: dict[str, str] | None = None

    @classmethod
    def from_text(cls, text: str) -> Message:
        """A message from its text: lines ``Key: Value`` joined by CRLF (no blank line), split when read.

        Text with a line that is not ``Key: Value`` gets the same headers, split at once."""
        if _GOOD_FIRST.match(text) is None or _BAD_NEXT.search(text) is not None:
            return cls(_pairs(text))
        msg = cls.__new__(cls)
        msg._headers = None
        msg._map = None
        msg._text = text
        msg._ci = None
        return msg

    @property
    def headers(self) -> list[tuple[str, str]]:
        h = self._headers
        if h is None:
            assert self._text is not None
            h = self._headers = _pairs(self._text)
        return h

    @property
    def map(self) -> dict[str, str]:
        m = self._map
        if m is None:
            text = self._text
            if text is not None and self._headers is None:
                m = _text_map(text)
            else:
                headers = self.headers
                m = dict(headers)
                if len(m) != len(headers):
                    m = _first_values(headers)
            self._map = m
        return m

    def peek(self, key: str) -> str | None:
        """The first value of ``key`` (exact case), read without splitting the message."""
        text = self._text
        if text is None or self._map is not None:
            return self.map.get(key)
        n = len(key)
        if text.startswith(key) and text.startswith(": ", n):
            start = n + 2
        else:
            i = text.find(f"\r\n{key}: ")
            if i < 0:
                return None
            start = i + n + 4
        end = text.find("\r\n", start)
        return text[start:] if end < 0 else text[start:end]

    def mentions(self, fragment: str) -> bool:
        """False when ``fragment`` is in no header name or value: a test cheaper than ``peek`` (one scan of
        the raw text) to pass over, unsplit, the messages that cannot have the value a reader looks for."""
        text = self._text
        if text is not None:
            return fragment in text
        return any(fragment in k or fragment in v for k, v in self.headers)

    @classmethod
    def of(cls, *pairs: tuple[str, str], **headers: str) -> Message:
        return cls([*pairs, *headers.items()])

    def get(self, key: str, default: str | None = None) -> str | None:
        v = self.map.get(key)
        if v is not None:
            return v
        ci = self._ci
        if ci is None:
            ci = self._ci = {}
            for k, val in self.headers:
                ci.setdefault(k.lower(), val)
        return ci.get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        v = self.get(key)
        if v is None:
            raise KeyError(key)
        return v

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def getall(self, key: str) -> list[str]:
        lk = key.lower()
        return [v for k, v in self.headers if k.lower() == lk]

    @property
    def event(self) -> str | None:
        text = self._text
        if text is not None and text.startswith("Event: "):
            end = text.find("\r\n")
            return text[7:] if end < 0 else text[7:end]
        return self.map.get("Event")

    @property
    def response(self) -> str | None:
        return self.map.get("Response")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def as_dict(self) -> dict[str, str]:
        return dict(self.map)

    def __repr__(self) -> str:
        return f"Message({self.headers!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return False
        if self._text is not None and other._text is not None:
            return self._text == other._text
        return other.headers == self.headers

    __hash__ = None  # type: ignore[assignment]


def _lazy(text: str, new: Callable[[type[Message]], Message] = object.__new__) -> Message:
    """``Message.from_text`` without the class-method call: the decoder makes one per message."""
    msg = new(Message)
    msg._headers = None
    msg._map = None
    msg._text = text
    msg._ci = None
    return msg


def _pairs(text: str) -> list[tuple[str, str]]:
    return [(k, v) for k, _, v in map(str.partition, text.split("\r\n"), repeat(": "))]


def _text_map(text: str) -> dict[str, str]:
    """The map of a lazy message, straight from its text (the tracker reads most messages through ``map``
    alone, so no list of pairs is made). Every line was checked to start ``Key: ``: when the text holds
    one ": " a line, the text cut at every ": " and CRLF alternates keys and values, all in C."""
    lines = text.count("\r\n") + 1
    parts = text.replace("\r\n", ": ").split(": ")
    if len(parts) == 2 * lines:
        it = iter(parts)
        m = dict(zip(it, it, strict=False))  # an even count: pairs
    else:  # some value holds ": ": cut each line at its first one
        m = dict(map(str.split, text.split("\r\n"), repeat(": "), repeat(1)))
    if len(m) != lines:
        m = _first_values(_pairs(text))  # a repeated key: the map keeps its first value
    return m


def _first_values(headers: list[tuple[str, str]]) -> dict[str, str]:
    m: dict[str, str] = {}
    for k, v in headers:
        if k not in m:
            m[k] = v
    return m


def _longest_line(raw: bytes) -> int:
    """The length of the longest line of ``raw``, its CR excluded (a line ends at LF, as in manager.c)."""
    return max(len(line) - line.endswith(b"\r") for line in raw.split(b"\n"))


class AmiDecoder:
    """Feed bytes with ``receive_data``; get complete messages back, in order."""

    def __init__(
        self,
        *,
        expect_banner: bool = True,
        max_message_bytes: int | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        if max_message_bytes is not None:
            limits = Limits(min(limits.line_bytes, max_message_bytes), limits.lines, max_message_bytes)
        self._buf = bytearray()
        self._expect_banner = expect_banner
        self.limits = limits
        self._max = limits.message_bytes
        self._max_line = limits.line_bytes
        self._max_lines = limits.lines
        # a message this short is within every limit: its lines (at most len/2 + 1 of them) included
        self._quick = min(limits.line_bytes, limits.message_bytes, 2 * limits.lines - 2)
        self._nl = 0  # line feeds in the buffer (the message still incomplete)
        self._last_nl = -1  # index of the buffer's last line feed
        self._errors: list[AmiProblem] = []
        self._discarding = False  # inside an oversized message: drop bytes until its end
        self._tail = b""  # while discarding: the last bytes seen, a separator may straddle two reads
        self.banner: str | None = None
        self.no_banner: str | None = None  # why the stream has no banner line (rule 8)
        self.bytes_received = 0
        self.messages_decoded = 0

    def take_errors(self) -> list[AmiProblem]:
        errs, self._errors = self._errors, []
        return errs

    def _problem(self, reason: str, raw: bytes | str) -> None:
        self._errors.append(AmiProblem(reason, excerpt(raw)))

    def finish(self) -> list[AmiProblem]:
        """The end of the stream: what it left unfinished (no banner, a message cut off), as problems."""
        if self._expect_banner and self.banner is None:
            self.no_banner = "the stream ended before the AMI banner line (no CRLF)"
            self.banner = ""
        elif self._buf.strip(b"\r\n"):
            self._problem(
                f"the stream ended inside a message ({len(self._buf)} bytes)", bytes(self._buf[:120])
            )
        self._buf.clear()
        return self.take_errors()

    def _skip(self, data: bytes) -> bytes:
        """While discarding: what follows the end of the discarded message in ``data`` (held: 3 bytes)."""
        joined = self._tail + data
        end = joined.find(_SEP)
        if end < 0:
            self._tail = joined[-3:]
            return b""
        self._discarding = False
        self._tail = b""
        return joined[end + 4 :]

    def _discard(self, reason: str) -> None:
        buf = self._buf
        self._problem(f"{reason}: skipped to the end of the message", bytes(buf[:120]))
        buf.clear()
        self._nl, self._last_nl = 0, -1
        self._discarding = True

    def _check_partial(self, since: int) -> None:
        """Bound the message still incomplete at the end of the buffer (its bytes from ``since`` on were
        not counted yet): each read is counted once, whatever the size of the message."""
        buf = self._buf
        self._nl += buf.count(b"\n", since)
        last = buf.rfind(b"\n", since)
        if last >= 0:
            self._last_nl = last
        if len(buf) > self._max:
            self._discard(f"message longer than {self._max} bytes")
        elif len(buf) - self._last_nl - 2 > self._max_line:  # - 2: its CR may have come already
            self._discard(f"line longer than {self._max_line} bytes")
        elif self._nl > self._max_lines:
            self._discard(f"message of more than {self._max_lines} lines")

    def _bounded(self, texts: list[str]) -> list[str]:
        """``texts`` without the messages over a limit (reported)."""
        kept: list[str] = []
        for text in texts:
            if len(text) <= self._quick:
                kept.append(text)
                continue
            raw = text.encode("utf-8", "surrogateescape")
            if len(raw) > self._max:
                self._problem(f"message longer than {self._max} bytes, skipped", raw)
            elif text.count("\n") + 1 > self._max_lines:
                self._problem(f"message of more than {self._max_lines} lines, skipped", raw)
            elif len(raw) > self._max_line and _longest_line(raw) > self._max_line:
                self._problem(f"line longer than {self._max_line} bytes, skipped", raw)
            else:
                kept.append(text)
        return kept

    def receive_data(self, data: bytes) -> list[Message]:
        self.bytes_received += len(data)
        out: list[Message] = []
        if self._discarding:
            data = self._skip(data)
            if not data:
                return out
        buf = self._buf
        since = len(buf)
        buf += data
        if self._expect_banner and self.banner is None:
            if not self._read_banner():
                return out
            since = 0
            if self._discarding:
                return out
        # the buffer before ``since`` held no separator: look for one from there on only
        end = buf.rfind(_SEP, max(0, since - 3))
        if end >= 0:
            # Every complete message at once: the separator is ASCII, so the block never ends inside a
            # UTF-8 character and can be decoded whole (rule 3). Bad UTF-8 falls back to per-message.
            block = bytes(buf[:end])
            del buf[: end + 4]
            try:
                text = block.decode("utf-8")
            except UnicodeDecodeError:
                texts = self._bounded([self._text(raw) for raw in block.split(_SEP)])
            else:
                texts = text.split("\r\n\r\n")
                if max(map(len, texts)) > self._quick:
                    texts = self._bounded(texts)
                if _GOOD_FIRST_B.match(block) and _BAD_IN_BLOCK_B.search(block) is None:
                    # the usual case: every message well formed, checked in one pass over the block
                    out = list(map(_lazy, texts))
                    texts = []
            append = out.append
            good_first = _GOOD_FIRST.match
            bad_next = _BAD_NEXT.search
            lazy = _lazy
            for text in texts:
                if good_first(text) is not None and bad_next(text) is None:
                    append(lazy(text))
                else:
                    msg = self._parse(text.split("\r\n"))  # blank or malformed lines: the careful path
                    if msg is not None:
                        append(msg)
            self._nl, self._last_nl = 0, -1
            since = 0
        self._check_partial(since)
        self.messages_decoded += len(out)
        return out

    def _text(self, chunk: bytes) -> str:
        try:
            return chunk.decode("utf-8")
        except UnicodeDecodeError:
            self._problem("invalid UTF-8 replaced with U+FFFD", chunk)
            return chunk.decode("utf-8", "replace")

    def _read_banner(self) -> bool:
        buf = self._buf
        nl = buf.find(b"\r\n")
        if nl < 0:
            if len(buf) >= len(_BANNER_B) and not buf.startswith(_BANNER_B):
                # Not a banner at all: report it and decode the stream as messages.
                self._problem("stream does not start with the AMI banner", bytes(buf[:200]))
                self.banner = ""
                return True
            if len(buf) > self._max_line:  # rule 8: a banner that never ends is no banner
                self.no_banner = f"no AMI banner: no line end (CRLF) in the first {self._max_line} bytes"
                self.banner = ""
                self._discard(self.no_banner)
                return True
            return False
        line = bytes(buf[:nl])
        if line.startswith(_BANNER_B):
            self.banner = line.decode("utf-8", "replace")
            del buf[: nl + 2]
        else:
            self._problem("stream does not start with the AMI banner", line)
            self.banner = ""
        return True

    def _parse(self, lines: list[str]) -> Message | None:
        headers: list[tuple[str, str]] = []
        append = headers.append
        for line in lines:
            if not line:
                continue  # stray blank line between messages (e.g. after a banner sent with CRLFCRLF)
            k, sep, v = line.partition(": ")
            if not sep or not k:
                k, sep, v = line.partition(":")
                if not sep or not k:
                    self._problem("header line without 'Key: Value'", line)
                    continue
            append((k, v))
        if not headers:
            return None
        return Message(headers)


def encode(headers: Mapping[str, str] | Iterable[tuple[str, str]] | Message) -> bytes:
    """Serialise one message. CR or LF inside a key or value is refused: it would inject headers."""
    if isinstance(headers, Message):
        items: Iterable[tuple[str, str]] = headers.headers
    elif isinstance(headers, Mapping):
        items = headers.items()
    else:
        items = headers
    parts: list[str] = []
    for k, v in items:
        v = str(v)
        if "\r" in k or "\n" in k or ":" in k or not k:
            raise ValueError(f"invalid AMI header name {k!r}")
        if "\r" in v or "\n" in v:
            raise ValueError(f"AMI header {k} contains a line break")
        parts.append(f"{k}: {v}\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("utf-8")


def banner(version: str = "13.0.0") -> bytes:
    return f"{BANNER_PREFIX}{version}\r\n".encode()


_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'", "?": "?", "a": "\a"}


def unescape(value: str) -> str:
    """Undo Asterisk's C escaping (ast_escape_c) of names and variable values."""
    if "\\" not in value:
        return value
    out: list[str] = []
    it: Iterator[str] = iter(value)
    for ch in it:
        if ch != "\\":
            out.append(ch)
            continue
        nxt = next(it, None)
        if nxt is None:
            out.append("\\")
        else:
            out.append(_UNESCAPES.get(nxt, "\\" + nxt))
    return "".join(out)


def escape(value: str) -> str:
    """Asterisk's C escaping, as the simulator must write names and values."""
    if not any(c in value for c in "\\\"'\n\r\t\a"):
        return value
    rev = {v: k for k, v in _UNESCAPES.items() if k != "?"}
    return "".join("\\" + rev[c] if c in rev else c for c in value)


def is_list_complete(msg: Message) -> bool:
    """A list reply ends on ``EventList: Complete`` (never guessed from the message text)."""
    v = msg.map.get("EventList")
    return v is not None and v.lower() == "complete"
