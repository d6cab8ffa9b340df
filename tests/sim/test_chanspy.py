"""ChanSpy as an Originate application (apps/app_chanspy.c): a supervisor's phone spies on an agent's
channel, ChanSpyStart/ChanSpyStop with their Spyer/Spyee blocks, the DTMF mode switch, the end with E."""

from __future__ import annotations

from dataclasses import replace

from cti.sim.chanspy import Spy, spy_options
from cti.sim.scenario import Dist, transcript_pbx
from tests.sim.model_harness import Harness


def _talking() -> tuple[Harness, str]:
    """A caller talking to an agent for 30 s; the agent's ;1 channel (the one the call tracker names)."""
    sc = transcript_pbx()
    sc = replace(sc, agents=tuple(replace(a, talk_time=Dist("constant", 30.0)) for a in sc.agents))
    h = Harness(sc)
    h.caller("5550001", "sales", patience=600, talk=None)
    h.run(5)
    enter = [e for e in h.named("BridgeEnter") if "@agents-" in e["Channel"] and e["Channel"].endswith(";1")]
    assert enter, "the agent's leg never entered the bridge"
    return h, enter[0]["Channel"]


def _spy(h: Harness, data: str, channel: str = "PJSIP/2001") -> Spy:
    spy = h.pbx.originate_app(channel, "ChanSpy", data, "2001", "Sam", {}, "spy-1", "spyer-1", 30.0)
    assert spy is not None
    return spy


def test_the_spyer_answers_then_chanspystart_names_both_channels_in_their_blocks() -> None:
    h, agent = _talking()
    _spy(h, f"{agent},qES")
    h.run(2)
    (resp,) = h.named("OriginateResponse", ActionID="spy-1")
    assert resp["Response"] == "Success" and resp["Reason"] == "4" and resp["Uniqueid"] == "spyer-1"
    (start,) = h.named("ChanSpyStart")
    assert start["SpyerChannel"].startswith("PJSIP/2001-") and start["SpyerUniqueid"] == "spyer-1"
    assert start["SpyerChannelState"] == "6" and start["SpyerChannelStateDesc"] == "Up"
    assert start["SpyeeChannel"] == agent
    for block in ("Spyer", "Spyee"):  # the whole channel block, as ast_manager_build_channel_state_string
        for key in ("ChannelState", "CallerIDNum", "ConnectedLineNum", "Context", "Exten", "Linkedid"):
            assert block + key in start, (block, key)
    assert start["Privilege"] == "call,all"
    assert not h.named("ChanSpyStop")


def test_the_spyer_ends_with_the_spyee_under_e_stop_before_its_hangup() -> None:
    h, agent = _talking()
    spy = _spy(h, f"{agent},qES")
    h.run(2)
    spyer = h.named("ChanSpyStart")[0]["SpyerChannel"]
    h.run(40)  # the agent's talk time ends: the agent hangs up
    names = [(e["Event"], e.get("Channel") or e.get("SpyerChannel")) for e in h.events]
    agent_gone = names.index(("Hangup", agent))
    stop = names.index(("ChanSpyStop", spyer))
    spyer_gone = names.index(("Hangup", spyer))
    assert agent_gone < stop < spyer_gone
    (stop_event,) = h.named("ChanSpyStop")
    assert not any(k.startswith("Spyee") for k in stop_event)  # publish_chanspy_message(chan, NULL, 0)
    assert spy.done and h.pbx.channels.find(spyer) is None and not h.pbx.spies


def test_without_e_the_spyer_stays_up_after_the_spyee_hangs_up() -> None:
    h, agent = _talking()
    _spy(h, f"{agent},q")
    h.run(40)
    spyer = h.named("ChanSpyStart")[0]["SpyerChannel"]
    assert h.named("ChanSpyStop") and h.pbx.channels.find(spyer) is not None
    h.pbx.hangup_channel(h.pbx.channels.find(spyer), 16)  # type: ignore[arg-type]
    assert h.named("Hangup", Channel=spyer)


def test_hanging_up_the_spyer_stops_spying_and_leaves_the_call_up() -> None:
    h, agent = _talking()
    _spy(h, f"{agent},qEw")
    h.run(2)
    spyer = h.pbx.channels.find(h.named("ChanSpyStart")[0]["SpyerChannel"])
    assert spyer is not None
    h.pbx.hangup_channel(spyer, 16)
    events = [e["Event"] for e in h.events[-2:]]
    assert events == ["ChanSpyStop", "Hangup"]
    assert h.pbx.channels.find(agent) is not None


def test_with_s_and_no_matching_channel_the_spyer_hangs_up() -> None:
    h = Harness(transcript_pbx())
    spy = _spy(h, "Local/1001@agents-,qES")
    h.run(3)
    assert not h.named("ChanSpyStart") and spy.done
    assert h.named("Hangup", Uniqueid="spyer-1")


def test_options_pick_the_mode_and_dtmf_4_5_6_switch_it_only_when_received_with_d() -> None:
    h, agent = _talking()
    spy = _spy(h, f"{agent},qESdw")
    h.run(2)
    assert spy.mode == "whisper"
    h.pbx.play_dtmf(spy.spyer, "6", True, 100)
    assert spy.mode == "barge"
    h.pbx.play_dtmf(spy.spyer, "4", False, 100)  # sent out to the phone: ChanSpy never reads it
    assert spy.mode == "barge"
    h.pbx.play_dtmf(spy.spyer, "4", True, 100)
    assert spy.mode == "spy"
    (dtmf, *_) = h.named("DTMFEnd", Digit="6")
    assert dtmf["Direction"] == "Received" and dtmf["Channel"] == spy.spyer.name
    plain = _spy(h, f"{agent},qE", channel="PJSIP/2002")  # no d: digits build a channel name instead
    h.run(2)
    h.pbx.play_dtmf(plain.spyer, "6", True, 100)
    assert plain.mode == "spy"
    assert _spy(h, f"{agent},qEB", channel="PJSIP/2003").mode == "barge"


def test_option_arguments_are_not_read_as_letters() -> None:
    assert spy_options("SIP/1001,qv(-2)E") == ("SIP/1001", "qvE")
    assert spy_options("PJSIP/1001-0000000a") == ("PJSIP/1001-0000000a", "")


def test_another_application_fails_with_reason_zero_and_no_channel() -> None:
    h = Harness(transcript_pbx())
    assert h.pbx.originate_app("PJSIP/2001", "Playback", "beep", "", "", {}, "x", None, 30.0) is None
    (resp,) = h.named("OriginateResponse")
    assert resp["Response"] == "Failure" and resp["Reason"] == "0" and not len(h.pbx.channels)
