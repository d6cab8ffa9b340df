"""The simulated dialplan: originate forms, the PSTN, agent phones, transfers, hold and Redirect."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from cti.sim.pbx import ActionError
from cti.sim.scenario import Dist, PstnSpec, transcript_pbx
from tests.sim.model_harness import Harness


def originate(h: Harness, channel: str, context: str = "dialer-connect", exten: str = "x", **kw: Any) -> None:
    h.pbx.originate(
        channel,
        context,
        exten,
        1,
        "4155559999",
        "Campaign",
        dict(kw.get("variables", {})),
        "a1",
        kw.get("channel_id"),
        None,
        float(kw.get("timeout", 8.0)),
    )


@pytest.mark.parametrize(
    ("digit", "reason", "cause"),
    [("1", "5", "17"), ("3", "8", "34"), ("2", "3", "19")],
)
def test_pstn_last_digit_failures_give_asterisks_reason_and_cause(
    digit: str, reason: str, cause: str
) -> None:
    h = Harness(transcript_pbx())
    originate(h, f"Local/415555010{digit}@pstn/n", channel_id="dial-1")
    h.run(10)
    resp = h.named("OriginateResponse")[0]
    assert (resp["Response"], resp["Reason"], resp["Channel"]) == (
        "Failure",
        reason,
        f"Local/415555010{digit}@pstn/n",
    )
    assert resp["Uniqueid"] == "dial-1"
    hangups = h.named("Hangup")
    assert hangups[-1]["Cause"] == cause and hangups[-1]["Uniqueid"] == "dial-1;2"


def test_pstn_answer_goes_to_dialer_connect_and_is_dropped_after_cwait_when_no_agent() -> None:
    sc = transcript_pbx()
    h = Harness(replace(sc, agents=tuple(replace(a, paused=True) for a in sc.agents)))
    originate(
        h,
        "Local/4155550100@pstn/n",
        exten="4155550100",
        channel_id="dial-0",
        variables={"CAMPAIGN": "spring"},
    )
    h.run(1.01)
    assert h.named("OriginateResponse")[0]["Reason"] == "4"
    h.run(5)
    drop = h.named("UserEvent", UserEvent="DialerDrop")
    assert drop and drop[0]["Campaign"] == "spring" and drop[0]["QueueStatus"] == "TIMEOUT"
    assert h.verbs("EXITWITHTIMEOUT")[0][1] == "dial-0"


def test_trunk_originate_draws_outcomes_from_the_pstn_mix() -> None:
    sc = replace(
        transcript_pbx(), pstn=PstnSpec(answer=0.0, busy=1.0, no_answer=0.0, congestion=0.0, machine=0.0)
    )
    h = Harness(sc)
    originate(h, "PJSIP/4155550123@trunk")
    h.run(5)
    resp = h.named("OriginateResponse")[0]
    assert resp["Reason"] == "5" and resp["Channel"] == "PJSIP/4155550123@trunk"
    assert h.named("Newchannel")[0]["Channel"].startswith("PJSIP/trunk-")


def test_unknown_channel_technology_fails_with_reason_zero_and_no_channel() -> None:
    h = Harness(transcript_pbx())
    originate(h, "Foo/bar")
    assert h.named("OriginateResponse")[0]["Reason"] == "0"
    assert not h.named("Newchannel")


def test_hold_raises_cti_waiting_and_redirect_delivers_to_the_agent() -> None:
    h = Harness(transcript_pbx())
    h.caller("13912345678", "hold", patience=30, talk=3)
    waiting = h.named("UserEvent", UserEvent="CtiWaiting")
    assert waiting and waiting[0]["CallerIDNum"] == "13912345678"
    caller = h.pbx.channels.find(waiting[0]["Channel"])
    assert caller is not None
    h.pbx.redirect(caller, "deliver", "1002", 1)
    h.run(1.1)
    assert h.named("BridgeEnter")
    h.run(4)
    assert not len(h.pbx.channels)
    assert not h.log.lines  # CTI-routed calls leave no queue_log lines


def test_redirect_of_a_channel_that_is_not_up_fails_like_asterisk() -> None:
    h = Harness(transcript_pbx())
    originate(h, "Local/4155550104@pstn/n", exten="4155550104")  # answers after 3 s
    ch = h.pbx.channels.find(h.named("Newchannel")[0]["Channel"])
    assert ch is not None
    with pytest.raises(ActionError, match="not up"):
        h.pbx.redirect(ch, "deliver", "1001", 1)


def test_blind_transfer_completes_the_queue_call_as_transfer_and_keeps_the_linkedid() -> None:
    h = Harness(transcript_pbx())
    h.caller("4155550100", "support", patience=40, talk=8)
    h.run(1.1)
    agent = next(e["DestChannel"] for e in h.named("AgentConnect"))
    ch = h.pbx.channels.find(agent)
    assert ch is not None
    h.pbx.blind_transfer(ch, "deliver", "1001")
    complete = h.named("AgentComplete")[0]
    assert complete["Reason"] == "transfer"
    assert h.verbs("BLINDTRANSFER")[0][5:7] == ["1001", "deliver"]
    h.run(1.1)
    linked = {e["Linkedid"] for e in h.named("Newchannel")}
    assert len(linked) == 1


def test_manual_phone_answers_and_stays_up_until_hung_up() -> None:
    sc = transcript_pbx()
    frank = replace(
        sc.agents[0],
        extension="1006",
        name="Frank",
        manual=True,
        max_talk=600,
        ring_delay=Dist("constant", 2.0),
    )
    sc = replace(sc, agents=(*sc.agents, frank))
    h = Harness(sc)
    h.caller("5550001", "hold", patience=3600)
    caller = h.pbx.channels.find(h.named("UserEvent")[0]["Channel"])
    assert caller is not None
    h.pbx.redirect(caller, "deliver", "1006", 1)
    h.run(300)
    assert h.named("BridgeEnter") and not h.named("BridgeLeave")
    agent = h.pbx.channels.find(h.named("BridgeEnter")[0]["Channel"])
    assert agent is not None
    h.pbx.hangup_channel(agent, 16)
    assert not len(h.pbx.channels)


def test_caller_side_hangup_during_talk_is_completecaller() -> None:
    sc = transcript_pbx()
    sc = replace(
        sc, agents=tuple(replace(a, caller_hangs_up=1.0, talk_time=Dist("constant", 4)) for a in sc.agents)
    )
    h = Harness(sc)
    h.caller("5550001", "sales", patience=60, talk=None)
    h.run(10)
    assert h.named("AgentComplete")[0]["Reason"] == "caller"
    assert h.verbs("COMPLETECALLER")


def test_same_seed_same_actions_same_events() -> None:
    from tests.sim.test_queues import center

    def run(seed: int) -> list[dict[str, str]]:
        sc = center("random", members=4)
        sc = replace(
            sc,
            agents=tuple(
                replace(a, talk_time=Dist("exponential", 20), answer_probability=0.7) for a in sc.agents
            ),
        )
        h = Harness(sc, seed=seed)
        for n in range(20):
            h.caller(f"55500{n:02d}", "q", talk=None, patience=30)
            h.run(7)
        h.run(300)
        return h.events

    assert run(4) == run(4)
    assert run(4) != run(5)


def test_a_dialled_number_routes_to_its_queue_and_keeps_the_did_as_extension() -> None:
    sc = replace(transcript_pbx(), dids=(("4155550000", "sales"), ("4155550002", "hold")))
    h = Harness(sc)
    h.caller("5550001", "4155550000")
    join = h.named("QueueCallerJoin")[0]
    assert (join["Queue"], join["Exten"]) == ("sales", "4155550000")
    h.caller("5550002", "4155550002")
    assert h.named("UserEvent", UserEvent="CtiWaiting")[0]["Exten"] == "4155550002"


def test_an_unknown_extension_hangs_the_call_up() -> None:
    h = Harness(transcript_pbx())
    h.caller("5550001", "nowhere")
    assert not len(h.pbx.channels)


def test_blind_transfer_of_a_waiting_caller_moves_it_like_a_redirect() -> None:
    h = Harness(transcript_pbx())
    h.caller("5550001", "hold", patience=60, talk=2)
    caller = h.pbx.channels.find(h.named("UserEvent")[0]["Channel"])
    assert caller is not None
    h.pbx.blind_transfer(caller, "deliver", "1004")
    h.run(1.1)
    assert h.named("BridgeEnter")


def test_a_dropped_dialer_call_redirected_before_its_hangup_stays_up() -> None:
    sc = transcript_pbx()
    h = Harness(replace(sc, agents=tuple(replace(a, paused=True) for a in sc.agents[:4]) + sc.agents[4:]))
    originate(h, "Local/4155550100@pstn/n", exten="4155550100", channel_id="d1")
    h.run(3.2)  # answered at 1 s, dropped by the 2-second rule at 3 s
    assert h.named("UserEvent", UserEvent="DialerDrop")
    ch = h.pbx.channels.find(h.named("UserEvent", UserEvent="DialerDrop")[0]["Channel"])
    assert ch is not None
    h.pbx.redirect(ch, "deliver", "1005", 1)  # Erin is not paused
    h.run(2)
    assert h.named("BridgeEnter") and ch.name in {e["Channel"] for e in h.named("BridgeEnter")}
