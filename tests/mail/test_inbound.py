from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cti.mail.inbound import Accepted, LoopGuard, Quarantined, classify

OK = b"From: Ann <ann@example.com>\r\nSubject: call me\r\nMessage-ID: <1@x>\r\n\r\nPlease call.\r\n"


def run(raw: bytes, **kw: object) -> object:
    return classify(raw, size_limit=10_000, guard=LoopGuard(), at=0.0, **kw)  # type: ignore[arg-type]


def test_accepts_plain_message() -> None:
    v = run(OK)
    assert isinstance(v, Accepted)
    assert (v.sender, v.subject, v.body.strip()) == ("ann@example.com", "call me", "Please call.")


def test_quarantine_reasons() -> None:
    cases = {
        b"Auto-Submitted: auto-replied\r\n" + OK: "Auto-Submitted",
        b"Precedence: bulk\r\n" + OK: "Precedence bulk",
        b"X-Autoreply: yes\r\n" + OK: "X-Autoreply",
        b"Subject: x\r\n\r\nno from\r\n": "no From",
        OK + b"x" * 10_001: "too large",
    }
    for raw, reason in cases.items():
        v = run(raw)
        assert isinstance(v, Quarantined) and reason in v.reason and v.raw == raw


def test_unknown_sender() -> None:
    v = run(OK, known=lambda s: False)
    assert isinstance(v, Quarantined) and v.reason == "unknown sender"


def test_mail_loop() -> None:
    guard = LoopGuard(max_repeats=2, window=60)
    verdicts = [classify(OK, size_limit=10**6, guard=guard, at=t) for t in (0, 1, 2, 100)]
    kinds = [type(v).__name__ for v in verdicts]
    assert kinds == ["Accepted", "Accepted", "Quarantined", "Accepted"]


@given(st.binary(max_size=400))
def test_never_raises_and_keeps_raw(raw: bytes) -> None:
    v = classify(raw, size_limit=300, guard=LoopGuard(), at=0.0)
    assert isinstance(v, (Accepted, Quarantined))
    if isinstance(v, Quarantined):
        assert v.raw == raw
