"""The CRM API's routes (docs/api.json is their contract; README "HTTP API" shows a CRM calling them).

======  ==========================  ==============================================================
POST    /api/v1/login               ``{username, password}`` -> ``{token, expires_at, role, agent}``
POST    /api/v1/callbacks           request a callback: ``number`` (``at``, ``queue``, ``agent``, ``note``)
GET     /api/v1/callbacks?agent=A   an agent's open callbacks (an agent: its own)
GET     /api/v1/callers/{number}    the customer card the screen pop shows, and the number's callbacks
POST    /api/v1/calls               click-to-call: ``{number, agent?}`` rings the agent, then dials the number
======  ==========================  ==============================================================

And the campaigns' routes for supervisors (``/api/v1/campaigns``...): cti/api/campaigns.py; the inbound
disposition list (``/api/v1/dispositions``...): cti/api/dispositions.py.

Authentication: ``Authorization: Bearer <token>``, the consoles' tokens (cti.screenpop.tokens, the
daemon's one signer): a missing, malformed, forged or expired token gets 401 with the reason. Roles:
an agent acts only for itself (403 otherwise); a supervisor names the agent. Bad input gets 400 with
``{"error": "bad_request", "field", "reason"}``. Phone numbers are parsed with phonenumbers
(``+1 (212) 555-0100``, or national numbers in ``[store] default_country``).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from cti.api.campaigns import PREFIX
from cti.api.campaigns import route as campaign_route
from cti.api.dispositions import PREFIX as CODES
from cti.api.dispositions import route as disposition_route
from cti.api.http import HttpError, Request, Response
from cti.core.ids import AgentId
from cti.screenpop import protocol as p
from cti.screenpop.actions import CampaignActions, DeskError
from cti.screenpop.tokens import Identity, TokenError, TokenSigner
from cti.store import phones

MAX_NOTE = 4000


class Callbacks(Protocol):
    """cti.delivery.callbacks.CallbackService."""

    def check(self, number: str, at: float | None, queue: str | None) -> tuple[str, float | None, str]: ...

    async def request(
        self,
        number: str,
        queue: str,
        *,
        due_at: float | None = None,
        agent: AgentId | None = None,
        created_by: str = "",
        note: str = "",
    ) -> Any: ...

    async def of_agent(self, agent: AgentId) -> list[dict[str, Any]]: ...


class CallbackHistory(Protocol):
    async def of_number(self, number: str, *, limit: int = 20) -> list[Any]: ...


class Cards(Protocol):
    """The screen pop's caller directory (cti.screenpop.directory.CallerDirectory)."""

    def cached(self, number: str) -> Any: ...

    def request(self, number: str, done: Callable[[Any], None]) -> None: ...


class DeskPort(Protocol):
    async def run(self, identity: Identity, cmd: p.Command) -> dict[str, Any]: ...


class Accounts(Protocol):
    async def authenticate(self, username: str, password: str) -> Any: ...


def bad(field: str, reason: str) -> HttpError:
    return HttpError(400, {"error": "bad_request", "field": field, "reason": reason})


def forbidden(reason: str) -> HttpError:
    return HttpError(403, {"error": "forbidden", "reason": reason})


def parse_time(value: object, field: str = "at") -> float | None:
    """Epoch seconds, or an ISO 8601 date and time with its UTC offset (``2026-12-02T15:30:00+01:00``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise bad(field, "must be an ISO 8601 date and time with an offset, or epoch seconds")
    if isinstance(value, int | float):
        if not 0 < value < 1e11:
            raise bad(field, "epoch seconds out of range")
        return float(value)
    if not isinstance(value, str) or len(value) > 40:
        raise bad(field, "must be an ISO 8601 date and time with an offset, or epoch seconds")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise bad(field, f"{value!r} is not an ISO 8601 date and time") from None
    if when.tzinfo is None:
        raise bad(field, "needs a UTC offset (Z or +hh:mm): a time without one is ambiguous")
    return when.timestamp()


class CrmApi:
    def __init__(
        self,
        signer: TokenSigner,
        accounts: Accounts,
        *,
        desk: DeskPort | None = None,
        callbacks: Callbacks | None = None,
        history: CallbackHistory | None = None,
        cards: Cards | None = None,
        default_country: str = "US",
        lookup_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
        campaigns: CampaignActions | None = None,
    ) -> None:
        self.campaigns = campaigns  # the campaigns' routes (cti/api/campaigns.py)
        self.signer = signer
        self.accounts = accounts
        self.desk = desk
        self.callbacks = callbacks
        self.history = history
        self.cards = cards
        self.default_country = default_country
        self.lookup_timeout = lookup_timeout
        self.clock = clock

    async def __call__(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        if path == "/api/v1/login":
            self._method(req, "POST")
            return await self._login(self._json(req))
        if path == "/api/v1/callbacks":
            self._method(req, "GET", "POST")
            who = self._identity(req)
            if req.method == "GET":
                return await self._list_callbacks(who, urllib.parse.parse_qs(req.query))
            return await self._request_callback(who, self._json(req))
        if path.startswith("/api/v1/callers/"):
            self._method(req, "GET")
            who = self._identity(req)
            return await self._lookup(who, urllib.parse.unquote(path[len("/api/v1/callers/") :]))
        if path == "/api/v1/calls":
            self._method(req, "POST")
            return await self._click_to_call(self._identity(req), self._json(req))
        if path == PREFIX or path.startswith(PREFIX + "/"):  # cti/api/campaigns.py (supervisors)
            return await campaign_route(self.campaigns, req, path, self._identity, self._json, self._method)
        if path == CODES or path.startswith(CODES + "/"):  # cti/api/dispositions.py
            return await disposition_route(self.desk, req, path, self._identity, self._json, self._method)
        raise HttpError(404, {"error": "not_found", "reason": f"no such resource: {path[:100]}"})

    # ---- plumbing --------------------------------------------------------------------------------------
    def _method(self, req: Request, *allowed: str) -> None:
        if req.method not in allowed:
            raise HttpError(
                405,
                {
                    "error": "method_not_allowed",
                    "reason": f"use {' or '.join(allowed)}",
                    "allow": list(allowed),
                },
            )

    def _identity(self, req: Request) -> Identity:
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HttpError(401, {"error": "unauthorized", "reason": "missing bearer token"})
        try:
            return self.signer.verify(token.strip(), self.clock())
        except TokenError as e:
            raise HttpError(401, {"error": "unauthorized", "reason": f"token {e.reason}"}) from None

    def _json(self, req: Request) -> dict[str, Any]:
        kind = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise HttpError(415, {"error": "unsupported_media_type", "reason": "send application/json"})
        try:
            body = json.loads(req.body)
        except ValueError:
            raise bad("body", "not JSON") from None
        if not isinstance(body, dict):
            raise bad("body", "must be a JSON object")
        return body

    def _number(self, body: Mapping[str, Any], field: str = "number") -> str:
        value = body.get(field)
        if not isinstance(value, str) or not value.strip():
            raise bad(field, "is required: a phone number as text")
        if len(value) > 40:
            raise bad(field, "is longer than 40 characters")
        e164 = phones.normalize(value, self.default_country)
        if e164 is None:
            raise bad(field, f"{value!r} is not a valid phone number")
        return e164

    def _text(self, body: Mapping[str, Any], field: str, limit: int) -> str | None:
        value = body.get(field)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > limit or "\x00" in value:
            raise bad(field, f"must be text of at most {limit} characters")
        return value

    def _agent_for(self, who: Identity, body: Mapping[str, Any], *, required: bool) -> AgentId | None:
        """The agent an action is for: an agent token acts for itself only; a supervisor names one."""
        named = self._text(body, "agent", 100)
        if who.supervisor:
            if named is None and required:
                raise bad("agent", "a supervisor names the agent")
            return AgentId(named) if named else None
        if named is not None and named and named != who.agent:
            raise forbidden("an agent acts only for itself")
        return who.agent if (required or named) else None

    # ---- routes ------------------------------------------------------------------------------------------
    async def _login(self, body: Mapping[str, Any]) -> Response:
        username, password = self._text(body, "username", 200), self._text(body, "password", 1024)
        if not username:
            raise bad("username", "is required")
        if not password:
            raise bad("password", "is required")
        account = await self.accounts.authenticate(username, password)
        role = getattr(account, "role", None)
        member = getattr(account, "member_name", None)
        if account is None or role not in ("agent", "supervisor") or (role == "agent" and not member):
            await asyncio.sleep(1.0)  # slow down password guessing, as the console login does
            raise HttpError(401, {"error": "unauthorized", "reason": "wrong user name or password"})
        agent = AgentId(str(member)) if role == "agent" else None
        token, identity = self.signer.issue(username, role, agent, self.clock())
        return Response(
            200, {"token": token, "expires_at": identity.expires_at, "role": role, "agent": agent}
        )

    async def _request_callback(self, who: Identity, body: Mapping[str, Any]) -> Response:
        if self.callbacks is None:
            raise HttpError(503, {"error": "unavailable", "reason": "callbacks need [routing] enabled"})
        unknown = set(body) - {"number", "at", "queue", "agent", "note"}
        if unknown:
            raise bad(sorted(unknown)[0], "unknown field")
        number = self._number(body)
        at = parse_time(body.get("at"))
        queue = self._text(body, "queue", 64)
        note = self._text(body, "note", MAX_NOTE) or ""
        agent = self._agent_for(who, body, required=False)
        try:
            e164, due, name = self.callbacks.check(number, at, queue)
        except ValueError as e:
            raise bad(getattr(e, "field", "body"), getattr(e, "reason", str(e))) from None
        row = await self.callbacks.request(
            e164, name, due_at=due, agent=agent, created_by=who.agent or who.username, note=note
        )
        return Response(201, {"callback": row.to_json()})

    async def _list_callbacks(self, who: Identity, query: Mapping[str, list[str]]) -> Response:
        if self.callbacks is None:
            raise HttpError(503, {"error": "unavailable", "reason": "callbacks need [routing] enabled"})
        values = query.get("agent") or []
        named = values[-1] if values else None
        agent = self._agent_for(who, {"agent": named} if named else {}, required=True)
        assert agent is not None
        return Response(200, {"agent": agent, "callbacks": await self.callbacks.of_agent(agent)})

    async def _lookup(self, who: Identity, raw: str) -> Response:
        number = self._number({"number": raw})
        card = await self._card(number)
        callbacks = [r.to_json() for r in await self.history.of_number(number)] if self.history else []
        status = getattr(card, "status", "unavailable")
        data = getattr(card, "data", None) or {}
        return Response(200, {"number": number, "lookup": status, **data, "callbacks": callbacks})

    async def _card(self, number: str) -> Any:
        if self.cards is None:
            return None
        cached = self.cards.cached(number)
        if cached is not None:
            return cached
        loop = asyncio.get_running_loop()
        found: asyncio.Future[Any] = loop.create_future()

        def done(card: Any) -> None:
            if not found.done():
                found.set_result(card)

        self.cards.request(number, done)
        try:
            async with asyncio.timeout(self.lookup_timeout):
                return await found
        except TimeoutError:
            return None

    async def _click_to_call(self, who: Identity, body: Mapping[str, Any]) -> Response:
        if self.desk is None:
            raise HttpError(503, {"error": "unavailable", "reason": "no desk"})
        unknown = set(body) - {"number", "agent"}
        if unknown:
            raise bad(sorted(unknown)[0], "unknown field")
        number = self._number(body)
        agent = self._agent_for(who, body, required=True)
        assert agent is not None
        seat = Identity(who.username, "agent", agent, who.expires_at)  # the desk dials the agent's seat
        try:
            result = await self.desk.run(seat, p.Dial(None, number))
        except DeskError as e:
            status = 409 if e.code in ("unknown_agent", "no_server") else 502
            raise HttpError(status, {"error": e.code, "reason": e.message}) from None
        return Response(202, {"number": number, "agent": agent, **result})
