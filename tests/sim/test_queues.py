"""app_queue as the simulator models it: strategies, penalties, wrap-up, retry, empty queues."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from cti.sim.queues import Member, Queue, order_candidates
from cti.sim.scenario import AgentSpec, Dist, MemberSpec, QueueSpec, Scenario, User
from tests.sim.model_harness import Harness


def center(strategy: str = "ringall", members: int = 3, **queue: Any) -> Scenario:
    agents = tuple(
        AgentSpec(
            f"10{i:02d}", f"Agent{i}", ring_delay=Dist("constant", 1.0), talk_time=Dist("constant", 10.0)
        )
        for i in range(1, members + 1)
    )
    q = QueueSpec("q", strategy, timeout=5, retry=2, members=tuple(MemberSpec(a.extension) for a in agents))
    return Scenario(
        users=(User("u", "s", frozenset({"all"}), frozenset({"all"})),),
        agents=agents,
        queues=(replace(q, **queue),),
    )


def called(h: Harness) -> list[str]:
    return [e["MemberName"] for e in h.named("AgentCalled")]


def test_ringall_rings_every_free_member_and_cancels_the_others_on_answer() -> None:
    h = Harness(center("ringall"))
    h.caller("5550001", "q")
    h.run(0.1)
    assert sorted(called(h)) == ["Agent1", "Agent2", "Agent3"]
    h.run(2)
    assert len(h.named("AgentConnect")) == 1
    assert len(h.named("DialEnd", DialStatus="CANCEL")) == 4  # two per cancelled leg, as app_queue does


def test_linear_rings_in_configured_order_one_at_a_time() -> None:
    sc = center("linear")
    sc = replace(sc, agents=tuple(replace(a, answer_probability=0.0) for a in sc.agents))
    h = Harness(sc)
    h.caller("5550001", "q", patience=100)
    h.run(0.1)
    assert called(h) == ["Agent1"]  # one attempt rings one member until the attempt's timeout


def test_leastrecent_prefers_the_member_idle_longest() -> None:
    h = Harness(center("leastrecent"))
    q = h.pbx.queues["q"]
    q.members["Local/1001@agents/n"].last_call = 100.0
    q.members["Local/1002@agents/n"].last_call = 50.0
    q.members["Local/1003@agents/n"].last_call = 200.0
    h.caller("5550001", "q")
    h.run(0.1)
    assert called(h) == ["Agent2"]


def test_fewestcalls_prefers_the_member_with_fewest_calls() -> None:
    h = Harness(center("fewestcalls"))
    for iface, n in (("Local/1001@agents/n", 4), ("Local/1002@agents/n", 2), ("Local/1003@agents/n", 3)):
        h.pbx.queues["q"].members[iface].calls_taken = n
    h.caller("5550001", "q")
    h.run(0.1)
    assert called(h) == ["Agent2"]


def test_rrmemory_continues_after_the_last_member_that_answered() -> None:
    h = Harness(center("rrmemory"))
    for n in range(3):
        h.caller(f"555000{n}", "q", talk=1)
        h.run(30)
    assert [e["MemberName"] for e in h.named("AgentConnect")] == ["Agent1", "Agent2", "Agent3"]


def test_random_strategy_is_deterministic_under_a_seed() -> None:
    def run(seed: int) -> list[str]:
        h = Harness(center("random", members=5), seed=seed)
        for n in range(6):
            h.caller(f"55500{n}", "q", talk=1)
            h.run(30)
        return [e["MemberName"] for e in h.named("AgentConnect")]

    assert run(1) == run(1)
    assert len({tuple(run(s)) for s in range(5)}) > 1


def test_a_higher_penalty_member_rings_only_when_lower_ones_are_busy() -> None:
    sc = center("linear", autofill=True)
    q = sc.queues[0]
    sc = replace(
        sc,
        queues=(replace(q, members=(MemberSpec("1003", 5), MemberSpec("1001", 0), MemberSpec("1002", 0))),),
    )
    h = Harness(sc)
    h.caller("5550001", "q", talk=30)
    h.run(0.1)
    assert called(h) == ["Agent1"]
    h.caller("5550002", "q", talk=30)
    h.run(0.1)
    assert called(h) == ["Agent1", "Agent2"]
    h.caller("5550003", "q", talk=30)
    h.run(0.1)
    assert called(h) == ["Agent1", "Agent2", "Agent3"]


def test_wrapup_keeps_a_member_from_ringing_until_it_ends() -> None:
    h = Harness(center("linear", members=1, wrapuptime=10))
    h.caller("5550001", "q", talk=2)
    h.run(5)  # answered at 1 s, talk ends at 3.5 s
    assert len(h.named("AgentComplete")) == 1
    h.caller("5550002", "q", talk=2)
    h.run(5)
    assert len(h.named("AgentCalled")) == 1  # still in wrap-up
    h.run(5)
    assert len(h.named("AgentCalled")) == 2


def test_a_rejecting_phone_is_ring_no_answer_then_the_next_member_rings() -> None:
    h = Harness(center("linear"))
    h.caller("5550001", "q", __NOANSWER_1001="1")
    h.run(3.1)
    rna = h.named("AgentRingNoAnswer")
    assert [e["MemberName"] for e in rna] == ["Agent1"] and rna[0]["RingTime"] == "3000"
    assert called(h) == ["Agent1", "Agent2"]
    assert h.verbs("RINGNOANSWER")[0][5] == "3000"


def test_attempt_timeout_then_retry_rings_again() -> None:
    sc = center("linear", members=1)
    sc = replace(sc, agents=tuple(replace(a, answer_probability=0.0) for a in sc.agents))
    h = Harness(sc)
    h.caller("5550001", "q", patience=100)
    h.run(5.1)  # timeout 5: ring no answer
    assert len(h.named("AgentRingNoAnswer")) == 1
    assert [e["DialStatus"] for e in h.named("DialEnd") if "Channel" in e] == ["NOANSWER", "CANCEL"]
    h.run(1.5)
    assert len(h.named("AgentCalled")) == 1  # retry is 2 s
    h.run(1)
    assert len(h.named("AgentCalled")) == 2


def test_caller_hangup_in_queue_is_abandon_then_leave() -> None:
    sc = center("linear")
    sc = replace(sc, agents=tuple(replace(a, paused=True) for a in sc.agents))
    h = Harness(sc)
    h.caller("5550001", "q", patience=4)
    h.run(10)
    names = [e["Event"] for e in h.events if e["Event"].startswith("QueueCaller")]
    assert names == ["QueueCallerJoin", "QueueCallerAbandon", "QueueCallerLeave"]
    assert h.verbs("ABANDON")[0][5:] == ["1", "1", "4"]


def test_queue_timeout_logs_exitwithtimeout_and_sets_queuestatus() -> None:
    sc = center("linear", maxwait=6)
    sc = replace(sc, agents=tuple(replace(a, paused=True) for a in sc.agents))
    h = Harness(sc)
    h.caller("5550001", "q", patience=60)
    h.run(7)
    assert h.verbs("EXITWITHTIMEOUT")
    assert h.named("VarSet", Variable="QUEUESTATUS", Value="TIMEOUT")
    assert len(h.named("QueueCallerAbandon")) == 1


def test_joinempty_refuses_a_caller_when_every_member_is_paused() -> None:
    sc = center("linear", joinempty=frozenset({"paused"}))
    sc = replace(sc, agents=tuple(replace(a, paused=True) for a in sc.agents))
    h = Harness(sc)
    h.caller("5550001", "q")
    h.run(1)
    assert not h.named("QueueCallerJoin")
    assert h.named("VarSet", Variable="QUEUESTATUS", Value="JOINEMPTY")


def test_leavewhenempty_sends_waiting_callers_out_when_the_last_member_pauses() -> None:
    sc = center("linear", members=1, leavewhenempty=frozenset({"paused"}))
    h = Harness(sc)
    h.pbx.queue_pause("Local/1001@agents/n", True, None, "lunch")
    h.run(0.1)
    h.pbx.queue_pause("Local/1001@agents/n", False, None, "")
    h.caller("5550001", "q", talk=30)
    h.caller("5550002", "q", talk=30)
    h.run(2)
    h.pbx.queue_pause("Local/1001@agents/n", True, "q", "break")
    h.run(0.1)
    assert h.verbs("EXITEMPTY")


def test_autofill_off_rings_only_the_caller_at_the_head() -> None:
    sc = center("linear", members=3)
    sc = replace(sc, agents=tuple(replace(a, answer_probability=0.0) for a in sc.agents))
    h = Harness(sc)
    h.caller("5550001", "q", patience=100)
    h.caller("5550002", "q", patience=100)
    h.run(0.1)
    assert {e["CallerIDNum"] for e in h.named("AgentCalled")} == {"5550001"}
    h2 = Harness(replace(sc, queues=(replace(sc.queues[0], autofill=True),)))
    h2.caller("5550001", "q", patience=100)
    h2.caller("5550002", "q", patience=100)
    h2.run(0.1)
    assert {e["CallerIDNum"] for e in h2.named("AgentCalled")} == {"5550001", "5550002"}


def test_dynamic_members_are_added_paused_and_removed_with_asterisk_errors() -> None:
    from cti.sim.pbx import ActionError

    h = Harness(center("linear"))
    h.pbx.queue_add("q", "Local/1009@agents/n", "Nine", 2, False, "", "")
    with pytest.raises(ActionError, match="Already there"):
        h.pbx.queue_add("q", "Local/1009@agents/n", "Nine", 2, False, "", "")
    with pytest.raises(ActionError, match="Not there"):
        h.pbx.queue_remove("q", "Local/9999@agents/n")
    with pytest.raises(ActionError, match="Member not dynamic"):
        h.pbx.queue_remove("q", "Local/1001@agents/n")
    h.pbx.queue_remove("q", "Local/1009@agents/n")
    assert [e["Event"] for e in h.events] == ["QueueMemberAdded", "QueueMemberRemoved"]
    assert [v[4] for v in (line.split("|") for line in h.log.lines)] == ["ADDMEMBER", "REMOVEMEMBER"]


def test_order_candidates_puts_penalty_before_the_strategy_metric() -> None:
    spec = QueueSpec("q", "fewestcalls")
    q = Queue(spec)
    a = Member(q, "Local/1@agents/n", "A", "1", penalty=1, calls_taken=0)
    b = Member(q, "Local/2@agents/n", "B", "2", penalty=0, calls_taken=9)
    q.add_member(a)
    q.add_member(b)
    import random

    assert order_candidates(q, [a, b], random.Random(0)) == [b, a]
