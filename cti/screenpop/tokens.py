"""Login tokens: HMAC-SHA256 signed, with an expiry. Pure (the time is passed in).

Format: ``base64url(json claims) "." base64url(hmac_sha256(secret, claims_part))``. Claims: ``u`` user
name, ``r`` role (``agent`` or ``supervisor``), ``a`` the agent's queue member name (AgentId) or null,
``iat`` and ``exp`` (epoch seconds). A token is refused when the signature does not match (compared in
constant time), when it is malformed, or when it has expired.

Revocation (``Revocations``): a sign-out or a disabled account voids every token of that user issued
until that moment; the server checks it on every resume and refresh and closes the user's connections.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from cti.core.errors import ProtocolError
from cti.core.ids import AgentId

ROLES = ("agent", "supervisor")


class TokenError(ProtocolError):
    """The token is malformed, forged or expired. ``reason`` is one of those words."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"token {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Identity:
    username: str
    role: str  # "agent" or "supervisor"
    agent: AgentId | None  # the queue member name an agent answers as; None for a supervisor
    expires_at: float
    issued_at: float = 0.0

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise TokenError("malformed") from None


class TokenSigner:
    def __init__(self, secret: bytes, ttl: float) -> None:
        if len(secret) < 16:
            raise ValueError("the token secret must be at least 16 bytes")
        self._secret = secret
        self.ttl = ttl

    def _sign(self, part: str) -> str:
        return _b64(hmac.new(self._secret, part.encode("ascii"), hashlib.sha256).digest())

    def issue(self, username: str, role: str, agent: AgentId | None, now: float) -> tuple[str, Identity]:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        identity = Identity(username, role, agent, now + self.ttl, now)
        claims = {"u": username, "r": role, "a": agent, "iat": now, "exp": identity.expires_at}
        part = _b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
        return f"{part}.{self._sign(part)}", identity

    def verify(self, token: object, now: float) -> Identity:
        if not isinstance(token, str) or token.count(".") != 1 or len(token) > 4096:
            raise TokenError("malformed")
        part, signature = token.split(".")
        try:
            expected = self._sign(part)
        except UnicodeEncodeError:
            raise TokenError("malformed") from None
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise TokenError("forged")
        try:
            claims = json.loads(_unb64(part))
            username, role, agent, exp = claims["u"], claims["r"], claims["a"], float(claims["exp"])
            iat = float(claims.get("iat", 0.0))
        except (ValueError, KeyError, TypeError):
            raise TokenError("malformed") from None
        if (
            role not in ROLES
            or not isinstance(username, str)
            or not (agent is None or isinstance(agent, str))
        ):
            raise TokenError("malformed")
        if now >= exp:
            raise TokenError("expired")
        return Identity(username, role, AgentId(agent) if agent is not None else None, exp, iat)


class Revocations:
    """Users whose tokens issued before a moment are void. Entries older than a token's life are
    forgotten (every token they could void has expired)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._before: dict[str, float] = {}

    def revoke(self, username: str, now: float) -> None:
        horizon = now - self.ttl
        for user in [u for u, t in self._before.items() if t < horizon]:
            del self._before[user]
        self._before[username] = now

    def revoked(self, identity: Identity) -> bool:
        before = self._before.get(identity.username)
        return before is not None and identity.issued_at <= before
