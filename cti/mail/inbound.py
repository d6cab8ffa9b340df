"""What becomes of one inbound message (pure): accepted as a task, or quarantined with a reason.

Nothing is dropped: a quarantined message keeps its raw bytes and its reason so that it can be stored
and looked at. Rules, first that holds: too large; malformed MIME (the parser's defects, or no From
address); an auto-reply (Auto-Submitted other than "no", Precedence bulk/junk/list/auto_reply,
X-Autoreply, X-Autorespond); a repeat (the same sender sent more than ``max_repeats`` messages within
``repeat_window`` seconds: a mail loop); an unknown sender when ``known`` is given and says so.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr

AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})


@dataclass(frozen=True, slots=True)
class Accepted:
    sender: str
    subject: str
    body: str
    message_id: str
    raw: bytes = field(default=b"", compare=False, repr=False)  # as received (a later quarantine keeps it)


@dataclass(frozen=True, slots=True)
class Quarantined:
    reason: str
    raw: bytes
    sender: str = ""


Verdict = Accepted | Quarantined


@dataclass(slots=True)
class LoopGuard:
    """Counts recent messages per sender (times passed in; no clock of its own)."""

    max_repeats: int = 5
    window: float = 600.0
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def repeated(self, sender: str, at: float) -> bool:
        q = self._seen.setdefault(sender, deque())
        while q and at - q[0] > self.window:
            q.popleft()
        q.append(at)
        return len(q) > self.max_repeats


def _text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else ""


def classify(
    raw: bytes,
    *,
    size_limit: int,
    guard: LoopGuard,
    at: float,
    known: Callable[[str], bool] | None = None,
) -> Verdict:
    if len(raw) > size_limit:
        return Quarantined(f"too large: {len(raw)} bytes > {size_limit}", raw)
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    sender = parseaddr(str(msg.get("From", "")))[1].lower()
    if msg.defects:
        return Quarantined(f"malformed MIME: {type(msg.defects[0]).__name__}", raw, sender)
    if "@" not in sender:
        return Quarantined("malformed: no From address", raw, sender)
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    if auto != "no":
        return Quarantined(f"auto-reply: Auto-Submitted {auto}", raw, sender)
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in AUTO_PRECEDENCE:
        return Quarantined(f"auto-reply: Precedence {precedence}", raw, sender)
    for header in ("X-Autoreply", "X-Autorespond"):
        if header in msg:
            return Quarantined(f"auto-reply: {header}", raw, sender)
    if guard.repeated(sender, at):
        return Quarantined("mail loop: repeated messages from the same sender", raw, sender)
    if known is not None and not known(sender):
        return Quarantined("unknown sender", raw, sender)
    try:
        body = _text(msg)
    except (LookupError, ValueError) as exc:
        return Quarantined(f"malformed MIME: {exc}", raw, sender)
    return Accepted(sender, str(msg.get("Subject", "")), body, str(msg.get("Message-ID", "")), raw)


def sender_of(raw: bytes) -> str:
    """The From address of a message (or of its headers alone), lower case; "" if none can be read."""
    try:
        msg = message_from_bytes(raw, policy=policy.default)
        return parseaddr(str(msg.get("From", "")))[1].lower()
    except Exception:  # hostile headers: the reason is what matters, not the sender
        return ""
