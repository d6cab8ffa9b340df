"""Domain events to JSON and back, for the Redis bus and the resume log.

The encoding is generic over the frozen dataclasses of ``cti.core.events`` (and the journey records
they carry): ``{"event": "<ClassName>", "data": {...fields}}``; enums travel as their values, tuples as
lists. Decoding refuses unknown kinds and missing fields with ``ProtocolError``: another instance
speaking a newer version must not crash this one.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from enum import Enum
from typing import Any

from cti.core import events as ev
from cti.core.errors import ProtocolError

EVENT_KINDS: dict[str, type[ev.DomainEvent]] = {
    cls.__name__: cls
    for cls in vars(ev).values()
    if isinstance(cls, type) and issubclass(cls, ev.DomainEvent) and cls is not ev.DomainEvent
}
_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = typing.get_type_hints(cls)
        _HINTS[cls] = hints
    return hints


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def event_to_dict(event: ev.DomainEvent) -> dict[str, Any]:
    return {"event": type(event).__name__, "data": _plain(event)}


def _build(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _build(args[0], value, where)
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(value)
        except ValueError:
            raise ProtocolError(f"{where}: {value!r} is not a {tp.__name__}") from None
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ProtocolError(f"{where}: expected an object")
        return _record(tp, value, where)  # type: ignore[arg-type]
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ProtocolError(f"{where}: expected a list")
        (item,) = typing.get_args(tp)[:1]
        items = [_build(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ProtocolError(f"{where}: expected an object")
        return {str(k): str(v) for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProtocolError(f"{where}: expected a number")
        return float(value)
    # NewType ids are str at runtime
    return value


def _record(cls: type[Any], raw: dict[str, Any], where: str) -> Any:
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in raw:
            kwargs[f.name] = _build(hints[f.name], raw[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ProtocolError(f"{where}: missing field {f.name!r}")
    return cls(**kwargs)


def event_from_dict(raw: Any) -> ev.DomainEvent:
    if not isinstance(raw, dict):
        raise ProtocolError("event: expected an object")
    kind = raw.get("event")
    cls = EVENT_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"event: unknown kind {kind!r}")
    data = raw.get("data")
    if not isinstance(data, dict):
        raise ProtocolError(f"{kind}: expected a data object")
    event: ev.DomainEvent = _record(cls, data, kind)  # type: ignore[arg-type]
    return event


def dumps(events: typing.Sequence[ev.DomainEvent]) -> str:
    return json.dumps([event_to_dict(e) for e in events], ensure_ascii=False, separators=(",", ":"))


def loads(text: str | bytes) -> list[ev.DomainEvent]:
    try:
        raw = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise ProtocolError(f"events: not JSON: {e}") from None
    if not isinstance(raw, list):
        raise ProtocolError("events: expected a list")
    return [event_from_dict(r) for r in raw]


__all__ = ["EVENT_KINDS", "dumps", "event_from_dict", "event_to_dict", "loads"]
