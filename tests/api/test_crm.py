"""The HTTP API over a real socket: a daemon with ``[api] enabled`` (and routing, without an Asterisk).

Bad input gets 400 naming the field and the reason; a missing, forged or expired token 401; the wrong
role 403. Phone numbers go through phonenumbers.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from cti.app import Daemon
from cti.core.ids import AgentId
from tests.api.client import get, post, request
from tests.e2e.running import HOSTILE, HOSTILE_NUMBER, running_daemon, seed_accounts

CONFIG = (
    '[routing]\nenabled = true\ndefault_queue = "sales"\n[routing.queues.sales]\n[routing.queues.support]\n'
    "[api]\nenabled = true\nport = 0\nmax_body_bytes = 8192\n"
)


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}"
    await seed_accounts(url)
    async with running_daemon(url, CONFIG) as d:
        yield d


def port(d: Daemon) -> int:
    assert d.api is not None
    return int(d.api.port)


async def token(d: Daemon, user: str) -> str:
    status, body = await post(port(d), "/api/v1/login", {"username": user, "password": "demo"})
    assert status == 200, body
    return str(body["token"])


async def test_a_crm_requests_a_callback_with_a_formatted_number_and_sees_it_listed(daemon: Daemon) -> None:
    alice = await token(daemon, "alice")
    soon = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + 3600))
    status, body = await post(
        port(daemon),
        "/api/v1/callbacks",
        {"number": "+1 (212) 555-0100", "at": soon, "note": "web form"},
        alice,
    )
    assert status == 201, body
    cb = body["callback"]
    assert (cb["number"], cb["queue"], cb["source"], cb["status"]) == (
        "+12125550100",
        "sales",
        "web",
        "scheduled",
    )
    assert abs(cb["due_at"] - (time.time() + 3600)) < 5 and cb["created_by"] == "Alice"
    status, body = await post(
        port(daemon), "/api/v1/callbacks", {"number": "2125550100", "agent": "Alice"}, alice
    )
    assert status == 201 and body["callback"]["agent"] == "Alice"  # a national number, for herself
    status, body = await get(port(daemon), "/api/v1/callbacks", alice)
    assert status == 200 and [c["note"] for c in body["callbacks"]] == ["", "web form"]
    far = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(time.time() + 91 * 86400 + 8 * 3600))
    status, body = await post(port(daemon), "/api/v1/callbacks", {"number": "+12125550100", "at": far}, alice)
    assert (status, body["field"]) == (400, "at") and "90 days" in body["reason"]


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        ({}, "number", "is required"),
        ({"number": 2125550100}, "number", "is required"),
        ({"number": "+1 212 555"}, "number", "not a valid phone number"),
        ({"number": "call me maybe"}, "number", "not a valid phone number"),
        ({"number": "+12125550100", "at": "tomorrow"}, "at", "not an ISO 8601"),
        ({"number": "+12125550100", "at": "2026-12-02T10:00:00"}, "at", "needs a UTC offset"),
        ({"number": "+12125550100", "at": 12.5}, "at", "in the past"),
        ({"number": "+12125550100", "at": True}, "at", "ISO 8601"),
        ({"number": "+12125550100", "queue": "billing"}, "queue", "not a routed queue"),
        ({"number": "+12125550100", "note": "x" * 5000}, "note", "at most 4000"),
        ({"number": "+12125550100", "colour": "red"}, "colour", "unknown field"),
    ],
)
async def test_bad_input_gets_400_with_the_field_and_the_reason(
    daemon: Daemon, payload: dict[str, Any], field: str, reason: str
) -> None:
    sup = await token(daemon, "super")
    status, body = await post(port(daemon), "/api/v1/callbacks", payload, sup)
    assert status == 400, body
    assert body["error"] == "bad_request" and body["field"] == field and reason in body["reason"], body


async def test_a_body_that_is_not_a_json_object_or_too_large_is_refused(daemon: Daemon) -> None:
    sup = await token(daemon, "super")
    auth = {"authorization": f"Bearer {sup}", "content-type": "application/json"}
    status, _, body = await request(port(daemon), "POST", "/api/v1/callbacks", b"{not json", auth)
    assert (status, body["field"]) == (400, "body")
    status, _, body = await request(port(daemon), "POST", "/api/v1/callbacks", b"[1, 2]", auth)
    assert (status, body["field"], body["reason"]) == (400, "body", "must be a JSON object")
    status, _, body = await request(port(daemon), "POST", "/api/v1/callbacks", b"x" * 10000, auth)
    assert status == 413 and body["error"] == "too_large"
    plain = {"authorization": f"Bearer {sup}", "content-type": "text/plain"}
    status, _, _ = await request(port(daemon), "POST", "/api/v1/callbacks", b"{}", plain)
    assert status == 415
    status, _, body = await request(port(daemon), "DELETE", "/api/v1/callbacks", b"", auth)
    assert status == 405 and body["allow"] == ["GET", "POST"]
    status, _, body = await request(port(daemon), "GET", "/api/v1/nothing", b"", auth)
    assert status == 404
    status, _, body = await request(port(daemon), "POST", "/api/v1/login", b'{"username": "super"}', auth)
    assert (status, body["field"]) == (400, "password")


@pytest.mark.parametrize("path", ["/api/v1/callbacks", "/api/v1/callers/+12125550100", "/api/v1/calls"])
async def test_a_missing_forged_or_expired_token_gets_401_with_the_reason(daemon: Daemon, path: str) -> None:
    good = await token(daemon, "super")
    assert daemon.api is not None
    signer = daemon.api.handler.signer
    expired, _ = signer.issue("super", "supervisor", None, time.time() - signer.ttl - 1)
    part, sig = good.split(".")
    forged = f"{part}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
    cases: list[tuple[str | None, str]] = [
        (None, "missing bearer token"),
        (expired, "token expired"),
        (forged, "token forged"),
        ("not-a-token", "token malformed"),
    ]
    for tok, reason in cases:
        if path.startswith("/api/v1/callers/"):
            status, body = await get(port(daemon), path, tok)
        else:
            status, body = await post(port(daemon), path, {"number": "+12125550100", "agent": "Alice"}, tok)
        assert (status, body["error"], body["reason"]) == (401, "unauthorized", reason), (tok, body)
    status, _ = await post(port(daemon), "/api/v1/login", {"username": "super", "password": "wrong"})
    assert status == 401


async def test_the_wrong_role_gets_403(daemon: Daemon) -> None:
    bob = await token(daemon, "bob")
    sup = await token(daemon, "super")
    status, body = await post(
        port(daemon), "/api/v1/calls", {"number": "+12125550100", "agent": "Alice"}, bob
    )
    assert (status, body["error"]) == (403, "forbidden")  # an agent dials only from its own seat
    status, body = await post(
        port(daemon), "/api/v1/callbacks", {"number": "+12125550100", "agent": "Alice"}, bob
    )
    assert (status, body["error"]) == (403, "forbidden")  # nor schedules for another agent
    status, body = await get(port(daemon), "/api/v1/callbacks?agent=Alice", bob)
    assert status == 403
    status, body = await post(port(daemon), "/api/v1/calls", {"number": "+12125550100"}, sup)
    assert (status, body["field"]) == (400, "agent")  # a supervisor names the agent
    status, body = await get(port(daemon), "/api/v1/callbacks?agent=Alice", sup)
    assert status == 200 and body["agent"] == "Alice"


async def test_a_caller_looked_up_gets_the_card_the_pop_uses_and_its_callbacks(daemon: Daemon) -> None:
    sup = await token(daemon, "super")
    number = HOSTILE_NUMBER.replace("+1", "+1 (").replace("555", ") 555-", 1)  # +1 (415) 555-0101
    status, body = await post(port(daemon), "/api/v1/callbacks", {"number": number, "queue": "support"}, sup)
    assert status == 201, body
    status, body = await get(port(daemon), "/api/v1/callers/" + urllib.parse.quote(number), sup)
    assert status == 200, body
    assert body["number"] == HOSTILE_NUMBER and body["lookup"] == "found"
    (customer,) = body["customers"]
    assert customer["name"] == HOSTILE  # data, never HTML-escaped: rendering is the CRM's job
    assert [c["queue"] for c in body["callbacks"]] == ["support"]
    status, body = await get(port(daemon), "/api/v1/callers/12", sup)
    assert (status, body["field"]) == (400, "number")


async def test_click_to_call_without_a_seat_is_refused_as_the_console_refuses_it(daemon: Daemon) -> None:
    alice = await token(daemon, "alice")
    status, body = await post(port(daemon), "/api/v1/calls", {"number": "+1 (212) 555-0100"}, alice)
    # no Asterisk here: the desk knows no seat for Alice, and says so as the console would
    assert (status, body["error"]) == (409, "unknown_agent"), body
    assert daemon.hub is not None and AgentId("Alice") not in daemon.hub.seats
