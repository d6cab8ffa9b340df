"""Agent accounts and their passwords (hashlib.scrypt; no third-party crypto).

A stored hash reads ``scrypt$N$r$p$salt$hash`` (salt and hash in URL-safe base64), so the cost can be
raised later without invalidating existing passwords: a successful login with a hash of other parameters
is re-hashed with the current ones (``needs_rehash``). The parameters follow the OWASP Password Storage
Cheat Sheet (scrypt: N=2^17, r=8, p=1, or an equivalent trade of memory for CPU): N=2^15, r=8, p=3, the
same work with 32 MiB per check instead of 128 MiB. Hashing costs a few hundred milliseconds of CPU on
purpose: the store always runs it in a worker thread, never on the event loop, and the console server
caps how many run at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any

OWASP_COST = (1 << 15, 8, 3)  # N, r, p
# the cost new hashes get (the test suite lowers it for speed: tests/conftest.py)
SCRYPT_N, SCRYPT_R, SCRYPT_P = OWASP_COST
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


def hash_password(password: str, *, n: int | None = None, r: int | None = None, p: int | None = None) -> str:
    n, r, p = n or SCRYPT_N, r or SCRYPT_R, p or SCRYPT_P
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


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with other parameters than the current ones."""
    return not stored.startswith(f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}$")


@cache
def _dummy() -> str:
    """Checked against when the username is unknown, so a wrong name costs as long as a wrong password."""
    return hash_password("not a password")


def verify_or_waste(password: str, stored: str | None) -> bool:
    if stored is None:
        verify_password(password, _dummy())
        return False
    return verify_password(password, stored)
