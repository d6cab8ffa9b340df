"""The campaign page's actions (``/campaigns``, supervisors): list, create, edit, upload a lead list,
start, pause, end, and each campaign's figures. Transport-neutral: the consoles' websocket (the
``campaign`` command, cti.screenpop.actions) and the HTTP API (cti.api.campaigns) both call it.

Checks are cti.dialer.settings' (a bad value raises ``SettingError`` with the field and the reason); the
settings and the run state are saved in the store (``store.campaign_settings``); the daemon's dialer, when
this process has one, re-reads them at once (``reload_soon``) and gives its live figures (lines in use);
other instances' dialers see the change within ``[dialer] reload_seconds``.

Figures of a campaign: dials, contacts (live answers), abandons and machines from the store's dial
records (every instance's), leads by status, the dialer's live state, and every compliance window's
abandon rate against its limit (cti.dialer.compliance, the same as ``cti campaign report``), the windows
of the campaign's regime marked.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from cti.dialer import settings as s
from cti.dialer.compliance import WindowState

MAX_CSV_CHARS = 2_000_000
MAX_LIST_NAME = 100


class NoCampaign(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no campaign {name[:64]!r}")
        self.name = name


class SettingsStore(Protocol):
    """``store.campaign_settings`` (cti.store.campaign_settings_repo.CampaignSettingsRepository)."""

    async def all(self) -> list[s.CampaignSettings]: ...

    async def get(self, name: str) -> s.CampaignSettings | None: ...

    async def create(self, c: s.CampaignSettings) -> None: ...

    async def save(self, c: s.CampaignSettings) -> None: ...

    async def figures(self, name: str, since: float | None = None) -> Any: ...


class Windows(Protocol):
    """``store.dial_attempts`` (cti.store.dial_attempts_repo.DialAttemptRepository)."""

    async def windows(self, campaign: str, now: float) -> Sequence[WindowState]: ...


class Leads(Protocol):
    """Lead lists: the list's id (created if needed), and a CSV file imported into it (the report)."""

    async def lead_list(self, campaign: str, name: str) -> int: ...

    async def import_file(self, list_id: int, path: Path, partial: bool) -> dict[str, Any]: ...


class LiveDialer(Protocol):
    """The daemon's dialer (cti.delivery.dialer.DialerService), when this process has one."""

    def reload_soon(self) -> None: ...

    def live(self, campaign: str) -> dict[str, Any]: ...


def window_json(w: WindowState, regime: s.Regime, target: float) -> dict[str, Any]:
    return {
        "window": w.window.value,
        "start": None if w.start is None else w.start.timestamp(),
        "end": w.end.timestamp(),
        "live_answers": w.live_answers,
        "abandons": round(w.abandons, 6),
        "rate": round(w.rate, 6),
        "limit": w.limit,
        "headroom": round(w.headroom, 6),
        "over_limit": w.over_limit,
        "over_target": w.rate > target,
        "regime": w.window in s.REGIME_WINDOWS[regime],
    }


class CampaignControl:
    def __init__(
        self,
        store: SettingsStore,
        windows: Windows,
        leads: Leads,
        *,
        dialer: LiveDialer | None = None,
        queues: Collection[str] | None = None,
        configured: Collection[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store, self.windows, self.leads = store, windows, leads
        self.dialer = dialer
        self.queues = None if queues is None else frozenset(queues)  # None: any queue name
        self.configured = frozenset(configured)  # the campaigns of cti.toml (it wins at each start)
        self.clock = clock

    async def _get(self, name: object) -> s.CampaignSettings:
        found = await self.store.get(s.check_name(name))
        if found is None:
            raise NoCampaign(str(name))
        return found

    def _check_queue(self, c: s.CampaignSettings) -> None:
        if self.queues is not None and c.mode != "agentless" and c.queue not in self.queues:
            raise s.SettingError("queue", f"{c.queue[:64]!r} is not a queue of [routing.queues]")

    def _changed(self) -> None:
        if self.dialer is not None:
            self.dialer.reload_soon()

    def _json(self, c: s.CampaignSettings) -> dict[str, Any]:
        return {**c.to_json(), "from_config": c.name in self.configured}

    async def list(self) -> dict[str, Any]:
        return {"campaigns": [self._json(c) for c in await self.store.all()]}

    async def create(self, name: object, fields: Mapping[str, Any]) -> dict[str, Any]:
        c = s.new(name, fields)
        self._check_queue(c)
        if await self.store.get(c.name) is not None:
            raise s.SettingError("name", f"a campaign named {c.name!r} exists")
        await self.store.create(c)
        return {"campaign": self._json(c)}

    async def update(self, name: object, fields: Mapping[str, Any]) -> dict[str, Any]:
        c = s.apply(await self._get(name), fields)
        self._check_queue(c)
        await self.store.save(c)
        self._changed()
        return {"campaign": self._json(c)}

    async def move(self, name: object, op: str) -> dict[str, Any]:
        c = s.move(await self._get(name), op)
        if c.state is s.State.RUNNING:
            self._check_queue(c)
        await self.store.save(c)
        self._changed()
        return {"campaign": self._json(c)}

    async def upload(self, name: object, list_name: object, text: object, partial: bool) -> dict[str, Any]:
        """A CSV (name, phone, timezone) into lead list ``list_name``: the import's report, every
        rejected row with its line and reason (``partial``: the good rows are kept, else none is)."""
        c = await self._get(name)
        if not isinstance(list_name, str) or not list_name.strip() or len(list_name) > MAX_LIST_NAME:
            raise s.SettingError("list", f"a lead list's name: 1 to {MAX_LIST_NAME} characters")
        if "\x00" in list_name or "\n" in list_name:
            raise s.SettingError("list", "must be a single line")
        if not isinstance(text, str) or not text.strip():
            raise s.SettingError("csv", "the CSV file is empty (it needs a header row: name,phone,timezone)")
        if len(text) > MAX_CSV_CHARS:
            raise s.SettingError("csv", f"over {MAX_CSV_CHARS} characters: import it with `cti store import`")
        list_id = await self.leads.lead_list(c.name, list_name.strip())
        path = await asyncio.to_thread(_spool, text)
        try:
            report = await self.leads.import_file(list_id, path, partial)
        finally:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(os.unlink, path)
        return {"campaign": c.name, "list": list_name.strip(), "report": report}

    async def figures(self, name: object) -> dict[str, Any]:
        c = await self._get(name)
        now = self.clock()
        stored = await self.store.figures(c.name)
        states = await self.windows.windows(c.name, now)
        live = self.dialer.live(c.name) if self.dialer is not None else None
        return {
            "campaign": c.name,
            "state": c.state.value,
            "at": now,
            "dials": stored.dials,
            "contacts": stored.contacts,
            "abandoned": stored.abandoned,
            "machines": stored.machines,
            "leads": stored.leads,
            "target": c.target,
            "regime": c.regime.value,
            "windows": [window_json(w, c.regime, c.target) for w in states],
            "live": live,
        }


def _spool(text: str) -> Path:
    fd, name = tempfile.mkstemp(prefix="cti-leads-", suffix=".csv")
    with os.fdopen(fd, "wb") as f:
        f.write(text.encode("utf-8"))
    return Path(name)


class StoreLeadImport:
    """``Leads`` over the store: ``store.campaigns.lead_list`` and cti.store.csvio.import_leads."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def lead_list(self, campaign: str, name: str) -> int:
        return int(await self.store.campaigns.lead_list(campaign, name))

    async def import_file(self, list_id: int, path: Path, partial: bool) -> dict[str, Any]:
        from cti.store.csvio import import_leads

        report = await import_leads(self.store, list_id, str(path), partial=partial)
        return {**report.to_json(), "summary": report.summary()}
