"""CTI-routed delivery over the real protocol, as config/asterisk/extensions.conf does it.

The caller waits in ``inbound,hold`` (UserEvent CtiWaiting with Uniqueid, Did, Choice); the client
Redirects it to ``deliver,<agent>``: ``Dial(Local/<agent>@agents/n,20,t)`` (``DELIVER_TIMEOUT``
overrides 20); without an answer ``UserEvent(CtiDeliveryFailed)`` and ``Goto(inbound,hold,3)``, so the
caller waits again and CtiWaiting is raised again with the same Uniqueid, Did and Choice.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.asterisk.ami import Message
from cti.core.errors import ConfigError
from cti.sim.callers import CallerGenerator
from cti.sim.pbx import ActionError
from cti.sim.scenario import Dist, Scenario, load_scenario, parse_scenario
from cti.sim.server import SimServer
from tests.conftest import examples
from tests.sim.conftest import RawClient, frozen
from tests.sim.model_harness import Harness
from tests.sim.transcript_compare import reduce_stream
from tests.sim.transcript_play import decode_ami

CTI_TOML = Path(__file__).resolve().parents[2] / "config" / "sim" / "cti.toml"
MAIN_LINE = "8005550300"
CALLER = "Local/13912345678@callers/n"


def center() -> Scenario:
    """config/sim/cti.toml with fixed rings: everyone answers after 2 s except Frank (1006), never."""
    sc = load_scenario(CTI_TOML)
    agents = tuple(
        replace(a, ring_delay=Dist("constant", 2.0), answer_probability=0.0 if a.extension == "1006" else 1.0)
        for a in sc.agents
    )
    return replace(sc, agents=agents)


@pytest.fixture
async def cti_sim() -> AsyncIterator[SimServer]:
    async for server in frozen(center()):
        yield server


@pytest.fixture
async def ami(cti_sim: SimServer) -> AsyncIterator[RawClient]:
    c = await RawClient.connect(cti_sim.port)
    await c.login()
    try:
        yield c
    finally:
        c.close()


async def call_in(
    sim: SimServer, c: RawClient, *variables: str, exten: str = MAIN_LINE, aid: str = "o1"
) -> Message:
    """Originate a caller into inbound,<exten> as 05-cti-redirect did; return its first CtiWaiting."""
    await c.send(
        ("Action", "Originate"),
        ("Channel", CALLER),
        ("Context", "inbound"),
        ("Exten", exten),
        ("Priority", "1"),
        ("CallerID", '"Li Na" <13912345678>'),
        ("Async", "true"),
        ("ActionID", aid),
        *(("Variable", v) for v in variables),
    )
    assert (await c.response(aid))["Response"] == "Success"
    keyed = any(v.startswith("CHOICE=") for v in variables)
    sim.advance(0.9 if keyed else 5.9)  # Read(): the prompt, then the key (CHOICE) or its 5 s timeout
    await c.send(Action="Ping", ActionID=aid + "-read")
    await c.response(aid + "-read")
    assert not [m for m in c.inbox if m.event == "UserEvent"]
    sim.advance(0.1)
    return await c.event("UserEvent", UserEvent="CtiWaiting")


async def redirect(c: RawClient, channel: str, exten: str, aid: str = "r1") -> Message:
    await c.send(
        Action="Redirect", Channel=channel, Context="deliver", Exten=exten, Priority="1", ActionID=aid
    )
    return await c.response(aid)


async def test_a_call_on_the_main_line_waits_with_its_did_and_choice(
    cti_sim: SimServer, ami: RawClient
) -> None:
    waiting = await call_in(cti_sim, ami, "PATIENCE=30", "CHOICE=1")
    assert (waiting["Context"], waiting["Exten"], waiting["Priority"]) == ("inbound", "hold", "3")
    assert (waiting["Did"], waiting["Choice"]) == (MAIN_LINE, "1")
    assert waiting.getall("Uniqueid") == [waiting["Uniqueid"]] * 2  # the snapshot's and the body's
    assert [k for k, _ in waiting.headers][-4:] == ["UserEvent", "Uniqueid", "Did", "Choice"]


async def test_no_key_pressed_the_read_times_out_and_choice_is_empty(
    cti_sim: SimServer, ami: RawClient
) -> None:
    waiting = await call_in(cti_sim, ami, exten="8005550400")  # 1 s prompt + Read's 5 s timeout
    assert (waiting["Did"], waiting["Choice"]) == ("8005550400", "")


async def test_redirect_to_deliver_and_the_agent_answers_as_in_transcript_05(
    cti_sim: SimServer, ami: RawClient, transcripts: Path
) -> None:
    waiting = await call_in(cti_sim, ami, "PATIENCE=30", "__TALK=3", "CHOICE=1")
    assert (await redirect(ami, waiting["Channel"], "1002"))["Message"] == "Redirect successful"
    cti_sim.advance(2.0)
    answer = await ami.event("DialEnd", DialStatus="ANSWER", Channel=waiting["Channel"])
    assert answer["DestChannel"].startswith("Local/1002@agents-")
    cti_sim.advance(4.0)  # 0.5 s Answer() delay + TALK 3 s: the agent hangs up, the caller follows
    await ami.event("Hangup", Channel=waiting["Channel"])
    await ami.send(Action="Ping", ActionID="end")
    await ami.response("end")
    ours = reduce_stream(decode_ami(bytes(ami.raw)))
    real = reduce_stream(decode_ami((transcripts / "05-cti-redirect.ami").read_bytes()))
    for role in ("agents#0;1", "agents#0;2", "bridge#0", "callers#0;2"):
        assert ours[role] == real[role], role

    def caller(seq: list[tuple[str, ...]]) -> list[tuple[str, ...]]:  # CtiWaiting's body is the dialplan's
        return [s[:1] if s[0] == "UserEvent" else s for s in seq]

    assert caller(ours["callers#0;1"]) == caller(real["callers#0;1"])
    assert not [m for m in decode_ami(bytes(ami.raw)) if m.get("UserEvent") == "CtiDeliveryFailed"]


async def test_an_agent_who_does_not_answer_rings_until_deliver_timeout_then_the_caller_waits_again(
    cti_sim: SimServer, ami: RawClient
) -> None:
    waiting = await call_in(cti_sim, ami, "PATIENCE=300", "CHOICE=2")
    caller = waiting["Channel"]
    await ami.send(Action="Setvar", Channel=caller, Variable="DELIVER_TIMEOUT", Value="8", ActionID="sv")
    await ami.response("sv")
    await redirect(ami, caller, "1006")
    begin = await ami.event("DialBegin", Channel=caller)
    agent = begin["DestChannel"]
    cti_sim.advance(7.9)
    assert not [m for m in ami.inbox if m.event == "DialEnd"]
    cti_sim.advance(0.1)
    end = await ami.event("DialEnd", Channel=caller)
    assert (end["DestChannel"], end["DialStatus"]) == (agent, "NOANSWER")
    assert (await ami.event("Hangup", Channel=agent))["Cause"] == "0"
    failed = await ami.event("UserEvent", UserEvent="CtiDeliveryFailed")
    assert (failed["Channel"], failed["Context"], failed["Exten"], failed["Priority"]) == (
        caller,
        "deliver",
        "1006",
        "2",
    )
    assert (failed["Uniqueid"], failed["Agent"], failed["Status"]) == (
        waiting["Uniqueid"],
        "1006",
        "NOANSWER",
    )
    assert [k for k, _ in failed.headers][-4:] == ["UserEvent", "Uniqueid", "Agent", "Status"]
    again = await ami.event("UserEvent", UserEvent="CtiWaiting")
    assert (again["Channel"], again["Uniqueid"], again["Did"], again["Choice"]) == (
        caller,
        waiting["Uniqueid"],
        MAIN_LINE,
        "2",
    )
    assert (again["Context"], again["Exten"], again["Priority"]) == ("inbound", "hold", "3")
    assert (await ami.event("Hangup", Channel=agent.replace(";1", ";2")))["Cause"] == "0"
    await ami.send(Action="Status", Channel=caller, ActionID="st")
    assert (await ami.response("st"))["Response"] == "Success"  # the caller is still up, waiting
    status = await ami.event("Status", Channel=caller)
    assert status["ChannelStateDesc"] == "Up"
    # delivered again, to someone who answers
    await redirect(ami, caller, "1003", aid="r2")
    cti_sim.advance(2.0)
    assert (await ami.event("DialEnd", Channel=caller))["DialStatus"] == "ANSWER"


async def test_the_ring_timeout_is_20_seconds_by_default(cti_sim: SimServer, ami: RawClient) -> None:
    waiting = await call_in(cti_sim, ami, "PATIENCE=300", "CHOICE=1")
    await redirect(ami, waiting["Channel"], "1006")
    cti_sim.advance(19.9)
    assert not [m for m in ami.inbox if m.event == "DialEnd"]
    cti_sim.advance(0.1)
    assert (await ami.event("DialEnd", Channel=waiting["Channel"]))["DialStatus"] == "NOANSWER"
    assert (await ami.event("UserEvent", UserEvent="CtiDeliveryFailed"))["Status"] == "NOANSWER"


async def test_a_busy_agent_fails_the_delivery_with_busy(cti_sim: SimServer, ami: RawClient) -> None:
    waiting = await call_in(cti_sim, ami, "PATIENCE=300", "CHOICE=1", "__NOANSWER_1002=1")
    await redirect(ami, waiting["Channel"], "1002")
    begin = await ami.event("DialBegin", Channel=waiting["Channel"])
    cti_sim.advance(3.0)  # the phone rings 3 s and rejects: Busy()
    assert (await ami.event("DialEnd", Channel=waiting["Channel"]))["DialStatus"] == "BUSY"
    assert (await ami.event("Hangup", Channel=begin["DestChannel"]))["Cause"] == "0"
    failed = await ami.event("UserEvent", UserEvent="CtiDeliveryFailed")
    assert (failed["Agent"], failed["Status"]) == ("1002", "BUSY")
    assert (await ami.event("UserEvent", UserEvent="CtiWaiting"))["Uniqueid"] == waiting["Uniqueid"]
    two = await ami.event("Hangup", Channel=begin["DestChannel"].replace(";1", ";2"))
    assert (two["Cause"], two["ChannelStateDesc"]) == ("17", "Busy")


async def test_an_extension_without_a_phone_is_chanunavail(cti_sim: SimServer, ami: RawClient) -> None:
    waiting = await call_in(cti_sim, ami, "PATIENCE=300")
    await redirect(ami, waiting["Channel"], "1999")
    failed = await ami.event("UserEvent", UserEvent="CtiDeliveryFailed")
    assert (failed["Agent"], failed["Status"]) == ("1999", "CHANUNAVAIL")
    assert (await ami.event("UserEvent", UserEvent="CtiWaiting"))["Uniqueid"] == waiting["Uniqueid"]
    assert not [
        m for m in decode_ami(bytes(ami.raw)) if m.event == "DialBegin" and "1999" in m["DestChannel"]
    ]


async def test_the_ringing_phone_hung_up_reports_its_cause_as_the_dial_status(
    cti_sim: SimServer, ami: RawClient
) -> None:
    waiting = await call_in(cti_sim, ami, "PATIENCE=300")
    await redirect(ami, waiting["Channel"], "1006")
    agent = (await ami.event("DialBegin", Channel=waiting["Channel"]))["DestChannel"]
    cti_sim.advance(5.0)
    await ami.send(Action="Hangup", Channel=agent, ActionID="h")
    assert (await ami.response("h"))["Message"] == "Channel Hungup"
    assert (await ami.event("DialEnd", Channel=waiting["Channel"]))["DialStatus"] == "NOANSWER"
    assert (await ami.event("UserEvent", UserEvent="CtiDeliveryFailed"))["Status"] == "NOANSWER"
    await ami.event("UserEvent", UserEvent="CtiWaiting")


async def test_the_caller_hangs_up_while_held(cti_sim: SimServer, ami: RawClient) -> None:
    waiting = await call_in(cti_sim, ami, "PATIENCE=5", "CHOICE=1")
    caller = waiting["Channel"]
    cti_sim.advance(4.5)  # patience counts from the answer, plus Answer()'s 0.5 s
    two = await ami.event("Hangup", Channel=caller.replace(";1", ";2"))
    one = await ami.event("Hangup", Channel=caller)
    assert (two["Cause"], one["Cause"], one["Exten"], one["Priority"]) == ("16", "16", "hold", "4")
    assert not [m for m in ami.inbox if m.event in ("UserEvent", "DialBegin")]


async def test_the_caller_hangs_up_while_the_agent_rings(cti_sim: SimServer, ami: RawClient) -> None:
    waiting = await call_in(cti_sim, ami, "PATIENCE=10", "CHOICE=1")
    caller = waiting["Channel"]
    await redirect(ami, caller, "1006")
    agent = (await ami.event("DialBegin", Channel=caller))["DestChannel"]
    cti_sim.advance(9.5)
    seq = []
    for _ in range(5):
        m = await ami.expect(lambda m: m.event in ("Hangup", "DialEnd", "UserEvent"))
        seq.append((m.event, m.get("Channel"), m.get("DialStatus") or m.get("Cause")))
    assert seq == [
        ("Hangup", caller.replace(";1", ";2"), "16"),
        ("DialEnd", caller, "CANCEL"),
        ("Hangup", agent, "0"),
        ("Hangup", agent.replace(";1", ";2"), "0"),
        ("Hangup", caller, "16"),
    ]
    await ami.send(Action="Ping", ActionID="p")
    await ami.response("p")
    assert not [m for m in ami.inbox if m.event in ("UserEvent", "DialEnd")]


async def test_a_redirect_of_a_ringing_delivery_cancels_that_ring_first(
    cti_sim: SimServer, ami: RawClient
) -> None:
    waiting = await call_in(cti_sim, ami, "PATIENCE=300", "CHOICE=1")
    caller = waiting["Channel"]
    await redirect(ami, caller, "1006")
    first = (await ami.event("DialBegin", Channel=caller))["DestChannel"]
    cti_sim.advance(1.0)
    assert (await redirect(ami, caller, "1004", aid="r2"))["Message"] == "Redirect successful"
    seq = []
    for _ in range(4):
        m = await ami.expect(lambda m: m.event in ("Hangup", "DialEnd", "DialBegin", "UserEvent"))
        seq.append((m.event, m.get("DestChannel") or m.get("Channel"), m.get("DialStatus") or m.get("Cause")))
    assert seq[:3] == [
        ("DialEnd", first, "CANCEL"),
        ("Hangup", first, "0"),
        ("Hangup", first[:-1] + "2", "0"),
    ]
    assert seq[3][0] == "DialBegin" and seq[3][1].startswith("Local/1004@agents-")
    cti_sim.advance(2.0)
    assert (await ami.event("DialEnd", Channel=caller))["DialStatus"] == "ANSWER"
    assert not [m for m in decode_ami(bytes(ami.raw)) if m.get("UserEvent") == "CtiDeliveryFailed"]


async def test_redirect_errors_are_asterisks(cti_sim: SimServer, ami: RawClient) -> None:
    r = await redirect(ami, "Local/nothing@callers-00000099;1", "1001")
    assert (r["Response"], r["Message"]) == (
        "Error",
        "Channel does not exist: Local/nothing@callers-00000099;1",
    )
    waiting = await call_in(cti_sim, ami, "PATIENCE=300", "CHOICE=1")
    await ami.send(Action="Hangup", Channel=waiting["Channel"], ActionID="h")
    await ami.response("h")
    r = await redirect(ami, waiting["Channel"], "1001", aid="r2")  # gone: Asterisk no longer finds it
    assert (r["Response"], r["Message"]) == ("Error", f"Channel does not exist: {waiting['Channel']}")


# ---------------------------------------------------------------------- the model, without a socket
def test_nobody_routes_the_call_music_on_hold_ends_after_600_seconds() -> None:
    h = Harness(center())
    h.caller("5550001", MAIN_LINE, patience=3600, CHOICE="1")
    h.run(600.9)
    assert len(h.pbx.channels) == 2
    h.run(0.2)
    hangup = next(e for e in h.named("Hangup") if e["Channel"].endswith(";1"))
    assert (hangup["Exten"], hangup["Priority"], hangup["Cause"]) == ("hold", "5", "16")
    assert not len(h.pbx.channels)


def test_cti_center_traffic_reaches_hold_with_both_call_types() -> None:
    sc = load_scenario(CTI_TOML)
    assert (
        sc.dialplan == "sample"
        and len(sc.agents) == 6
        and dict(sc.dids)
        == {
            MAIN_LINE: "hold",
            "8005550400": "hold",
        }
    )
    h = Harness(sc, seed=3)
    gen = CallerGenerator(h.pbx, sc.traffic, random.Random(3))
    gen.start()
    h.run(1800)
    waiting = h.named("UserEvent", UserEvent="CtiWaiting")
    assert gen.placed > 20 and len(waiting) >= gen.placed - 3
    kinds = {(w["Did"], w["Choice"]) for w in waiting}
    assert {(MAIN_LINE, "1"), (MAIN_LINE, "2"), ("8005550400", "")} <= kinds
    assert h.named("Hangup")  # patience: unrouted callers give up
    assert not h.named("QueueCallerJoin")


def test_traffic_calls_are_checked() -> None:
    base = {"queues": [{"name": "sales"}], "dids": {MAIN_LINE: "hold"}}
    ok = parse_scenario(
        {**base, "traffic": {"calls": [{"did": MAIN_LINE, "choice": "1"}, {"exten": "sales"}]}}
    )
    assert [(c.exten, c.choice) for c in ok.traffic.calls] == [(MAIN_LINE, "1"), ("sales", None)]
    for bad, key in (
        ({"calls": [{"did": MAIN_LINE, "exten": "sales"}]}, "traffic.calls[0].did"),
        ({"calls": [{"exten": "nowhere"}]}, "traffic.calls[0].exten"),
        ({"calls": [{"did": "x1"}]}, "traffic.calls[0].did"),
        ({"calls": [{"did": MAIN_LINE, "choice": "a"}]}, "traffic.calls[0].choice"),
        ({"calls": [{"exten": "hold"}], "hold_fraction": 0.5}, "traffic.calls"),
    ):
        with pytest.raises(ConfigError) as e:
            parse_scenario({**base, "traffic": bad}, "x.toml")
        assert key in str(e.value), bad
    with pytest.raises(ConfigError, match=r"sim\.dialplan"):
        parse_scenario({"sim": {"dialplan": "pjsip"}}, "x.toml")


async def test_the_cti_center_runs_in_process_at_a_raised_speed() -> None:
    sim = SimServer(load_scenario(CTI_TOML), speed=300.0, seed=2, auth_fail_delay=0.05)
    await sim.start("127.0.0.1", 0)
    c = await RawClient.connect(sim.port)
    try:
        await c.login()
        waiting = await c.event("UserEvent", UserEvent="CtiWaiting", wait=10)
        assert waiting["Did"] in (MAIN_LINE, "8005550400")
        assert (await redirect(c, waiting["Channel"], "1003"))["Message"] == "Redirect successful"
        await c.event("DialBegin", Channel=waiting["Channel"])
    finally:
        c.close()
        await sim.stop()
    assert not sim.problems, sim.problems


_STEPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("call"), st.sampled_from([MAIN_LINE, "8005550400", "hold", "sales"]), st.booleans()
        ),
        st.tuples(
            st.just("redirect"), st.integers(0, 5), st.sampled_from(["1001", "1002", "1006", "1999", "x"])
        ),
        st.tuples(st.just("hangup"), st.integers(0, 15), st.integers(0, 40)),
        st.tuples(st.just("wait"), st.floats(0, 30), st.booleans()),
    ),
    max_size=25,
)


@settings(max_examples=examples(150), deadline=None)
@given(steps=_STEPS)
def test_any_sequence_of_calls_redirects_and_hangups_ends_cleanly(steps: list[tuple[object, ...]]) -> None:
    h = Harness(center())
    for step in steps:
        kind = step[0]
        if kind == "call":
            h.caller(f"555{len(h.events)}", str(step[1]), patience=200, talk=5, CHOICE="1" if step[2] else "")
        elif kind == "redirect":
            waiting = h.named("UserEvent", UserEvent="CtiWaiting")
            chans = [w["Channel"] for w in waiting]
            if chans:
                ch = h.pbx.channels.find(chans[int(str(step[1])) % len(chans)])
                if ch is not None:
                    try:
                        h.pbx.redirect(ch, "deliver", str(step[2]), 1)
                    except ActionError:
                        pass
        elif kind == "hangup":
            live = list(h.pbx.channels.all())
            if live:
                h.pbx.hangup_channel(live[int(str(step[1])) % len(live)], int(str(step[2])))
        else:
            h.run(float(str(step[1])))
    h.run(1000)  # patience 200 s, hold's safety net 600 s, talk 5 s: everything has ended
    assert not len(h.pbx.channels)
    assert not any(p.legs for p in h.pbx.phones.values())
    failed = h.named("UserEvent", UserEvent="CtiDeliveryFailed")
    assert {f["Status"] for f in failed} <= {"NOANSWER", "BUSY", "CHANUNAVAIL", "CONGESTION"}
