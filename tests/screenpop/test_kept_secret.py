"""[web] secret_file: the token key outlives a restart (issue #12: a reload said "token forged")."""

from __future__ import annotations

import stat
from pathlib import Path

from cti.screenpop.server import kept_secret
from cti.screenpop.tokens import TokenSigner


def test_the_key_is_made_once_private_and_then_read_back(tmp_path: Path) -> None:
    path = tmp_path / "var" / "web-secret"
    first = kept_secret(str(path))
    assert len(first) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o600
    token, _ = TokenSigner(first, ttl=60).issue("alice", "agent", None, now=1000.0)
    again = kept_secret(str(path))  # the daemon restarted
    assert again == first
    assert TokenSigner(again, ttl=60).verify(token, now=1001.0).username == "alice"


def test_a_short_or_empty_file_gets_a_new_key(tmp_path: Path) -> None:
    path = tmp_path / "web-secret"
    path.write_text("short\n")
    assert len(kept_secret(str(path))) == 64
