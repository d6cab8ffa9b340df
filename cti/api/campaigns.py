"""The campaigns' routes of the HTTP API (supervisors; docs/api.json), over cti.delivery.campaigns.

======  =====================================  =========================================================
GET     /api/v1/campaigns                      every campaign's settings and state
POST    /api/v1/campaigns                      create: ``{name, settings}`` -> 201 ``{campaign}``
GET     /api/v1/campaigns/{name}               the campaign's figures (dials, contacts, windows, live)
PUT     /api/v1/campaigns/{name}               edit: ``{settings}`` -> ``{campaign}``
POST    /api/v1/campaigns/{name}/start         start (also ``/pause``, ``/end``) -> ``{campaign}``
POST    /api/v1/campaigns/{name}/leads?list=L  a CSV body (text/csv) into lead list L -> ``{report}``
======  =====================================  =========================================================

An agent's token gets 403; a bad setting 400 ``{"error": "bad_request", "field", "reason"}``; an unknown
campaign 404. ``partial=false`` in the query of ``/leads``: nothing is imported when a row is bad.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from cti.api.http import HttpError, Request, Response
from cti.dialer.settings import SettingError
from cti.screenpop.actions import CampaignActions
from cti.screenpop.tokens import Identity

PREFIX = "/api/v1/campaigns"


async def route(
    actions: CampaignActions | None,
    req: Request,
    path: str,
    identity: Callable[[Request], Identity],
    body: Callable[[Request], dict[str, Any]],
    method: Callable[..., None],
) -> Response:
    who = identity(req)
    if not who.supervisor:
        raise HttpError(403, {"error": "forbidden", "reason": "campaigns are managed by supervisors"})
    if actions is None:
        raise HttpError(503, {"error": "unavailable", "reason": "no campaign store"})
    parts = [urllib.parse.unquote(p) for p in path[len(PREFIX) :].split("/") if p]
    call: Callable[[], Awaitable[dict[str, Any]]]
    status = 200
    if not parts:
        method(req, "GET", "POST")
        if req.method == "GET":
            call = actions.list
        else:
            doc = body(req)
            unknown = set(doc) - {"name", "settings"}
            if unknown:
                raise _bad(sorted(unknown)[0], "unknown field")
            status = 201
            call = lambda: actions.create(doc.get("name"), _settings(doc))  # noqa: E731
    elif len(parts) == 1:
        method(req, "GET", "PUT")
        name = parts[0]
        if req.method == "GET":
            call = lambda: actions.figures(name)  # noqa: E731
        else:
            doc = body(req)
            call = lambda: actions.update(name, _settings(doc))  # noqa: E731
    elif len(parts) == 2 and parts[1] in ("start", "pause", "end"):
        method(req, "POST")
        name, op = parts
        call = lambda: actions.move(name, op)  # noqa: E731
    elif len(parts) == 2 and parts[1] == "leads":
        method(req, "POST")
        call = _upload(actions, req, parts[0])
    else:
        raise HttpError(404, {"error": "not_found", "reason": f"no such resource: {path[:100]}"})
    try:
        return Response(status, await call())
    except SettingError as e:
        raise _bad(e.field, e.reason) from None
    except LookupError as e:
        raise HttpError(404, {"error": "not_found", "reason": str(e)}) from None


def _bad(field: str, reason: str) -> HttpError:
    return HttpError(400, {"error": "bad_request", "field": field, "reason": reason})


def _settings(doc: dict[str, Any]) -> dict[str, Any]:
    settings = doc.get("settings", {})
    if not isinstance(settings, dict):
        raise _bad("settings", "must be an object")
    return settings


def _upload(actions: CampaignActions, req: Request, name: str) -> Callable[[], Awaitable[dict[str, Any]]]:
    kind = req.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("text/csv", "text/plain"):
        raise HttpError(415, {"error": "unsupported_media_type", "reason": "send text/csv"})
    query = urllib.parse.parse_qs(req.query)
    lead_list = (query.get("list") or ["main"])[-1]
    partial = (query.get("partial") or ["true"])[-1]
    if partial not in ("true", "false"):
        raise _bad("partial", "must be true or false")
    try:
        text = req.body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _bad("body", "not UTF-8: save the CSV as UTF-8") from None
    return lambda: actions.upload(name, lead_list, text, partial == "true")
