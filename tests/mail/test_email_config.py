from __future__ import annotations

import pytest

from cti.config import load_config, parse_config
from cti.core.errors import ConfigError


def test_shipped_config_has_email_disabled() -> None:
    e = load_config("config/cti.toml").email
    assert not e.enabled and e.size_limit_bytes == 10485760


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('unknown_senders = "drop"', "email.unknown_senders"),
        ("port = 70000", "email.port"),
        ("size_limit_bytes = 10", "email.size_limit_bytes"),
        ('from_address = "nobody"', "email.from_address"),
        ('imap_url = "http://x"', "email.imap_url"),
        ('port = "25"', "port"),
    ],
)
def test_bad_email_config_is_refused_with_its_key(text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        parse_config(f"[email]\n{text}\n")
