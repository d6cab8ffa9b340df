"""AMI over TLS: the daemon's link to an Asterisk with tlsenable = yes, against a fake AMI server over TLS."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cti.asterisk.connection import AmiConnection
from cti.config import parse_config
from cti.core.errors import ConfigError
from tests.asterisk.fakeami import FakeAmi
from tests.asterisk.test_connection import config, is_snapshot, running, take_until
from tests.conftest import timeout
from tests.waiting import eventually


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A certificate for ``localhost`` and 127.0.0.1, made with the openssl command line."""
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    command = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
    ]
    command += [
        "-keyout",
        str(key),
        "-out",
        str(cert),
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tls")
    asterisk, key = self_signed(folder, "asterisk")
    stranger, _ = self_signed(folder, "stranger")
    return {"asterisk": asterisk, "key": key, "stranger": stranger}


@pytest.fixture
async def tls_ami(certs: dict[str, Path]) -> AsyncIterator[FakeAmi]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs["asterisk"], certs["key"])
    async with FakeAmi(auth_fail_delay=0.05, tls=context) as server:
        yield server


async def test_the_link_logs_in_and_receives_events_over_verified_tls(
    tls_ami: FakeAmi, certs: dict[str, Path]
) -> None:
    conn = AmiConnection(config(tls_ami, tls=True, tls_ca_file=str(certs["asterisk"])))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
        tls_ami.emit({"Event": "VarSet", "Variable": "X", "Value": "张伟 <b>"})
        items = await take_until(conn, lambda item: getattr(item, "message", {}).get("Value") == "张伟 <b>")
        assert items and conn.stats.logins == 1
        (client,) = tls_ami.clients
        assert client.writer.get_extra_info("ssl_object") is not None  # the server side speaks TLS


async def test_an_unknown_certificate_is_refused_and_retried_never_logged_in(
    tls_ami: FakeAmi, certs: dict[str, Path]
) -> None:
    conn = AmiConnection(config(tls_ami, tls=True, tls_ca_file=str(certs["stranger"])))
    async with running(conn):
        await eventually(lambda: conn.stats.connect_failures >= 2, what="two refused attempts")
        assert "CERTIFICATE_VERIFY_FAILED" in conn.stats.last_error
    assert conn.stats.logins == 0 and tls_ami.logins == 0  # the secret never crossed the wire


async def test_the_certificate_must_name_the_server(tls_ami: FakeAmi, certs: dict[str, Path]) -> None:
    conn = AmiConnection(
        config(tls_ami, tls=True, tls_ca_file=str(certs["asterisk"]), tls_server_name="pbx.example.com")
    )
    async with running(conn):
        await eventually(lambda: conn.stats.connect_failures >= 1, timeout(3), what="a refused attempt")
    assert tls_ami.logins == 0 and "pbx.example.com" in conn.stats.last_error


async def test_tls_verify_false_encrypts_without_checking(tls_ami: FakeAmi) -> None:
    conn = AmiConnection(config(tls_ami, tls=True, tls_verify=False))
    async with running(conn):
        await take_until(conn, is_snapshot("login"))
    assert conn.stats.logins == 1


async def test_a_plain_client_cannot_talk_to_a_tls_port(tls_ami: FakeAmi) -> None:
    conn = AmiConnection(config(tls_ami, dead_after=timeout(0.3)))
    async with running(conn):
        await eventually(lambda: conn.stats.connect_failures >= 1, what="a failed plain attempt")
    assert conn.stats.logins == 0


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        (
            '[[asterisk]]\ntls = true\ntls_ca_file = "/nonexistent/ca.pem"\n',
            "asterisk[0].tls_ca_file",
            "no such",
        ),
        ("[[asterisk]]\ntls_verify = false\n", "asterisk[0].tls", "tls is false"),
        ('[[asterisk]]\ntls = "yes"\n', "asterisk[0].tls", "expected bool"),
    ],
)
def test_bad_tls_settings_are_clear_config_errors(text: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(text, "site.toml")
    assert e.value.key == key and words in str(e.value)
