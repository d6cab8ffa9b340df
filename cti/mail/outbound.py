"""Outgoing mail (pure): a reply to a task, a fulfilment message with documents, the retry schedule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid


@dataclass(frozen=True, slots=True)
class Document:
    """One entry of the fulfilment catalogue."""

    name: str
    content_type: str  # "application/pdf"
    data: bytes


def reply(sender: str, to: str, subject: str, body: str, in_reply_to: str = "") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    msg["Message-ID"] = make_msgid()
    msg["Auto-Submitted"] = "no"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    return msg


def fulfilment(sender: str, to: str, subject: str, body: str, docs: Sequence[Document]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid()
    msg.set_content(body)
    for d in docs:
        maintype, _, subtype = d.content_type.partition("/")
        msg.add_attachment(d.data, maintype=maintype, subtype=subtype or "octet-stream", filename=d.name)
    return msg


def retry_delays(attempts: int, base: float = 30.0, factor: float = 4.0, cap: float = 3600.0) -> list[float]:
    """Seconds to wait before each retry after a failed delivery: bounded exponential backoff
    (``attempts`` tries in all, so ``attempts - 1`` waits)."""
    return [min(cap, base * factor**i) for i in range(max(0, attempts - 1))]
