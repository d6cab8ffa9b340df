"""The disposition list's routes of the HTTP API (cti/api/dispositions.py) over a real socket and the
daemon's store: anyone lists, a supervisor adds, replaces and removes (every console gets the list), an
agent gets 403, a bad field 400 with its name, an unknown code 404; every route is in docs/api.json."""

from __future__ import annotations

import json
import re
from typing import Any

from cti.api import dispositions
from cti.app import Daemon
from tests.api.client import get, request
from tests.api.test_crm import daemon, port, token  # noqa: F401 - the fixture
from tests.api.test_openapi import SPEC

BASE = "/api/v1/dispositions"


async def send(p: int, method: str, path: str, payload: object, tok: str) -> tuple[int, Any]:
    headers = {"content-type": "application/json", "authorization": f"Bearer {tok}"}
    status, _, body = await request(p, method, path, json.dumps(payload).encode(), headers)
    return status, body


async def test_a_supervisor_edits_the_list_and_agents_read_it(daemon: Daemon) -> None:  # noqa: F811
    p, sup, alice = port(daemon), await token(daemon, "super"), await token(daemon, "alice")
    status, body = await get(p, BASE, alice)
    assert status == 200 and [c["code"] for c in body["dispositions"]][:2] == ["resolved", "follow-up"]
    payload = {"label": "Call back", "callback": True, "queues": ["support"]}
    assert (await send(p, "PUT", f"{BASE}/call%20back", payload, alice))[0] == 403
    status, body = await send(p, "PUT", f"{BASE}/call%20back", payload, sup)
    assert status == 200, body
    added = body["dispositions"][-1]
    assert (added["code"], added["callback"], added["queues"], added["outcome"]) == (
        "call back",
        True,
        ["support"],
        "none",
    )
    hub = daemon.hub
    assert hub is not None and hub.dispositions[-1]["code"] == "call back"  # pushed to the consoles
    for bad, field in (({"outcome": "win"}, "outcome"), ({"colour": "red"}, "colour")):
        status, body = await send(p, "PUT", f"{BASE}/x", bad, sup)
        assert (status, body["error"], body["field"]) == (400, "bad_disposition", field), body
    status, body = await send(p, "DELETE", f"{BASE}/call%20back", {}, sup)
    assert status == 200 and "call back" not in [c["code"] for c in body["dispositions"]]
    assert (await send(p, "DELETE", f"{BASE}/call%20back", {}, sup))[0] == 404
    assert (await send(p, "DELETE", f"{BASE}/resolved", {}, alice))[0] == 403
    assert (await get(p, BASE))[0] == 401


def test_every_disposition_route_is_documented() -> None:
    assert dispositions.__doc__ is not None
    routes = re.findall(r"^(GET|PUT|DELETE)\s+(/api/v1/\S+)", dispositions.__doc__, re.M)
    assert len(routes) == 3
    for method, path in routes:
        op = SPEC["paths"][path][method.lower()]
        assert {"401", "503"} <= set(op["responses"]), (method, path)
