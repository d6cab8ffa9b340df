"""A campaign's settings as the store keeps them, their checks, and its run state's transition table.

Pure (no I/O): the store (cti.store.campaign_settings_repo) saves and loads :class:`CampaignSettings`,
the campaign page (cti.delivery.campaigns) validates what a supervisor sends with :func:`apply`, the
daemon's dialer runs the campaigns whose state is ``running`` (docs/design/dialer.md "Campaign settings").

States: ``draft`` (created, never started) -> ``running`` <-> ``paused``; any -> ``ended`` (final).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cti.dialer.compliance import CRTC_LIMIT, FTC_LIMIT, OFCOM_LIMIT, Window
from cti.dialer.eligibility import Recycle
from cti.dialer.recycling import Disposition, RuleError, check_dispositions, check_rules

DIAL_MODES = ("preview", "progressive", "predictive", "agentless")
AMD_MACHINE = ("hangup", "message")
MAX_SCRIPT = 4000
MAX_BLENDED = 200

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_AGENT = re.compile(r"^[\w .@'-]{1,64}$", re.UNICODE)
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_CALLER_ID = re.compile(r"^[\w \"<>+().-]{0,80}$", re.UNICODE)


class Regime(enum.StrEnum):
    """Whose abandon-rate rule the campaign is held to: its windows and its limit."""

    FTC = "ftc"  # US: 3 % over 30 days (and the campaign's life)
    OFCOM = "ofcom"  # UK: 3 % over 24 h, AMD false positives counted
    CRTC = "crtc"  # Canada: 5 % over the calendar month


REGIME_LIMIT = {Regime.FTC: FTC_LIMIT, Regime.OFCOM: OFCOM_LIMIT, Regime.CRTC: CRTC_LIMIT}
REGIME_WINDOWS = {
    Regime.FTC: (Window.FTC_30D, Window.FTC_LIFE),
    Regime.OFCOM: (Window.OFCOM_24H,),
    Regime.CRTC: (Window.CRTC_MONTH,),
}


class State(enum.StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    ENDED = "ended"


class Op(enum.StrEnum):
    START = "start"
    PAUSE = "pause"
    END = "end"


TRANSITIONS: dict[tuple[State, Op], State] = {
    (State.DRAFT, Op.START): State.RUNNING,
    (State.PAUSED, Op.START): State.RUNNING,
    (State.RUNNING, Op.PAUSE): State.PAUSED,
    (State.DRAFT, Op.END): State.ENDED,
    (State.RUNNING, Op.END): State.ENDED,
    (State.PAUSED, Op.END): State.ENDED,
}


class SettingError(ValueError):
    """A setting refused: ``field`` and the ``reason`` (the page shows both; the API answers 400)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True, slots=True)
class CampaignSettings:
    name: str
    mode: str = "progressive"
    queue: str = ""
    channel: str = "PJSIP/{number}@trunk"  # {number}: E.164 without '+', {e164}: with it
    caller_id: str = ""
    max_lines: int = 10  # the trunk capacity the campaign may use at once
    ring_timeout: float = 25.0
    amd_machine: str = "hangup"
    script: str = ""
    blended: tuple[str, ...] = ()
    call_from_hour: int = 8  # the call window, in the lead's local time: [from, to)
    call_to_hour: int = 21
    regime: Regime = Regime.FTC
    abandon_target: float | None = None  # None: the regime's limit; else at most that limit
    budget: float | None = None  # the campaign's spend (cost per conversion in the campaign report)
    currency: str = ""
    # outcome -> Recycle, the rules set for this campaign (cti.dialer.recycling; the others: its defaults)
    recycling: tuple[tuple[str, Recycle], ...] = ()
    dispositions: tuple[Disposition, ...] = ()  # the codes its agents choose from (campaign_dispositions)
    state: State = State.DRAFT

    @property
    def target(self) -> float:
        """The abandon rate the campaign aims at (never above its regime's limit)."""
        return REGIME_LIMIT[self.regime] if self.abandon_target is None else self.abandon_target

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["blended"] = list(self.blended)
        out["recycling"] = {k: {"delay": r.delay, "max": r.max_attempts} for k, r in self.recycling}
        out["dispositions"] = [dataclasses.asdict(d) for d in self.dispositions]
        out["regime"], out["state"] = self.regime.value, self.state.value
        out["limit"] = REGIME_LIMIT[self.regime]
        out["windows"] = [w.value for w in REGIME_WINDOWS[self.regime]]
        return out


EDITABLE = tuple(f.name for f in dataclasses.fields(CampaignSettings) if f.name not in ("name", "state"))
# what [[dialer.campaign]] in cti.toml sets (and overwrites at each start); the others are the store's
FROM_CONFIG = ("mode", "queue", "channel", "caller_id", "max_lines", "ring_timeout", "amd_machine", "script")


def check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise SettingError(
            "name", "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def _int(field: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SettingError(field, f"must be a whole number from {low} to {high}")
    return value


def _float(field: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SettingError(field, "must be a number")
    if not low <= value <= high:
        raise SettingError(field, f"must be from {low:g} to {high:g}")
    return float(value)


def _text(field: str, value: object, limit: int, *, lines: bool = False) -> str:
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise SettingError(field, f"must be text of at most {limit} characters")
    if not lines and ("\n" in value or "\r" in value):
        raise SettingError(field, "must be a single line")
    return value


def _one_of(field: str, value: object, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise SettingError(field, f"must be one of {', '.join(allowed)}")
    return str(value)


def _field(key: str, value: Any) -> Any:
    """One setting's checked value."""
    match key:
        case "mode":
            return _one_of(key, value, DIAL_MODES)
        case "queue":
            return _text(key, value, 64)
        case "channel":
            text = _text(key, value, 200)
            if ("{number}" not in text and "{e164}" not in text) or "/" not in text:
                raise SettingError(key, "must be a dial string with {number}: PJSIP/{number}@trunk")
            try:
                text.format(number="1", e164="+1")
            except (KeyError, IndexError, ValueError):
                raise SettingError(key, "only {number} and {e164} may be in braces") from None
            return text
        case "caller_id":
            text = _text(key, value, 80)
            if not _CALLER_ID.match(text):
                raise SettingError(key, 'must be a number or "Name" <number>')
            return text
        case "max_lines":
            return _int(key, value, 1, 1000)
        case "ring_timeout":
            return _float(key, value, 15, 120)  # the FTC asks for at least 15 s
        case "amd_machine":
            return _one_of(key, value, AMD_MACHINE)
        case "script":
            return _text(key, value, MAX_SCRIPT, lines=True)
        case "blended":
            if not isinstance(value, list | tuple) or len(value) > MAX_BLENDED:
                raise SettingError(key, f"must be a list of at most {MAX_BLENDED} agent names")
            for agent in value:
                if not isinstance(agent, str) or not _AGENT.match(agent):
                    raise SettingError(key, "an agent's name has characters that are not allowed")
            return tuple(dict.fromkeys(value))
        case "call_from_hour":
            return _int(key, value, 0, 23)
        case "call_to_hour":
            return _int(key, value, 1, 24)
        case "regime":
            return Regime(_one_of(key, value, tuple(r.value for r in Regime)))
        case "abandon_target":
            return None if value is None else _float(key, value, 0, 1)
        case "budget":
            return None if value is None else _float(key, value, 0, 1e12)
        case "currency":
            text = _text(key, value, 3)
            if text and not _CURRENCY.match(text):
                raise SettingError(key, "must be an ISO 4217 code such as USD, or empty")
            return text
        case "recycling":
            try:
                return tuple(sorted(check_rules(value).items()))
            except RuleError as e:
                raise SettingError(key, e.reason if e.key == key else f"{e.key}: {e.reason}") from None
        case "dispositions":
            try:
                return check_dispositions(value)
            except RuleError as e:
                raise SettingError(key, e.reason if e.key == key else f"{e.key}: {e.reason}") from None
        case _:
            raise SettingError(key, "unknown setting")


def apply(base: CampaignSettings, changes: Mapping[str, Any]) -> CampaignSettings:
    """``base`` with ``changes`` (setting -> value) checked and applied; the first bad one raises."""
    if not isinstance(changes, Mapping):
        raise SettingError("settings", "must be an object")
    values = {key: _field(str(key), value) for key, value in changes.items()}
    out = dataclasses.replace(base, **values)
    if out.call_from_hour >= out.call_to_hour:
        field = "call_to_hour" if "call_to_hour" in changes else "call_from_hour"
        raise SettingError(field, "the call window must end after it starts (lead-local hours)")
    if out.abandon_target is not None and out.abandon_target > REGIME_LIMIT[out.regime]:
        limit = REGIME_LIMIT[out.regime]
        raise SettingError("abandon_target", f"is above the {out.regime.value} limit of {limit:.0%}")
    if out.mode != "agentless" and not out.queue:
        raise SettingError("queue", f"a {out.mode} campaign needs the queue whose agents take its calls")
    if out.budget is not None and not out.currency:
        out = dataclasses.replace(out, currency="USD")
    return out


def new(name: object, changes: Mapping[str, Any]) -> CampaignSettings:
    """A new campaign (a draft) named ``name`` with ``changes`` over the defaults."""
    return apply(CampaignSettings(check_name(name)), changes)


def move(settings: CampaignSettings, op: str) -> CampaignSettings:
    """The campaign after ``op`` (start, pause, end); a move the table does not have raises."""
    try:
        nxt = TRANSITIONS.get((settings.state, Op(op)))
    except ValueError:
        raise SettingError("op", f"must be one of {', '.join(o.value for o in Op)}") from None
    if nxt is None:
        raise SettingError("state", f"a {settings.state.value} campaign cannot {op}")
    return dataclasses.replace(settings, state=nxt)


def seeded(existing: CampaignSettings | None, name: str, values: Mapping[str, Any]) -> CampaignSettings:
    """A campaign of cti.toml at start: its FROM_CONFIG values win over the store's; the store keeps the
    rest (hours, regime, budget, state); its recycling rules and dispositions win when it names any.
    A draft is started: cti.toml campaigns dial from the start, as
    before; a campaign paused or ended on the page stays so across restarts."""
    base = existing if existing is not None else CampaignSettings(name)
    out = dataclasses.replace(base, **{k: values[k] for k in FROM_CONFIG if k in values})
    if "blended" in values:
        out = dataclasses.replace(out, blended=tuple(values["blended"]))
    if values.get("recycling"):  # named in cti.toml: it wins; left out: the store's (the page's) stay
        out = dataclasses.replace(out, recycling=_field("recycling", values["recycling"]))
    if values.get("disposition"):
        out = dataclasses.replace(out, dispositions=_field("dispositions", values["disposition"]))
    return move(out, Op.START) if out.state is State.DRAFT else out
