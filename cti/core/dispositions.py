"""The inbound disposition codes an agent may give a call (issue #12). Pure.

One list drives the agent's card and the reports: each code says what it means as an outcome
(``resolution``, ``sale`` or ``none``); the agent-performance report counts a code whose outcome is not
``none`` as a success and maps it to that outcome. A code may be offered only on the calls of some
queues (``queues``; empty: every call), may ask for a callback time (``callback``: the desk refuses the
disposition without one), and may be retired (``active`` false: no longer offered, still known to old
reports). ``position`` orders the list. The store keeps the list (cti.store.dispositions_repo); it is
seeded from ``[[disposition]]`` (or, without one, from ``[reports]``): docs/design/dispositions.md.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OUTCOMES = ("resolution", "sale", "none")
MAX_CODES = 200
_CODE = re.compile(r"^[\w][\w .'/&+-]{0,63}$", re.UNICODE)
_QUEUE = re.compile(r"^[\w .@'-]{1,80}$", re.UNICODE)
# the codes offered before the list was configurable (agent.js), kept as the default list
DEFAULT_CODES = ("resolved", "follow-up", "sale", "complaint", "wrong number", "no answer")


class DispositionError(Exception):
    """A code refused: ``code`` is the client's error code, ``field`` the offending field."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    label: str = ""  # what the agent reads; empty: the code itself (or the catalogue's word for it)
    outcome: str = "none"  # resolution, sale or none
    queues: tuple[str, ...] = ()  # offered on calls of these queues only; empty: on every call
    callback: bool = False  # a callback time is required
    active: bool = True
    position: int = 0

    @property
    def success(self) -> bool:
        return self.outcome != "none"

    def offered_on(self, queue: str | None) -> bool:
        return self.active and (not self.queues or (queue or "") in self.queues)

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "label": self.label,
            "outcome": self.outcome,
            "queues": list(self.queues),
            "callback": self.callback,
            "active": self.active,
            "position": self.position,
        }


def build(raw: Mapping[str, Any], position: int = 0) -> Code:
    """A checked code from its fields (a TOML table, a websocket command, a store row); a bad field is
    a ``DispositionError("bad_disposition", field, why)``."""

    def bad(field: str, why: str) -> DispositionError:
        return DispositionError("bad_disposition", field, why)

    code = raw.get("code")
    if not isinstance(code, str) or not _CODE.match(code.strip()) or code != code.strip():
        raise bad("code", "must be 1 to 64 letters, digits, spaces or . ' / & + - (no leading space)")
    label = raw.get("label", "")
    if not isinstance(label, str) or len(label) > 100 or "\n" in label or "\x00" in label:
        raise bad("label", "must be one line of at most 100 characters")
    outcome = raw.get("outcome", "none")
    if outcome not in OUTCOMES:
        raise bad("outcome", f"{outcome!r}: must be resolution, sale or none")
    queues = raw.get("queues", [])
    if not isinstance(queues, list | tuple) or len(queues) > 100:
        raise bad("queues", "must be a list of queue names")
    for q in queues:
        if not isinstance(q, str) or not _QUEUE.match(q):
            raise bad("queues", f"{str(q)[:40]!r} is not a queue name")
    flags = {}
    for name, default in (("callback", False), ("active", True)):
        value = raw.get(name, default)
        if not isinstance(value, bool):
            raise bad(name, "must be true or false")
        flags[name] = value
    order = raw.get("position", position)
    if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= 10_000:
        raise bad("position", "must be a whole number from 0 to 10000")
    return Code(
        code,
        label.strip(),
        str(outcome),
        tuple(dict.fromkeys(queues)),
        flags["callback"],
        flags["active"],
        order,
    )


def build_list(raws: Sequence[Mapping[str, Any]]) -> list[Code]:
    """Codes from a list of tables, in order (``position`` defaults to the place in the list); a
    duplicate code is refused. ``DispositionError.field`` is ``[i].<field>``."""
    out: list[Code] = []
    seen: set[str] = set()
    if len(raws) > MAX_CODES:
        raise DispositionError("bad_disposition", "", f"at most {MAX_CODES} codes")
    for i, raw in enumerate(raws):
        try:
            code = build(raw, i)
        except DispositionError as e:
            raise DispositionError(e.code, f"[{i}].{e.field}", e.message) from None
        if code.code.casefold() in seen:
            raise DispositionError("bad_disposition", f"[{i}].code", f"duplicate code {code.code!r}")
        seen.add(code.code.casefold())
        out.append(code)
    return out


def defaults(success: Collection[str], outcomes: Mapping[str, str]) -> list[Code]:
    """The list when ``[[disposition]]`` is not configured: the historical codes plus any ``[reports]``
    names, each with its ``[reports.outcomes]`` meaning (a success disposition without one: resolution)."""
    names = list(dict.fromkeys([*DEFAULT_CODES, *success, *outcomes]))
    return [Code(n, "", meaning(n, success, outcomes), position=i) for i, n in enumerate(names)]


def meaning(code: str, success: Collection[str], outcomes: Mapping[str, str]) -> str:
    """What ``[reports]`` says a code means: its outcome, else resolution if it counts as a success."""
    if code in outcomes:
        return outcomes[code]
    return "resolution" if code in success else "none"


def ordered(codes: Iterable[Code]) -> list[Code]:
    return sorted(codes, key=lambda c: (c.position, c.code.casefold()))


def report_outcomes(
    codes: Iterable[Code], success: Collection[str], outcomes: Mapping[str, str]
) -> tuple[set[str], dict[str, str]]:
    """The reports' success set and outcome map: ``[reports]`` (success_dispositions, outcomes) for the
    codes the list does not know, the list's own meaning for those it does (it wins)."""
    won = set(success)
    mapped = dict(outcomes)
    for c in codes:
        won.discard(c.code)
        mapped.pop(c.code, None)
        if c.success:
            won.add(c.code)
            mapped[c.code] = c.outcome
    return won, mapped


def choose(codes: Iterable[Code], code: str, queue: str | None, callback_at: float | None) -> Code:
    """The code an agent gave a call of ``queue``, checked against the list: ``unknown_disposition``
    (no such active code), ``disposition_not_offered`` (not for this queue), ``callback_required``."""
    found = next((c for c in codes if c.code == code and c.active), None)
    if found is None:
        raise DispositionError(
            "unknown_disposition", "disposition", f"{code[:64]!r} is not a disposition code"
        )
    if not found.offered_on(queue):
        raise DispositionError(
            "disposition_not_offered",
            "disposition",
            f"{code!r} is not offered on calls of {queue or 'no queue'}",
        )
    if found.callback and callback_at is None:
        raise DispositionError(
            "callback_required", "callback_at", f"{code!r} needs a callback time: say when to call back"
        )
    return found
