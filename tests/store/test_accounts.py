from cti.store.accounts import hash_password, verify_or_waste, verify_password


def test_a_password_verifies_against_its_own_hash_only() -> None:
    stored = hash_password("correct horse 马")
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse 马", stored)
    assert not verify_password("correct horse", stored)
    assert hash_password("same") != hash_password("same")  # salted


def test_malformed_hashes_never_verify_and_never_raise() -> None:
    for stored in ("", "plain", "scrypt$x$y$z$a$b", "md5$1$2$3$4$5", "scrypt$16384$8$1$!!!$@@@"):
        assert not verify_password("anything", stored)


def test_an_unknown_user_costs_a_verification_and_fails() -> None:
    assert not verify_or_waste("pw", None)
    assert verify_or_waste("pw", hash_password("pw", n=1024))
