"""The dispatch table: AMI event name -> the handler of its translated event class (or of the raw message).

Handlers register with ``@on(EventClass, "Name", ...)``: the handler is typed on that concrete class, and
``CallTracker.feed`` calls it only with an instance of it (the translator's builder for the name makes
it; a ``MalformedEvent`` becomes a StreamProblem instead). The commonest channel events need one or two
headers: they register with ``@light("Name")`` and read the lazy message with ``peek``, unsplit. A name
missing from ``ROUTES`` is skipped before its headers are split.

To read a new AMI event: give it a builder and an event class in ``translate.py``, then write its handler
in the module of what it changes (``channel_events``, ``queue_events``, ``dial_events``) with ``@on``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from cti.asterisk import translate as tr
from cti.asterisk.ami import Message
from cti.core.events import DomainEvent

if TYPE_CHECKING:
    from cti.asterisk.tracker.tracker import CallTracker

E = TypeVar("E", bound=tr.AmiEvent)
Handler = Callable[["CallTracker", E, list[DomainEvent]], None]
LightHandler = Callable[["CallTracker", Message, float, list[DomainEvent]], None]


# How one event name is handled: (cls, handler, light, only): a typed handler of ``cls``, or a light
# handler of the message; ``only`` = (header, value): only the messages of that name whose header has that
# value are translated (None: all). A plain tuple: the unpacking in ``feed`` is specialised for exact
# tuples only (a NamedTuple costs an iterator per message).
Route = tuple[
    type[tr.AmiEvent] | None,
    Callable[["CallTracker", Any, list[DomainEvent]], None] | None,
    LightHandler | None,
    tuple[str, str] | None,
]

ROUTES: dict[str, Route] = {}


def on(cls: type[E], *names: str, only: tuple[str, str] | None = None) -> Callable[[Handler[E]], Handler[E]]:
    """Register a handler of the translated event class ``cls`` for the events ``names``."""

    def register(handler: Handler[E]) -> Handler[E]:
        for name in names:
            if tr.BUILDERS.get(name) is None:
                raise ValueError(f"{name}: the translator has no builder for it")
            if name in ROUTES:
                raise ValueError(f"{name}: already handled")
            ROUTES[name] = (cls, handler, None, only)
        return handler

    return register


def light(*names: str) -> Callable[[LightHandler], LightHandler]:
    """Register a handler of the raw (lazy) message for the events ``names``."""

    def register(handler: LightHandler) -> LightHandler:
        for name in names:
            if name in ROUTES:
                raise ValueError(f"{name}: already handled")
            ROUTES[name] = (None, None, handler, None)
        return handler

    return register
