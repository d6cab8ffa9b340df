"""The hub's resume log (``cti.screenpop.hub._Log``) in chunks behaves as a deque bounded by
``limit`` from which messages older than a horizon are forgotten, and a full pass of the garbage
collector visits a chunk, not every message."""

from __future__ import annotations

import collections
import gc

from hypothesis import given, settings
from hypothesis import strategies as st

from cti.screenpop.hub import _CHUNK, _Log, _Logged
from tests.conftest import examples

# an operation: ("add", time step) or ("prune", how far back the horizon is)
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 3)),
        st.tuples(st.just("prune"), st.integers(0, 40)),
    ),
    max_size=700,
)


@settings(max_examples=examples(60))
@given(ops=_ops, limit=st.integers(1, 600))
def test_the_chunked_log_keeps_what_a_bounded_deque_would(ops: list[tuple[str, int]], limit: int) -> None:
    log, model = _Log(limit), collections.deque[_Logged](maxlen=limit)
    seq, now = 0, 0.0
    for op, n in ops:
        if op == "add":
            seq, now = seq + 1, now + n
            item: _Logged = (seq, now, f"m{seq}")
            log.append(item)
            model.append(item)
        else:
            log.prune(now - n)
            while model and model[0][1] < now - n:
                model.popleft()
        assert len(log) == len(model)
        assert list(log.newest_first()) == list(reversed(model))
        assert log.first_seq() == (model[0][0] if model else None)


def test_a_full_collection_visits_one_entry_per_chunk() -> None:
    log = _Log(10 * _CHUNK)
    for seq in range(10 * _CHUNK):
        log.append((seq, float(seq), f"message {seq}"))
    gc.collect()  # a tuple is untracked when the collector sees it after its items: two passes
    gc.collect()
    # what the collector traverses from the log: its sealed chunks, none of them tracked
    chunks = [o for o in gc.get_referents(log._sealed)]
    assert len(chunks) == 10 and not any(gc.is_tracked(c) for c in chunks)
