"""The campaigns' routes of the HTTP API (cti/api/campaigns.py) over a real socket: a supervisor creates,
edits, uploads a CSV (the rejected row reported), starts and pauses; bad input gets 400 with the field and
the reason, an unknown campaign 404, an agent 403; every route is in docs/api.json."""

from __future__ import annotations

import json
import re
from typing import Any

from cti.api import campaigns
from cti.app import Daemon
from tests.api.client import get, post, request
from tests.api.test_crm import daemon, port, token  # noqa: F401 - the fixture
from tests.api.test_openapi import SPEC


async def put(p: int, path: str, payload: object, tok: str) -> tuple[int, Any]:
    headers = {"content-type": "application/json", "authorization": f"Bearer {tok}"}
    status, _, body = await request(p, "PUT", path, json.dumps(payload).encode(), headers)
    return status, body


async def test_a_supervisor_runs_a_campaign_and_bad_input_names_the_field(daemon: Daemon) -> None:  # noqa: F811
    p, sup = port(daemon), await token(daemon, "super")
    base = "/api/v1/campaigns"
    status, body = await post(
        p, base, {"name": "spring", "settings": {"queue": "sales", "max_lines": 2}}, sup
    )
    assert status == 201 and body["campaign"]["state"] == "draft", body
    for payload, field in (
        ({"name": "x", "settings": {"queue": "nowhere"}}, "queue"),  # not a queue of [routing.queues]
        ({"name": "x", "settings": {"queue": "sales", "ring_timeout": "long"}}, "ring_timeout"),
        ({"name": "spring", "settings": {"queue": "sales"}}, "name"),  # exists
        ({"name": "x", "colour": "red"}, "colour"),
        ({"name": "x", "settings": []}, "settings"),
    ):
        status, body = await post(p, base, payload, sup)
        assert (status, body["error"], body["field"]) == (400, "bad_request", field), body
        assert body["reason"]
    status, body = await put(p, f"{base}/spring", {"settings": {"call_from_hour": 22}}, sup)
    assert (status, body["field"]) == (400, "call_from_hour")
    bad = {"settings": {"recycling": {"busy": {"delay": -1, "max": 2}}}}
    status, body = await put(p, f"{base}/spring", bad, sup)
    assert (status, body["field"]) == (400, "recycling") and "delay must be >= 0" in body["reason"], body
    good = {"recycling": {"busy": {"delay": 60, "max": 2}}, "dispositions": [{"code": "sale", "sale": True}]}
    status, body = await put(p, f"{base}/spring", {"settings": good}, sup)
    assert status == 200 and body["campaign"]["recycling"] == {"busy": {"delay": 60.0, "max": 2}}, body
    assert body["campaign"]["dispositions"] == [
        {"code": "sale", "final": True, "sale": True, "callback": False}
    ]
    status, body = await put(p, f"{base}/spring", {"settings": {"budget": 90, "regime": "ofcom"}}, sup)
    assert status == 200 and body["campaign"]["budget"] == 90.0 and body["campaign"]["limit"] == 0.03
    csv = b"name,phone,timezone\nA,+12125550101,\nB,12,\n"
    headers = {"content-type": "text/csv", "authorization": f"Bearer {sup}"}
    status, _, body = await request(p, "POST", f"{base}/spring/leads?list=l1", csv, headers)
    assert status == 200 and body["report"]["imported"] == 1, body
    assert [r["line"] for r in body["report"]["rejected"]] == [3]
    status, _, body = await request(p, "POST", f"{base}/spring/leads?partial=maybe", csv, headers)
    assert (status, body["field"]) == (400, "partial")
    assert (await post(p, f"{base}/spring/pause", {}, sup))[0] == 400  # a draft does not pause
    status, body = await post(p, f"{base}/spring/start", {}, sup)
    assert status == 200 and body["campaign"]["state"] == "running"
    status, body = await post(p, f"{base}/spring/pause", {}, sup)
    assert status == 200 and body["campaign"]["state"] == "paused"
    status, body = await get(p, f"{base}/spring", sup)
    assert status == 200 and body["leads"] == {"new": 1} and len(body["windows"]) == 4
    assert (await get(p, f"{base}/nope", sup))[0] == 404
    assert (await post(p, f"{base}/nope/start", {}, sup))[0] == 404
    status, body = await get(p, base, sup)
    assert [c["name"] for c in body["campaigns"]] == ["spring"]


async def test_agents_get_403_and_no_token_401(daemon: Daemon) -> None:  # noqa: F811
    p, alice = port(daemon), await token(daemon, "alice")
    assert (await get(p, "/api/v1/campaigns", alice))[0] == 403
    assert (await post(p, "/api/v1/campaigns", {"name": "x", "settings": {"queue": "sales"}}, alice))[
        0
    ] == 403
    assert (await post(p, "/api/v1/campaigns/x/start", {}, alice))[0] == 403
    assert (await get(p, "/api/v1/campaigns"))[0] == 401


def test_every_campaign_route_is_documented() -> None:
    assert campaigns.__doc__ is not None
    routes = re.findall(r"^(GET|POST|PUT)\s+(/api/v1/\S+)", campaigns.__doc__, re.M)
    assert len(routes) == 6
    for method, path in routes:
        path = path.split("?")[0].replace("{name}/start", "{name}/{action}")
        op = SPEC["paths"][path][method.lower()]
        assert {"400", "401", "403"} <= set(op["responses"]), (method, path)
