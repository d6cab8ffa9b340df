"""The websocket API's client messages: JSON text in, typed commands out. Pure.

Every client message is a JSON object with a ``type`` and an optional ``ref`` (any short string or
integer the client chooses; the reply to the command carries it back, of the same JSON type).
Anything else is refused with a ``ProtocolError`` whose ``code`` the server sends back in an ``error``
message; the connection stays open. See docs/websocket-protocol.md for the whole protocol.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from cti.core.errors import ProtocolError
from cti.routing.policy import PolicyError, check_skill

VERSION = 1
MAX_TEXT = 200  # user names, reasons, numbers, targets
MAX_NOTES = 4000

TRANSFER_KINDS = ("agent", "queue", "number")
# what may be dialled or transferred to: digits with an optional leading +, *, # (no dialplan injection)
_NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")
# agent member names and queue names: no AMI/dialplan metacharacters
_NAME = re.compile(r"^[\w .@'-]{1,80}$", re.UNICODE)
Ref = str | int  # a command's ``ref``, echoed in its reply exactly as the client sent it


class BadMessage(ProtocolError):
    def __init__(self, code: str, message: str, ref: Ref | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


@dataclass(frozen=True, slots=True)
class Command:
    ref: Ref | None


@dataclass(frozen=True, slots=True)
class Login(Command):
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class Resume(Command):
    token: str
    session: str | None
    last_seq: int | None


@dataclass(frozen=True, slots=True)
class Ping(Command):
    pass


@dataclass(frozen=True, slots=True)
class Ready(Command):
    agent: str | None  # supervisors may act for an agent


@dataclass(frozen=True, slots=True)
class Pause(Command):
    reason: str
    agent: str | None


@dataclass(frozen=True, slots=True)
class Logout(Command):
    agent: str | None


@dataclass(frozen=True, slots=True)
class Hangup(Command):
    linkedid: str


@dataclass(frozen=True, slots=True)
class Transfer(Command):
    linkedid: str
    to: str  # "agent", "queue" or "number"
    target: str


@dataclass(frozen=True, slots=True)
class Dial(Command):
    number: str


@dataclass(frozen=True, slots=True)
class Disposition(Command):
    linkedid: str
    disposition: str
    notes: str


@dataclass(frozen=True, slots=True)
class SetSkills(Command):
    agent: str
    skills: dict[str, int]


@dataclass(frozen=True, slots=True)
class EndWrapup(Command):
    agent: str | None


MAX_SKILLS = 50


class _Fields:
    def __init__(self, raw: dict[str, Any], ref: Ref | None) -> None:
        self.raw = raw
        self.ref = ref

    def text(
        self,
        key: str,
        *,
        limit: int = MAX_TEXT,
        required: bool = True,
        empty: bool = False,
        lines: bool = False,
    ) -> str:
        value = self.raw.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str):
            raise BadMessage("bad_field", f"{key!r} must be a string", self.ref)
        if len(value) > limit:
            raise BadMessage("bad_field", f"{key!r} is longer than {limit} characters", self.ref)
        if not value and not empty:
            raise BadMessage("bad_field", f"{key!r} must not be empty", self.ref)
        if "\x00" in value or (not lines and ("\r" in value or "\n" in value)):
            raise BadMessage("bad_field", f"{key!r} must be a single line", self.ref)
        return value

    def optional(self, key: str) -> str | None:
        return self.text(key) if self.raw.get(key) is not None else None

    def name(self, key: str, *, required: bool = True) -> str | None:
        if not required and self.raw.get(key) is None:
            return None
        value = self.text(key)
        if not _NAME.match(value):
            raise BadMessage("bad_field", f"{key!r} has characters that are not allowed", self.ref)
        return value

    def skills(self, key: str) -> dict[str, int]:
        value = self.raw.get(key)
        if not isinstance(value, dict) or len(value) > MAX_SKILLS:
            raise BadMessage(
                "bad_field", f"{key!r} must be an object of at most {MAX_SKILLS} skills", self.ref
            )
        out: dict[str, int] = {}
        for name, level in value.items():
            if isinstance(level, bool) or not isinstance(level, int):
                raise BadMessage(
                    "bad_field", f"the level of skill {name[:40]!r} must be a whole number", self.ref
                )
            try:
                check_skill(name, level)
            except PolicyError as e:
                raise BadMessage("bad_field", e.reason, self.ref) from None
            out[name] = level
        return out

    def number(self, key: str) -> str:
        value = self.text(key, limit=40).replace(" ", "").replace("-", "")
        if not _NUMBER.match(value):
            raise BadMessage("bad_field", f"{key!r} is not a phone number", self.ref)
        return value


def parse(text: str | bytes) -> Command:
    if isinstance(text, bytes):
        raise BadMessage("bad_json", "binary frames are not accepted: send JSON text")
    try:
        raw = json.loads(text)
    except ValueError:
        raise BadMessage("bad_json", "not JSON") from None
    if not isinstance(raw, dict):
        raise BadMessage("bad_json", "a message is a JSON object")
    ref = raw.get("ref")
    if ref is not None and (isinstance(ref, bool) or not isinstance(ref, str | int) or len(str(ref)) > 64):
        raise BadMessage("bad_field", "'ref' must be a short string or integer")
    # echoed back exactly as sent: a client that matches replies by a numeric ref gets a number back
    kind = raw.get("type")
    f = _Fields(raw, ref)
    match kind:
        case "login":
            return Login(ref, f.text("username"), f.text("password", limit=1024))
        case "resume":
            seq = raw.get("last_seq")
            if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
                raise BadMessage("bad_field", "'last_seq' must be a non-negative integer", ref)
            return Resume(ref, f.text("token", limit=4096), f.optional("session"), seq)
        case "ping":
            return Ping(ref)
        case "ready":
            return Ready(ref, f.name("agent", required=False))
        case "pause":
            return Pause(
                ref, f.text("reason", limit=80, required=False, empty=True), f.name("agent", required=False)
            )
        case "logout":
            return Logout(ref, f.name("agent", required=False))
        case "hangup":
            return Hangup(ref, f.text("linkedid", limit=160))
        case "transfer":
            to = f.text("to")
            if to not in TRANSFER_KINDS:
                raise BadMessage("bad_field", "'to' must be agent, queue or number", ref)
            target = f.number("target") if to == "number" else f.name("target")
            assert target is not None
            return Transfer(ref, f.text("linkedid", limit=160), to, target)
        case "dial":
            return Dial(ref, f.number("number"))
        case "disposition":
            return Disposition(
                ref,
                f.text("linkedid", limit=160),
                f.text("disposition", limit=80),
                f.text("notes", limit=MAX_NOTES, required=False, empty=True, lines=True),
            )
        case "set_skills":
            agent = f.name("agent")
            assert agent is not None
            return SetSkills(ref, agent, f.skills("skills"))
        case "end_wrapup":
            return EndWrapup(ref, f.name("agent", required=False))
        case str():
            raise BadMessage("unknown_type", f"unknown message type {kind[:40]!r}", ref)
        case _:
            raise BadMessage("bad_json", "'type' is missing", ref)


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def error(code: str, message: str, ref: Ref | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if ref is not None:
        out["ref"] = ref
    return out
