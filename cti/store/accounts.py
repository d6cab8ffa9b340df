"""Agent accounts and their passwords (hashlib.scrypt; no third-party crypto).

A stored hash reads ``scrypt$N$r$p$salt$hash`` (salt and hash in URL-safe base64), so the cost can be
raised later without invalidating existing passwords. Hashing costs tens of milliseconds on purpose:
the store always runs it in a worker thread, never on the event loop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any

SCRYPT_N = 1 << 14
SCRYPT_R = 8
SCRYPT_P = 1
_KEY_BYTES = 32
_MAXMEM = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AgentAccount:
    id: int
    username: str
    role: str  # "agent" or "supervisor"
    member_name: str | None  # AgentId: the queue member name as Asterisk logs it
    interface: str  # e.g. Local/1001@agents/n
    display_name: str
    extension: str = ""
    skills: dict[str, int] = field(default_factory=dict)  # skill name -> level 1..10

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "role": self.role,
            "member_name": self.member_name,
            "interface": self.interface,
            "display_name": self.display_name,
            "extension": self.extension,
            "skills": dict(self.skills),
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = os.urandom(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=_KEY_BYTES)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; a malformed ``stored`` never matches (and never raises)."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        key = hashlib.scrypt(
            password.encode("utf-8"),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(_unb64(expected)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(key, _unb64(expected))


@cache
def _dummy() -> str:
    """Checked against when the username is unknown, so a wrong name costs as long as a wrong password."""
    return hash_password("not a password")


def verify_or_waste(password: str, stored: str | None) -> bool:
    if stored is None:
        verify_password(password, _dummy())
        return False
    return verify_password(password, stored)
