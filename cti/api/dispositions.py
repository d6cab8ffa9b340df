"""The inbound disposition list's routes of the HTTP API (docs/api.json), over the desk's
``dispositions`` command (cti.screenpop.dispositions): the same checks and the same push to the consoles.

======  =====================================  =========================================================
GET     /api/v1/dispositions                   the active codes, in order -> ``{dispositions}``
PUT     /api/v1/dispositions/{code}            supervisors: add or replace the code (``label``, ``outcome``,
                                               ``queues``, ``callback``, ``active``, ``position``)
DELETE  /api/v1/dispositions/{code}            supervisors: remove the code -> ``{dispositions}``
======  =====================================  =========================================================

An agent's token may list, not edit (403); a bad field is 400 ``{"error": "bad_disposition", "field",
"reason"}``; an unknown code 404.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from typing import Any, Protocol

from cti.api.http import HttpError, Request, Response
from cti.screenpop import protocol as p
from cti.screenpop.actions import DeskError
from cti.screenpop.tokens import Identity

PREFIX = "/api/v1/dispositions"
_FIELDS = frozenset({"label", "outcome", "queues", "callback", "active", "position"})
_STATUS = {"forbidden": 403, "bad_disposition": 400, "unknown_disposition": 404}


class Desk(Protocol):
    async def run(self, identity: Identity, cmd: p.Command) -> dict[str, Any]: ...


async def route(
    desk: Desk | None,
    req: Request,
    path: str,
    identity: Callable[[Request], Identity],
    body: Callable[[Request], dict[str, Any]],
    method: Callable[..., None],
) -> Response:
    who = identity(req)
    if desk is None:
        raise HttpError(503, {"error": "unavailable", "reason": "no disposition list"})
    code = urllib.parse.unquote(path[len(PREFIX) :].strip("/"))
    if not code:
        method(req, "GET")
        cmd = p.Dispositions(None, "list", "", {})
    else:
        method(req, "PUT", "DELETE")
        if req.method == "DELETE":
            cmd = p.Dispositions(None, "remove", code, {})
        else:
            doc = body(req)
            unknown = set(doc) - _FIELDS
            if unknown:
                raise HttpError(
                    400, {"error": "bad_disposition", "field": sorted(unknown)[0], "reason": "unknown field"}
                )
            cmd = p.Dispositions(None, "add", code, {**doc, "code": code})
    try:
        return Response(200, await desk.run(who, cmd))
    except DeskError as e:
        out: dict[str, Any] = {"error": e.code, "reason": e.message}
        if e.field is not None:
            out["field"] = e.field
        raise HttpError(_STATUS.get(e.code, 503), out) from None
