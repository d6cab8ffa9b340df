from collections.abc import Sequence

from cti.bus.local import Handler, LocalBus
from cti.core.events import DomainEvent
from tests.bus.events import inbound_call


def test_every_subscriber_gets_every_batch_in_order_with_its_origin() -> None:
    bus = LocalBus("a")
    seen: dict[str, list[tuple[str, str]]] = {"x": [], "y": []}

    def recorder(n: str) -> Handler:
        def handler(evs: Sequence[DomainEvent], origin: str) -> None:
            seen[n].extend((type(e).__name__, origin) for e in evs)

        return handler

    for name in seen:
        bus.subscribe(name, recorder(name))
    events = inbound_call()
    bus.publish(events[:3])
    bus.publish(events[3:])
    expected = [(type(e).__name__, "a") for e in events]
    assert seen == {"x": expected, "y": expected}
    assert bus.published == len(events)


def test_local_only_subscribers_do_not_see_other_instances_events() -> None:
    bus = LocalBus("a")
    local: list[str] = []
    everything: list[str] = []
    bus.subscribe("writer", lambda evs, origin: local.extend(origin for _ in evs), local_only=True)
    bus.subscribe("hub", lambda evs, origin: everything.extend(origin for _ in evs))
    bus.publish(inbound_call()[:1])
    bus.deliver_remote(inbound_call()[:2], "b")
    assert local == ["a"]
    assert everything == ["a", "b", "b"]
    assert bus.received == 2


def test_a_failing_subscriber_neither_stops_the_others_nor_the_publisher() -> None:
    bus = LocalBus("a")
    got: list[DomainEvent] = []

    def broken(evs: Sequence[DomainEvent], origin: str) -> None:
        raise RuntimeError("bug")

    bus.subscribe("broken", broken)
    bus.subscribe("ok", lambda evs, origin: got.extend(evs))
    bus.publish(inbound_call())
    bus.publish(inbound_call())
    assert len(got) == 2 * len(inbound_call())
    assert bus.handler_errors == 2
