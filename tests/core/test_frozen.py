"""quick_constructor builds exact, still frozen instances, and refuses classes it cannot build exactly."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.core.events import CallerInfo, CallStarted
from cti.core.frozen import quick_constructor
from cti.core.ids import LinkedId, UniqueId
from cti.core.journey import Direction


@dataclasses.dataclass(frozen=True, slots=True)
class Base:
    at: float


@dataclasses.dataclass(frozen=True, slots=True)
class Point(Base):
    x: int
    label: str


@given(st.floats(allow_nan=False), st.integers(), st.text())
def test_a_quick_instance_is_the_class_itself_and_compares_hashes_and_shows_alike(
    at: float, x: int, label: str
) -> None:
    quick = quick_constructor(Point)(at, x, label)
    plain = Point(at, x, label)
    assert type(quick) is Point
    assert quick == plain and hash(quick) == hash(plain) and repr(quick) == repr(plain)
    assert dataclasses.astuple(quick) == (at, x, label)
    assert pickle.loads(pickle.dumps(quick)) == plain


def test_a_quick_instance_is_still_frozen() -> None:
    p = quick_constructor(Point)(1.0, 2, "a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.label
    assert p.x == 2 and p.label == "a"


def test_keywords_and_missing_arguments_behave_as_with_the_class() -> None:
    make = quick_constructor(Point)
    assert make(at=1.0, label="b", x=4) == Point(1.0, 4, "b")
    with pytest.raises(TypeError):
        make(1.0, 2)  # type: ignore[call-arg]  # the missing argument is the point


def test_domain_events_built_quickly_equal_the_ordinary_ones() -> None:
    caller = quick_constructor(CallerInfo)("100", "张伟 <b>")
    ev = quick_constructor(CallStarted)(
        1.5, "pbx", LinkedId("L1"), UniqueId("U1"), Direction.INBOUND, caller, "200"
    )
    assert ev == CallStarted(
        1.5, "pbx", LinkedId("L1"), UniqueId("U1"), Direction.INBOUND, CallerInfo("100", "张伟 <b>"), "200"
    )


def test_defaults_and_default_factories_apply_as_with_the_class() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class WithDefaults:
        a: int
        b: str = "x"
        c: list[int] = dataclasses.field(default_factory=list)

    make = quick_constructor(WithDefaults)
    one, two = make(1), make(1)
    assert one == WithDefaults(1, "x", []) and one.c is not two.c
    assert make(2, "y", [3]) == WithDefaults(2, "y", [3])


def test_classes_it_cannot_build_exactly_are_refused() -> None:
    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class KeywordOnly:
        a: int

    @dataclasses.dataclass(slots=True)
    class Mutable:
        a: int

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    for cls in (KeywordOnly, Mutable, NoSlots, PostInit, int):
        with pytest.raises(TypeError):
            quick_constructor(cls)
