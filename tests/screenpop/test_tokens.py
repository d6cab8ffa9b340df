import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.core.ids import AgentId
from cti.screenpop.tokens import TokenError, TokenSigner

SECRET = b"0123456789abcdef0123456789abcdef"


def test_a_token_verifies_to_the_identity_it_was_issued_for() -> None:
    signer = TokenSigner(SECRET, ttl=60)
    token, identity = signer.issue("alice", "agent", AgentId("Alice"), now=1000.0)
    assert signer.verify(token, now=1059.0) == identity
    assert identity.expires_at == 1060.0 and not identity.supervisor


def test_an_expired_token_is_refused() -> None:
    signer = TokenSigner(SECRET, ttl=60)
    token, _ = signer.issue("alice", "agent", AgentId("Alice"), now=1000.0)
    with pytest.raises(TokenError, match="expired"):
        signer.verify(token, now=1060.0)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token, _ = TokenSigner(b"x" * 32, ttl=60).issue("super", "supervisor", None, now=0.0)
    with pytest.raises(TokenError, match="forged"):
        TokenSigner(SECRET, ttl=60).verify(token, now=1.0)


def test_promoting_oneself_to_supervisor_by_editing_the_claims_is_refused() -> None:
    signer = TokenSigner(SECRET, ttl=60)
    token, _ = signer.issue("alice", "agent", AgentId("Alice"), now=0.0)
    _part, sig = token.split(".")
    forged_part, _ = signer.issue("alice", "supervisor", None, now=0.0)
    with pytest.raises(TokenError, match="forged"):
        signer.verify(forged_part.split(".")[0] + "." + sig, now=1.0)


@given(st.one_of(st.text(max_size=300), st.none(), st.integers(), st.binary().map(repr)))
def test_garbage_tokens_are_refused_never_crash(garbage: object) -> None:
    with pytest.raises(TokenError):
        TokenSigner(SECRET, ttl=60).verify(garbage, now=0.0)


def test_a_short_secret_is_a_usage_error() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        TokenSigner(b"short", ttl=60)
