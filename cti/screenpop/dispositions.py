"""The inbound disposition list at the desk (issue #12): the store's codes, checked dispositions, and
the supervisors' edits pushed to every console (cti.core.dispositions, docs/design/dispositions.md).

The list is read from the store at start (after seeding it from the configuration when empty) and kept
in memory: a disposition is checked without a query. A supervisor's ``dispositions`` command (add,
remove) writes the store, reads the list back and pushes it (``dispositions``) to every console; the
snapshot carries it too, so a console that connects later has it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from cti.core.dispositions import Code, DispositionError, build, choose

log = logging.getLogger("cti.screenpop.dispositions")


class DispositionRows(Protocol):
    """``store.dispositions`` (cti.store.dispositions_repo)."""

    async def codes(self, *, active_only: bool = False) -> list[Code]: ...

    async def put(self, code: Code, *, at: float | None = None) -> bool: ...

    async def remove(self, code: str) -> bool: ...

    async def seed(self, codes: Iterable[Code], *, at: float | None = None) -> int: ...


class Listeners(Protocol):
    def dispositions_changed(self, codes: Sequence[dict[str, Any]]) -> None: ...


class DispositionList:
    def __init__(self, rows: DispositionRows, consoles: Listeners) -> None:
        self.rows = rows
        self.consoles = consoles
        self.codes: list[Code] = []

    async def load(self, seed: Iterable[Code] = ()) -> None:
        """Seed the store when its list is empty, then read it (and push it)."""
        added = await self.rows.seed(seed)
        if added:
            log.info("disposition list seeded from the configuration: %d codes", added)
        await self.reload()

    async def reload(self) -> None:
        self.codes = await self.rows.codes()
        self.consoles.dispositions_changed(self.view())

    def view(self) -> list[dict[str, Any]]:
        """What the consoles get: the active codes, in order."""
        return [c.to_json() for c in self.codes if c.active]

    def choose(self, code: str, queue: str | None, callback_at: float | None) -> Code:
        return choose(self.codes, code, queue, callback_at)

    async def add(self, fields: dict[str, Any]) -> Code:
        code = build(fields, fields.get("position", self._next_position(str(fields.get("code", "")))))
        await self.rows.put(code)
        await self.reload()
        return code

    async def remove(self, code: str) -> None:
        if not await self.rows.remove(code):
            raise DispositionError("unknown_disposition", "code", f"{code[:64]!r} is not a disposition code")
        await self.reload()

    def _next_position(self, code: str) -> int:
        same = next((c for c in self.codes if c.code == code), None)
        if same is not None:
            return same.position
        return max((c.position for c in self.codes), default=-1) + 1
