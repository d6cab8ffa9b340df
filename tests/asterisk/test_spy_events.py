"""ChanSpyStart/ChanSpyStop through the call tracker, on the simulator's events: SpyStarted/SpyStopped,
and the supervisor's phone (ChannelId spy-…) is never a call (no CallStarted, no CallEnded)."""

from __future__ import annotations

from dataclasses import replace

from cti.asterisk.ami import Message
from cti.asterisk.calls import CallTracker
from cti.core.events import CallEnded, CallStarted, DomainEvent, SpyStarted, SpyStopped
from cti.sim.scenario import Dist, transcript_pbx
from tests.sim.model_harness import Harness


def _feed(h: Harness) -> list[DomainEvent]:
    tracker = CallTracker("pbx1")
    out: list[DomainEvent] = []
    for e in h.events:
        out += tracker.feed(Message.of(*e.items()))
    return out


def test_a_spied_call_gives_spy_events_and_only_the_customers_call_is_recorded() -> None:
    sc = transcript_pbx()
    h = Harness(replace(sc, agents=tuple(replace(a, talk_time=Dist("constant", 20.0)) for a in sc.agents)))
    h.caller("5550001", "sales", patience=600, talk=None)
    h.run(5)
    agent = next(e["Channel"] for e in h.named("BridgeEnter") if "@agents-" in e["Channel"])
    h.pbx.originate_app("PJSIP/2001", "ChanSpy", f"{agent},qESd", "", "", {}, "a1", "spy-1234", 30.0)
    h.run(60)
    events = _feed(h)
    (started,) = [e for e in events if isinstance(e, SpyStarted)]
    assert (started.spyer_uniqueid, started.spyee_channel) == ("spy-1234", agent)
    assert started.spyer_channel.startswith("PJSIP/2001-") and started.spyee_linkedid
    chanspy_stop, phone_gone = [e for e in events if isinstance(e, SpyStopped)]
    assert chanspy_stop.spyer_channel == started.spyer_channel and chanspy_stop.at >= started.at
    assert phone_gone.spyer_uniqueid == "spy-1234"  # its Hangup ends the session too
    ended = [e.journey for e in events if isinstance(e, CallEnded)]
    assert [j.caller_number for j in ended] == ["5550001"]
    assert not [e for e in events if isinstance(e, CallStarted) and e.linkedid.startswith("spy-")]


def test_a_phone_that_found_nothing_to_spy_on_still_ends_the_session_when_it_hangs_up() -> None:
    h = Harness(transcript_pbx())
    h.pbx.originate_app("PJSIP/2001", "ChanSpy", "Local/1001@agents-,qES", "", "", {}, "a1", "spy-9", 30.0)
    h.run(5)  # answered, nothing matches, S: ChanSpy returns and the phone hangs up, no ChanSpyStop
    assert not h.named("ChanSpyStop")
    events = _feed(h)
    assert [(e.spyer_channel, e.spyer_uniqueid) for e in events if isinstance(e, SpyStopped)] == [
        ("", "spy-9")
    ]
    assert not [e for e in events if isinstance(e, CallEnded | CallStarted)]
