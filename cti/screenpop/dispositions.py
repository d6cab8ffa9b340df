"""The inbound disposition list at the desk (issue #12): the store's codes, checked dispositions, and
the supervisors' edits pushed to every console (cti.core.dispositions, docs/design/dispositions.md).

The list is read from the store at start (after seeding it from the configuration when empty) and kept
in memory: a disposition is checked without a query. A supervisor's ``dispositions`` command (add,
remove) writes the store, reads the list back and pushes it (``dispositions``) to every console; the
snapshot carries it too, so a console that connects later has it.

Another instance (or ``cti store dispositions``) may change the store's list: ``run`` reads it again
every ``refresh_seconds`` and pushes it when it changed, and a code this instance does not know is looked
up in the store once before it is refused, so a code just added elsewhere is never refused.
"""

from __future__ import annotations

import asyncio
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
    def __init__(self, rows: DispositionRows, consoles: Listeners, refresh_seconds: float = 30.0) -> None:
        self.rows = rows
        self.consoles = consoles
        self.refresh_seconds = refresh_seconds
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

    async def refresh(self) -> bool:
        """Read the store's list again; pushed (True) only when it changed."""
        codes = await self.rows.codes()
        if codes == self.codes:
            return False
        self.codes = codes
        self.consoles.dispositions_changed(self.view())
        return True

    async def run(self) -> None:
        """The daemon's component: the list as another instance or the CLI left it."""
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                await self.refresh()
            except Exception as e:  # the store is down: the list in memory serves meanwhile
                log.warning("the disposition list could not be read again: %s", e)

    def view(self) -> list[dict[str, Any]]:
        """What the consoles get: the active codes, in order."""
        return [c.to_json() for c in self.codes if c.active]

    async def choose(self, code: str, queue: str | None, callback_at: float | None) -> Code:
        """``code`` checked for a call of ``queue`` (cti.core.dispositions.choose); a code not known here
        is looked up in the store first (added by another instance since the last refresh)."""
        if not any(c.code == code for c in self.codes):
            await self.refresh()
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
