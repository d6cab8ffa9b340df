"""The websocket API's client messages: JSON text in, typed commands out. Pure.

Every client message is a JSON object with a ``type`` and an optional ``ref`` (any short string or
integer the client chooses; the reply to the command carries it back, of the same JSON type).
Anything else is refused with a ``ProtocolError`` whose ``code`` the server sends back in an ``error``
message; the connection stays open. See docs/websocket-protocol.md for the whole protocol.

A frame no client of ours ever sends is refused before it is parsed (``Refused``, which carries the
close code; the server closes the connection): JSON nested deeper than ``MAX_DEPTH`` (counted on the raw
text, outside strings, so the parser never recurses into it) and text that is not valid Unicode (a
``\\ud800`` escape without its pair: it could not be encoded back, not even in an error's ``ref``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from cti.core.errors import ProtocolError
from cti.reports.kpi import Alert
from cti.routing.policy import PolicyError, check_skill

VERSION = 1
MAX_TEXT = 200  # user names, reasons, numbers, targets
MAX_NOTES = 4000
MAX_DEPTH = 8  # nesting of objects and arrays in one message (a command uses 2)

CLOSE_TOO_BIG = 1009
CLOSE_BAD_TEXT = 1007  # RFC 6455: data inconsistent with the message type (not valid Unicode)
CLOSE_TOO_DEEP = 1008  # RFC 6455: policy violation

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


class Refused(ProtocolError):
    """A frame refused before parsing; the connection is closed with ``close_code``."""

    def __init__(self, reason: str, close_code: int, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # too_big, too_deep, bad_text: the label of ws_frames_refused_total
        self.close_code = close_code
        self.message = message


def kpi_alert(alert: Alert) -> dict[str, Any]:
    """The ``kpi_alert`` message (to supervisors only): a target's level changed for its subject."""
    return {"type": "kpi_alert", **alert.to_json()}


# a JSON string (escapes included) or a bracket outside strings
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _check_depth(text: str) -> None:
    if text.count("{") + text.count("[") <= MAX_DEPTH:
        return  # cannot be deeper: the common case costs two C scans
    depth = 0
    for m in _TOKENS.finditer(text):
        tok = m.group()
        if tok in ("{", "["):
            depth += 1
            if depth > MAX_DEPTH:
                raise Refused("too_deep", CLOSE_TOO_DEEP, f"nested deeper than {MAX_DEPTH} levels")
        elif tok in ("}", "]"):
            depth -= 1


def _check_text(raw: Any) -> None:
    try:
        json.dumps(raw, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise Refused("bad_text", CLOSE_BAD_TEXT, "not valid Unicode (an unpaired surrogate)") from None


def load(text: str | bytes) -> Any:
    """The JSON value of a text frame, after the limits (depth, valid Unicode); ``Refused`` or
    ``BadMessage`` otherwise."""
    if isinstance(text, bytes):
        raise BadMessage("bad_json", "binary frames are not accepted: send JSON text")
    _check_depth(text)
    try:
        raw = json.loads(text)
    except RecursionError:  # not reachable after _check_depth; never a traceback all the same
        raise Refused("too_deep", CLOSE_TOO_DEEP, f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise BadMessage("bad_json", "not JSON") from None
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        _check_text(raw)  # only when a surrogate escape is there at all
    return raw


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
class Hold(Command):
    """Put the call on hold (``on``) or bring it back (docs/design/hold-and-park.md)."""

    linkedid: str
    on: bool


@dataclass(frozen=True, slots=True)
class Park(Command):
    """Park the caller of the agent's call; the agent's leg ends."""

    linkedid: str


@dataclass(frozen=True, slots=True)
class Pickup(Command):
    """Pick up the parked call ``linkedid`` (of ``server``) on the asking agent's phone."""

    linkedid: str
    server: str


@dataclass(frozen=True, slots=True)
class WarmTransfer(Command):
    """Consult ``target`` (an agent, a queue or a number) while the customer hears music
    (cti.screenpop.consult)."""

    linkedid: str
    to: str  # "agent", "queue" or "number"
    target: str


CONSULT_OPS = ("complete", "cancel", "conference")
CONFERENCE_OPS = ("start", "leave", "end")


@dataclass(frozen=True, slots=True)
class Consult(Command):
    """The warm transfer under way: complete it, cancel it, or make it a three-way conference."""

    linkedid: str
    op: str


@dataclass(frozen=True, slots=True)
class Conference(Command):
    """A three-way call: ``start`` one with a third party (``to``, ``target``), ``leave`` it, ``end`` it."""

    linkedid: str
    op: str
    to: str | None = None
    target: str | None = None


def _consult_command(kind: str, raw: dict[str, Any], f: _Fields, ref: Ref | None) -> Command:
    lid = f.text("linkedid", limit=160)
    if kind == "consult":
        op = f.text("op")
        if op not in CONSULT_OPS:
            raise BadMessage("bad_field", "'op' must be complete, cancel or conference", ref)
        return Consult(ref, lid, op)
    if kind == "conference":
        op = f.text("op")
        if op not in CONFERENCE_OPS:
            raise BadMessage("bad_field", "'op' must be start, leave or end", ref)
        if op != "start":
            return Conference(ref, lid, op)
    to = f.text("to")
    if kind == "warm_transfer" and to == "queue":  # the agent waits in the queue for a colleague
        queue = f.name("target")
        assert queue is not None
        return WarmTransfer(ref, lid, to, queue)
    if to not in ("agent", "number"):
        raise BadMessage("bad_field", "'to' must be agent or number (a queue: warm transfers only)", ref)
    target = f.number("target") if to == "number" else f.name("target")
    assert target is not None
    return (
        WarmTransfer(ref, lid, to, target)
        if kind == "warm_transfer"
        else Conference(ref, lid, "start", to, target)
    )


@dataclass(frozen=True, slots=True)
class Dial(Command):
    number: str
    confirm: bool = False  # dial a number on the do-not-call list all the same (the agent was warned)


@dataclass(frozen=True, slots=True)
class Disposition(Command):
    linkedid: str
    disposition: str
    notes: str
    callback_at: float | None = None  # a campaign call's callback disposition: when (epoch seconds)


DISPOSITION_OPS = ("list", "add", "remove")
_DISPOSITION_FIELDS = ("label", "outcome", "queues", "callback", "active", "position")


@dataclass(frozen=True, slots=True)
class Dispositions(Command):
    """The inbound disposition list (cti.screenpop.dispositions): ``list`` it; supervisors ``add`` (or
    replace) the code ``code`` with ``fields``, or ``remove`` it. The fields are checked by
    cti.core.dispositions."""

    op: str
    code: str
    fields: dict[str, Any]


def _dispositions(raw: dict[str, Any], f: _Fields, ref: Ref | None) -> Dispositions:
    op = f.text("op", limit=16)
    if op not in DISPOSITION_OPS:
        raise BadMessage("bad_field", f"'op' must be one of {', '.join(DISPOSITION_OPS)}", ref)
    if op == "list":
        return Dispositions(ref, op, "", {})
    code = f.text("code", limit=64)
    fields = {k: raw[k] for k in _DISPOSITION_FIELDS if k in raw} if op == "add" else {}
    return Dispositions(ref, op, code, {"code": code, **fields})


SPY_MODES = ("listen", "whisper", "barge", "stop")


@dataclass(frozen=True, slots=True)
class Spy(Command):
    """A supervisor listens to (``listen``), whispers to (``whisper``) or barges into (``barge``) the call
    of ``agent`` on their own phone, or ends it (``stop``): cti.screenpop.spying."""

    agent: str | None
    mode: str


@dataclass(frozen=True, slots=True)
class SetSkills(Command):
    agent: str
    skills: dict[str, int]


@dataclass(frozen=True, slots=True)
class Refresh(Command):
    """A new token for this connection (before the old one expires)."""


@dataclass(frozen=True, slots=True)
class SignOut(Command):
    """End every session of this user: their tokens are revoked, their connections closed (4003)."""


@dataclass(frozen=True, slots=True)
class EndWrapup(Command):
    agent: str | None


@dataclass(frozen=True, slots=True)
class ScheduleCallback(Command):
    """A callback from the disposition: call ``number`` back at ``at`` (epoch seconds), for ``agent``
    (None: the agent who asks; "" : anyone), in ``queue`` (None: the routing default)."""

    number: str
    at: float
    agent: str | None
    queue: str | None
    note: str


@dataclass(frozen=True, slots=True)
class ListCallbacks(Command):
    agent: str | None  # supervisors may list an agent's


# ---- preview dialling (cti.delivery.dialer, docs/websocket-protocol.md "Preview") ----
@dataclass(frozen=True, slots=True)
class PreviewDial(Command):
    """Dial the lead of the preview card ``preview`` (connected to this agent)."""

    preview: str


@dataclass(frozen=True, slots=True)
class PreviewSkip(Command):
    """Skip the lead of the preview card ``preview``: the next lead is offered."""

    preview: str


MAX_PREVIEW_ID = 64


def preview_card(
    preview: str, agent: str, campaign: str, lead_id: int, name: str, number: str, script: str, expires: float
) -> dict[str, Any]:
    """The ``preview`` message (to that agent only): a lead reserved for them, to Dial or Skip."""
    return {
        "type": "preview",
        "v": VERSION,
        "preview": preview,
        "agent": agent,
        "campaign": campaign,
        "lead": {"id": lead_id, "name": name, "number": number},
        "script": script,
        "expires_at": expires,
    }


def preview_over(preview: str, agent: str, outcome: str) -> dict[str, Any]:
    """The ``preview_over`` message: the card is gone (dialled, skipped, expired, failed)."""
    return {"type": "preview_over", "preview": preview, "agent": agent, "outcome": outcome}


# ---- end preview dialling ----


@dataclass(frozen=True, slots=True)
class EmailReply(Command):
    """Reply to the e-mail task offered to this agent (sent over SMTP by the daemon), closing it."""

    task: str
    body: str
    disposition: str


@dataclass(frozen=True, slots=True)
class EmailClose(Command):
    """Close the e-mail task offered to this agent without a reply, with a disposition."""

    task: str
    disposition: str


@dataclass(frozen=True, slots=True)
class EmailAllowCalls(Command):
    """Whether a call may ring this agent while it works an e-mail task (default: no)."""

    allow: bool


@dataclass(frozen=True, slots=True)
class Documents(Command):
    """The fulfilment catalogue: the documents an agent may send from a call's disposition."""


@dataclass(frozen=True, slots=True)
class Fulfil(Command):
    """E-mail ``documents`` (catalogue ids) to ``customer``, from the disposition of call ``linkedid``."""

    linkedid: str
    customer: int
    documents: tuple[int, ...]


MAX_DOCUMENTS = 20
# ---- campaigns (the campaign page, supervisors; cti.delivery.campaigns) ----
CAMPAIGN_OPS = ("list", "create", "update", "start", "pause", "end", "upload", "figures")
MAX_CAMPAIGN_CSV = 2_000_000


@dataclass(frozen=True, slots=True)
class CampaignAction(Command):
    """A campaign page action: ``op`` on campaign ``name`` with ``settings`` (create, update), or a CSV
    lead list (upload: ``list``, ``csv``, ``partial``). The values are checked by cti.dialer.settings."""

    op: str
    name: str | None
    settings: dict[str, Any]
    list: str
    csv: str
    partial: bool


def _campaign(raw: dict[str, Any], f: _Fields, ref: Ref | None) -> CampaignAction:
    op = f.text("op", limit=16)
    if op not in CAMPAIGN_OPS:
        raise BadMessage("bad_field", f"'op' must be one of {', '.join(CAMPAIGN_OPS)}", ref)
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        raise BadMessage("bad_field", "'name' must be a string", ref)
    if op != "list" and not name:
        raise BadMessage("bad_field", "'name' (the campaign) is required", ref)
    settings = raw.get("settings", {})
    if not isinstance(settings, dict):
        raise BadMessage("bad_field", "'settings' must be an object", ref)
    partial = raw.get("partial", True)
    if not isinstance(partial, bool):
        raise BadMessage("bad_field", "'partial' must be true or false", ref)
    csv = f.text("csv", limit=MAX_CAMPAIGN_CSV, lines=True) if op == "upload" else ""
    lead_list = f.text("list", limit=100) if op == "upload" else ""
    return CampaignAction(ref, op, name, settings, lead_list, csv, partial)


# ---- end campaigns ----

MAX_REPLY = 100_000
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
        value = self.text(key, limit=40)
        for sep in " -().\u00a0":  # the way people write numbers: +1 (212) 555-0100, 212.555.0100
            value = value.replace(sep, "")
        if not _NUMBER.match(value):
            raise BadMessage("bad_field", f"{key!r} is not a phone number", self.ref)
        return value


def parse(text: str | bytes) -> Command:
    raw = load(text)
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
        case "refresh":
            return Refresh(ref)
        case "sign_out":
            return SignOut(ref)
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
        case "hold" | "unhold":
            return Hold(ref, f.text("linkedid", limit=160), kind == "hold")
        case "park":
            return Park(ref, f.text("linkedid", limit=160))
        case "pickup":
            return Pickup(
                ref, f.text("linkedid", limit=160), f.text("server", limit=80, required=False, empty=True)
            )
        case "warm_transfer" | "consult" | "conference":
            return _consult_command(kind, raw, f, ref)
        case "dial":
            confirm = raw.get("confirm", False)
            if not isinstance(confirm, bool):
                raise BadMessage("bad_field", "'confirm' must be true or false", ref)
            return Dial(ref, f.number("number"), confirm)
        case "disposition":
            when = raw.get("callback_at")
            if when is not None and (
                isinstance(when, bool) or not isinstance(when, int | float) or not 0 < when < 1e11
            ):
                raise BadMessage("bad_field", "'callback_at' must be a time in epoch seconds", ref)
            return Disposition(
                ref,
                f.text("linkedid", limit=160),
                f.text("disposition", limit=80),
                f.text("notes", limit=MAX_NOTES, required=False, empty=True, lines=True),
                None if when is None else float(when),
            )
        case "spy":
            mode = f.text("mode", limit=16)
            if mode not in SPY_MODES:
                raise BadMessage("bad_field", f"'mode' must be one of {', '.join(SPY_MODES)}", ref)
            agent = f.name("agent", required=mode != "stop")
            return Spy(ref, agent, mode)
        case "set_skills":
            agent = f.name("agent")
            assert agent is not None
            return SetSkills(ref, agent, f.skills("skills"))
        case "end_wrapup":
            return EndWrapup(ref, f.name("agent", required=False))
        case "schedule_callback":
            at = raw.get("at")
            if isinstance(at, bool) or not isinstance(at, int | float) or not 0 < at < 1e11:
                raise BadMessage("bad_field", "'at' must be a time in epoch seconds", ref)
            who = raw.get("for")
            if who is not None and (not isinstance(who, str) or (who and not _NAME.match(who))):
                raise BadMessage("bad_field", "'for' must be an agent's name, or \"\" for anyone", ref)
            return ScheduleCallback(
                ref,
                f.text("number", limit=40),  # parsed with phonenumbers by the callbacks service
                float(at),
                who,
                f.name("queue", required=False),
                f.text("note", limit=MAX_NOTES, required=False, empty=True, lines=True),
            )
        case "callbacks":
            return ListCallbacks(ref, f.name("agent", required=False))
        case "preview_dial":
            return PreviewDial(ref, f.text("preview", limit=MAX_PREVIEW_ID))
        case "preview_skip":
            return PreviewSkip(ref, f.text("preview", limit=MAX_PREVIEW_ID))
        case "email_reply":
            return EmailReply(
                ref,
                f.text("task", limit=40),
                f.text("body", limit=MAX_REPLY, lines=True),
                f.text("disposition", limit=64, required=False, empty=True) or "answered",
            )
        case "email_close":
            return EmailClose(ref, f.text("task", limit=40), f.text("disposition", limit=64))
        case "email_allow_calls":
            allow = raw.get("allow")
            if not isinstance(allow, bool):
                raise BadMessage("bad_field", "'allow' must be true or false", ref)
            return EmailAllowCalls(ref, allow)
        case "documents":
            return Documents(ref)
        case "fulfil":
            customer, docs = raw.get("customer"), raw.get("documents")
            if isinstance(customer, bool) or not isinstance(customer, int) or customer < 1:
                raise BadMessage("bad_field", "'customer' must be a customer id", ref)
            if (
                not isinstance(docs, list)
                or not 0 < len(docs) <= MAX_DOCUMENTS
                or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in docs)
            ):
                raise BadMessage(
                    "bad_field", f"'documents' must be a list of 1 to {MAX_DOCUMENTS} document ids", ref
                )
            return Fulfil(ref, f.text("linkedid", limit=160), customer, tuple(docs))
        case "campaign":
            return _campaign(raw, f, ref)
        case "dispositions":
            return _dispositions(raw, f, ref)
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
