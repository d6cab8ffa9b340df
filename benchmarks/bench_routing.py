"""cti's router in the discrete-event simulation: Erlang C check, against app_queue, pooling, speed.

    python -m benchmarks routing [--quick]

Scenarios (docs/simulate.md has the details and the measured figures):

- ``erlang_c``: one skill, Poisson arrivals, exponential talk (AHT 180 s), no abandons, no ring delay,
  no wrap-up: the simulated ASA and SL20 against Erlang C (10 erlangs on 14 agents, 100 on 110);
- ``multi_skill``: 8 h, 45 agents, 3 skills with overlap, an hourly profile, lognormal talk scaled by
  proficiency, exponential patience: cti's router (and with rule 1a, the service-level-aware order, in
  the human-readable lines only) and each app_queue strategy on the same seeded traffic, 4 seeds;
- ``two_type``: 2.0 and 1.6 calls a minute, exponential service and patience (5 min): the smallest
  dedicated pools that meet SL30 >= 70 % and abandon <= 5 % per type, and cti with specialists plus
  generalists (escalation after a short wait);
- ``decisions_per_s``: router decisions a second at 1,000 agents and 500 waiting calls, against a bare
  loop over the same data (``baseline_per_s``);
- ``ewt``: the wait announced at entry (cti.routing.ewt) against the real wait, mean absolute error, for
  cti's estimate and app_queue's hold-time formula on the same calls: the multi_skill traffic, a busy
  hour past the staffing (50 agents, 52 erlangs) and a large center (200 agents, 197 erlangs); ``cost``:
  the multi_skill run with announcements against the same run without (wall time ratio).

Human-readable lines first; the last line is one JSON object.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import time
from collections.abc import Sequence
from typing import Any

from cti.core.events import AgentState
from cti.core.ids import AgentId
from cti.routing.policy import Escalation, QueuePolicy, Requirements, SkillNeed
from cti.routing.router import Router
from cti.routing.simulate.dispatchers import RouterDispatcher
from cti.routing.simulate.engine import (
    Result,
    SimCall,
    call_figures,
    ewt_figures,
    generate_calls,
    occupancy_figures,
    simulate,
)
from cti.routing.simulate.erlang import asa as erlang_asa
from cti.routing.simulate.erlang import service_level as erlang_sl
from cti.routing.simulate.traffic import NEVER, AgentGroup, AppQueueSettings, CallType, Proficiency, Traffic
from cti.sim.scenario import Dist
from cti.simulate.app_queue import APP_QUEUE_STRATEGIES, AppQueueDispatcher

AHT = 180.0


def _pooled(results: Sequence[Result], threshold: float, types: Sequence[str] | None = None) -> list[Any]:
    """Call figures over several runs (seeds), per call type when ``types`` is given."""
    calls: list[SimCall] = [c for r in results for c in r.calls]
    if types is None:
        return [call_figures(calls, {}, threshold)]
    return [call_figures([c for c in calls if c.type == t], {}, threshold) for t in types]


# ---- 1. Erlang C ---------------------------------------------------------------------------------------
def erlang_case(erlangs: float, agents: int, hours: float, seeds: int) -> dict[str, Any]:
    traffic = Traffic(
        (CallType("calls", "q", (erlangs * 3600 / AHT,), talk=Dist("exponential", AHT)),),
        (AgentGroup("agents", agents, {"skill": 5}),),
        hours=hours,
        drain_hours=1.0,
    )
    policies = {"q": QueuePolicy("q", skills=(SkillNeed("skill"),))}
    runs = [simulate(traffic, RouterDispatcher(policies), seed) for seed in range(1, seeds + 1)]
    (f,) = _pooled(runs, 20.0)
    return {
        "erlangs": erlangs,
        "agents": agents,
        "calls": f["offered"],
        "asa": round(f["asa"], 3),
        "sl": round(f["service_level"], 4),
        "asa_erlang": round(erlang_asa(erlangs, agents, AHT), 3),
        "sl_erlang": round(erlang_sl(erlangs, agents, AHT, 20.0), 4),
    }


# ---- 2. multi-skill against app_queue ------------------------------------------------------------------
RING_DELAY, ANSWER = Dist("uniform", 2.0, 6.0), 0.95
RING_TIMEOUT = 8.0  # cti's ring_timeout and app_queue's timeout alike: every answered ring is within 6 s
# queues.conf as a competent admin sets it for this center: the same ring time as cti's, and retry = 1
# (app_queue's default 5 s is dead time on every unanswered ring); penalty 10 - level (specialists first)
APP_QUEUE = AppQueueSettings(timeout=RING_TIMEOUT, retry=1.0, wrapuptime=0.0, penalty_from_level=True)
MULTI_QUEUES = ("sales", "support", "billing")
# call type: arrivals per hour over 8 h, talk mean and sd (lognormal, at the reference level 8)
MULTI_TYPES = {
    "sales": ((150, 200, 220, 180, 150, 140, 160, 120), 240.0, 150.0),
    "support": ((140, 160, 180, 200, 190, 170, 150, 130), 360.0, 240.0),
    "billing": ((60, 70, 80, 90, 110, 120, 110, 90), 300.0, 180.0),
}
MULTI_GROUPS = {  # group: count, skills; 45 agents: SL20 about 0.83 for every strategy (docs/simulate.md)
    "sales": (13, {"sales": 8}),
    "support": (13, {"support": 8}),
    "billing": (7, {"billing": 8}),
    "sales+support": (7, {"sales": 6, "support": 6}),
    "support+billing": (5, {"support": 5, "billing": 6}),
}
PROFICIENCY = Proficiency(per_level=0.05, reference=8)  # level 6: +10 % talk, level 5: +15 %
MULTI_SEEDS = 4
SL_T = 20.0
SL_ORDER = SL_T - 4.0  # rule 1a's threshold: the SL threshold less the mean ring delay


def multi_skill_traffic(
    hours: float = 8.0, groups: dict[str, tuple[int, dict[str, int]]] | None = None
) -> Traffic:
    """A 3-skill center: sales peaks early, support at midday, billing late (docs/simulate.md)."""
    patience, wrap = Dist("exponential", 120.0), Dist("constant", 20.0)
    types = tuple(
        CallType(
            name,
            name,
            per_hour,
            talk=Dist("lognormal", mean, sd),
            needs=Requirements((SkillNeed(name),)),
            wrap=wrap,
            patience=patience,
        )
        for name, (per_hour, mean, sd) in MULTI_TYPES.items()
    )
    agents = tuple(
        AgentGroup(name, count, skills, ring_delay=RING_DELAY, answer_probability=ANSWER)
        for name, (count, skills) in (groups or MULTI_GROUPS).items()
    )
    return Traffic(types, agents, hours=hours, drain_hours=0.5, app_queue=APP_QUEUE, proficiency=PROFICIENCY)


def multi_skill_policies(service_level_order: float = 0.0) -> dict[str, QueuePolicy]:
    """cti's tuning (the baselines are app_queue as configured above)."""
    return {
        q: QueuePolicy(
            q,
            skills=(SkillNeed(q),),
            ring_timeout=RING_TIMEOUT,
            miss_retry=60.0,
            max_misses=0,
            service_level_order=service_level_order,
        )
        for q in MULTI_QUEUES
    }


def _summary(results: Sequence[Result], threshold: float) -> dict[str, Any]:
    """The figures of several runs (seeds) pooled, and the answered calls' longest and 95th-pct wait."""
    calls = [c for r in results for c in r.calls]
    t = call_figures(calls, {}, threshold)
    a = occupancy_figures([ag for r in results for ag in r.agents])
    waits = sorted(c.answered_at - c.arrive for c in calls if c.done and not c.abandoned)
    return {
        "sl": round(t["service_level"], 4),
        "asa": round(t["asa"], 2),
        "abandon": round(t["abandon_rate"], 4),
        "occupancy": round(a["occupancy"], 4),
        "occupancy_spread": round(a["occupancy_spread"], 4),
        "max_wait": round(waits[-1], 1),
        "p95_wait": round(waits[int(0.95 * (len(waits) - 1))], 1),
    }


def multi_skill(
    hours: float, seeds: int, groups: dict[str, tuple[int, dict[str, int]]] | None = None
) -> dict[str, dict[str, Any]]:
    """cti (oldest first), cti with rule 1a (``cti+sl_order``) and every app_queue strategy on the same
    calls, seeds 1..``seeds`` pooled."""
    traffic = multi_skill_traffic(hours, groups)
    runs: dict[str, list[Result]] = {}
    queues = {q: (q,) for q in MULTI_QUEUES}
    for seed in range(1, seeds + 1):
        calls = generate_calls(traffic, seed)
        for name, order in (("cti", 0.0), ("cti+sl_order", SL_ORDER)):
            d = RouterDispatcher(multi_skill_policies(order), announce=name == "cti")
            runs.setdefault(name, []).append(simulate(traffic, d, seed, calls))
        for strategy in APP_QUEUE_STRATEGIES:
            aq = AppQueueDispatcher(strategy, queues, traffic.app_queue, seed)
            runs.setdefault(strategy, []).append(simulate(traffic, aq, seed, calls))
    out = {name: _summary(rs, SL_T) for name, rs in runs.items()}
    out["cti"]["ewt"] = _ewt([c for r in runs["cti"] for c in r.calls])
    return out


def _ewt(calls: Sequence[SimCall]) -> dict[str, Any]:
    f = ewt_figures(calls)
    out: dict[str, Any] = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in f.items()}
    out["ratio"] = round(f["ewt_mae_s"] / f["mean_wait_s"], 3) if f["mean_wait_s"] else None
    return out


# ---- 5. EWT on one queue: a busy hour, a large center, a small team; a priority mix ----------------------
EWT_CASES = {
    "busy_hour": (50, 52.0, 600.0),
    "large_center": (200, 197.0, 600.0),
    "small_team": (14, 13.0, math.inf),  # tests/routing/test_ewt.py's small team
}
ANNOUNCE_EVERY = 30.0  # the periodic announcements' period (the second figure, against the wait left)
VIP_SHARE = 0.25  # priority_mix: this share of the busy hour's calls has priority 5 (rule 6)


def ewt_case(
    agents: int,
    erlangs: float,
    patience: float,
    hours: float,
    seeds: int,
    *,
    vip: float = 0.0,
    jumpers: bool = True,
) -> dict[str, Any]:
    """One queue (and with ``vip``, a priority-5 queue on the same agents taking that share of the
    traffic; only the priority-0 callers are measured), exponential talk of 180 s; ``jumpers``: rule 6
    on (off: the arrival rates are not learnt, as before it)."""
    aht = 180.0
    rate = erlangs * 3600 / aht
    pat = Dist("exponential", patience) if math.isfinite(patience) else NEVER
    types = [CallType("t", "q", (rate * (1 - vip),), Dist("exponential", aht), patience=pat)]
    if vip:
        types.append(CallType("vip", "vip", (rate * vip,), Dist("exponential", aht), patience=pat))
    traffic = Traffic(tuple(types), (AgentGroup("g", agents, {"q": 5}),), hours=hours, drain_hours=0.5)
    policies = {
        "q": QueuePolicy("q", skills=(SkillNeed("q"),), announce_every=ANNOUNCE_EVERY),
        "vip": QueuePolicy("vip", skills=(SkillNeed("q"),), priority=5, announce_every=ANNOUNCE_EVERY),
    }
    runs = []
    for seed in range(1, seeds + 1):
        d = RouterDispatcher(policies, announce=True)
        if not jumpers:
            d.ewt.arrivals.window = 0.0  # nothing learnt: rule 6 off
        runs.append(simulate(traffic, d, seed))
    calls = [c for r in runs for c in r.calls if c.type == "t"]
    floor = _floor(calls, agents, aht, patience, rate * vip / 3600)
    return {"agents": agents, "erlangs": erlangs, **_ewt(calls), **floor}


def _floor(
    calls: Sequence[SimCall], agents: int, aht: float, patience: float, jumping: float
) -> dict[str, Any]:
    """The at-entry floor with the true parameters: rule 3's closed form fed the true handle time and
    patience at each caller's recorded place (``SimCall.place``), against the same waits."""
    sample = [c for c in calls if c.done and not c.abandoned and math.isfinite(c.announced)]
    if not sample or any(c.place is None for c in sample):
        return {}
    from cti.routing.ewt import positional_wait

    err = 0.0
    for c in sample:
        ahead, free = c.place or (0.0, 0)
        oracle = positional_wait(ahead, agents, free, aht, patience, jumping)
        err += abs(oracle - (c.answered_at - c.arrive))
    mean = sum(c.answered_at - c.arrive for c in sample) / len(sample)
    return {"floor_ratio": round(err / len(sample) / mean, 3)}


def ewt_cost(hours: float) -> dict[str, Any]:
    """The estimator's cost: the multi_skill run with an announcement at every entry (rule 5 there)
    against the same run without, wall time; the estimates' own time per call; and, timed on the same
    states in the same run, one rule-5 estimate (the drawn futures) against rule 3's closed form."""
    traffic = multi_skill_traffic(hours)
    calls = generate_calls(traffic, 1)
    t0 = time.perf_counter()
    simulate(traffic, RouterDispatcher(multi_skill_policies(0.0)), 1, calls)
    plain = time.perf_counter() - t0
    t0 = time.perf_counter()
    timed = _TimedDispatcher(multi_skill_policies(0.0), announce=True)
    simulate(traffic, timed, 1, calls)
    announced = time.perf_counter() - t0
    return {
        "run_with_over_without": round(announced / plain, 3),
        "estimate_ms_per_call": round(1000 * max(0.0, announced - plain) / len(calls), 3),
        "estimate_us": round(1e6 * timed.drawn / max(1, timed.n), 1),
        "closed_form_us": round(1e6 * timed.closed / max(1, timed.n), 1),
        "estimate_over_closed_form": round(timed.drawn / timed.closed, 2) if timed.closed else None,
    }


class _TimedDispatcher(RouterDispatcher):
    """cti's dispatcher timing each waiting call's estimate (rule 5 where it applies) and rule 3's
    closed form on the same state, alternately first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drawn = self.closed = 0.0
        self.n = 0

    def _estimate(
        self, at: float, call: str | None = None, queue: str | None = None, c: SimCall | None = None
    ) -> Any:
        if call is None:
            return super()._estimate(at, call, queue, c)
        from cti.routing.ewt import estimate

        r = self.router
        agents, waiting = r.agents(), r.waiting(at)
        t0 = time.perf_counter()
        e = estimate(r.policies, agents, waiting, self.ewt, call=call, at=at)
        t1 = time.perf_counter()
        estimate(r.policies, agents, waiting, self.ewt, call=call)
        t2 = time.perf_counter()
        self.drawn += t1 - t0
        self.closed += t2 - t1
        self.n += 1
        return e


# ---- 3. two call types: dedicated pools against specialists + generalists ------------------------------
TWO_RATES = (2.0 * 60, 1.6 * 60)  # per hour
TWO_SL_T, TWO_SL_MIN, TWO_ABANDON_MAX = 30.0, 0.70, 0.05


def two_type_traffic(groups: tuple[AgentGroup, ...], hours: float) -> Traffic:
    exp5 = Dist("exponential", 300.0)
    types = tuple(
        CallType(n, n, (rate,), talk=exp5, patience=exp5) for n, rate in zip("ab", TWO_RATES, strict=True)
    )
    return Traffic(types, groups, hours=hours, drain_hours=0.5)


def two_type_policies(after: float, first: str | None = None) -> dict[str, QueuePolicy]:
    """Both queues escalate to the generalists after ``after`` s; ``first``'s calls go first (priority 1)
    where an agent may take either (the generalists: a specialist fits one type only)."""
    step = (Escalation(after, add_agents_with=("general",)),)
    return {
        n: QueuePolicy(n, skills=(SkillNeed(n),), escalation=step, priority=int(n == first)) for n in "ab"
    }


def _two_run(
    groups: tuple[AgentGroup, ...], hours: float, seeds: int, after: float = 0.0, first: str | None = None
) -> list[Any]:
    traffic = two_type_traffic(groups, hours)
    policies = two_type_policies(after, first)
    runs = [simulate(traffic, RouterDispatcher(policies), s) for s in range(1, seeds + 1)]
    return _pooled(runs, TWO_SL_T, ("a", "b"))


def poisson_abandon(erlangs: float, agents: int) -> float:
    """The exact abandon rate when patience and service have the same exponential mean (M/M/c+M with
    theta = mu): everyone in the system leaves at the same rate, so their number is Poisson(erlangs)
    and the abandon rate is E[(N - c)+] / erlangs."""
    p, total = math.exp(-erlangs), 0.0
    for k in range(1, agents + int(10 * erlangs) + 50):
        p *= erlangs / k
        if k > agents:
            total += (k - agents) * p
    return total / erlangs


def _meets(f: dict[str, Any]) -> bool:
    return bool(f["service_level"] >= TWO_SL_MIN and f["abandon_rate"] <= TWO_ABANDON_MAX)


def two_type(hours: float, seeds: int) -> dict[str, Any]:
    # dedicated pools: each type on its own agents; the smallest pool per type that meets both targets
    smallest: list[int | None] = [None, None]
    dedicated: dict[int, list[Any]] = {}
    for n in range(8, 18):
        groups: tuple[AgentGroup, ...] = (AgentGroup("a", n, {"a": 5}), AgentGroup("b", n, {"b": 5}))
        figs = _two_run(groups, hours, seeds)
        dedicated[n] = figs
        for i in (0, 1):
            if smallest[i] is None and _meets(figs[i]):
                smallest[i] = n
        if None not in smallest:
            break
    na, nb = (x or 0 for x in smallest)
    theory = [
        next(c for c in range(1, 200) if poisson_abandon(r * 300 / 3600, c) <= TWO_ABANDON_MAX)
        for r in TWO_RATES
    ]
    ded = {
        "agents": na + nb,
        "theory_split": theory,  # the smallest pools that meet the abandon target, exactly
        "split": [na, nb],
        "sl": [round(dedicated[na][0]["service_level"], 4), round(dedicated[nb][1]["service_level"], 4)],
        "abandon": [round(dedicated[na][0]["abandon_rate"], 4), round(dedicated[nb][1]["abandon_rate"], 4)],
    }
    # cti: specialists first; generalists (the skill "general" only) are eligible through the queues'
    # escalation step at once, and best fit keeps them for the calls no specialist takes; optionally
    # the heavier type first where an agent may take either. Fewer agents than a single pool needs for
    # the abandon target (everyone a generalist; exact) cannot do it, so the search starts there.
    best: dict[str, Any] | None = None
    erlangs = sum(TWO_RATES) * 300 / 3600
    pooled = next(c for c in range(1, 200) if poisson_abandon(erlangs, c) <= TWO_ABANDON_MAX)
    load = TWO_RATES[0] / sum(TWO_RATES)
    for total in range(pooled, 22):
        generalists = total // 5  # <= 20 %
        around = round((total - generalists) * load)
        for spec_a, first in itertools.product((around, around + 1, around - 1), (None, "a")):
            groups = (
                AgentGroup("a", spec_a, {"a": 5}),
                AgentGroup("b", total - generalists - spec_a, {"b": 5}),
                AgentGroup("generalists", generalists, {"general": 5}),
            )
            figs = _two_run(groups, hours, seeds, 0.0, first)
            if all(_meets(f) for f in figs):
                best = {
                    "agents": total,
                    "generalists": generalists,
                    "split": [spec_a, total - generalists - spec_a, generalists],
                    "first": first,
                    "sl": [round(f["service_level"], 4) for f in figs],
                    "abandon": [round(f["abandon_rate"], 4) for f in figs],
                }
                break
        if best is not None:
            break
    if best is None:
        best = {"agents": None, "generalists": None, "split": None, "sl": None, "abandon": None}
    return {**best, "dedicated": ded}


# ---- 4. decisions a second ------------------------------------------------------------------------------
QUEUES = [f"q{i}" for i in range(10)]  # one skill per queue ("q3" needs the skill "q3")
LANGS = ["en", "fr", "de", "es"]


def _decision_data(
    agents: int, calls: int, rng: random.Random
) -> tuple[list[dict[str, int]], list[tuple[str, tuple[SkillNeed, ...], str]]]:
    """A realistic mix: 10 queues (one skill each); an agent has 1-3 of them at levels 3-9, English
    and maybe one other language; a call needs its queue's skill, 20 % also a second skill at level 5,
    20 % a language other than English."""
    people = []
    for _ in range(agents):
        skills = {q: rng.randint(3, 9) for q in rng.sample(QUEUES, rng.choice((1, 2, 2, 3)))}
        skills["lang_en"] = 5
        if rng.random() < 0.3:
            skills[f"lang_{rng.choice(LANGS[1:])}"] = 5
        people.append(skills)
    mix = []
    for _ in range(calls):
        q = rng.choice(QUEUES)
        needs: tuple[SkillNeed, ...] = (SkillNeed(q, 2),)
        if rng.random() < 0.2:
            needs += (SkillNeed(rng.choice([x for x in QUEUES if x != q]), 5),)
        mix.append((q, needs, rng.choice(LANGS[1:]) if rng.random() < 0.2 else "en"))
    return people, mix


def decisions(agents: int, waiting: int, n: int) -> tuple[float, float]:
    """Router decisions a second (a ``decide`` that returns an offer after one agent comes free), and
    the bare loop's (the first waiting call, oldest first, whose skills and language the agent has).

    Every agent is on a call and ``waiting`` calls wait; then, one at a time, an agent comes free (every
    0.3 s: 1,000 agents with a 5 min handle time), ``decide`` runs, the offered call is answered and a
    new call arrives, so the router always holds ``agents`` agents and ``waiting`` calls. A ``decide``
    that finds nothing for the agent counts in the time, not in the decisions."""
    rng = random.Random(7)
    people, mix = _decision_data(agents, 20_000, rng)
    router = Router({q: QueuePolicy(q) for q in QUEUES})
    ids = [AgentId(f"a{i}") for i in range(agents)]
    t = 0.0
    for aid, skills in zip(ids, people, strict=True):
        router.set_agent(aid, skills)
        router.observe(aid, AgentState.ON_CALL, t, queues=QUEUES)
    k = 0
    waiting_calls: dict[str, tuple[tuple[SkillNeed, ...], str]] = {}

    def new_call() -> None:
        nonlocal k
        q, needs, lang = mix[k % len(mix)]
        k += 1
        waiting_calls[f"c{k}"] = (needs, lang)
        router.enqueue(f"c{k}", q, t, needs=Requirements(needs, language=lang))

    for _ in range(waiting):
        t += 0.01
        new_call()
    spent, made, tries = 0.0, 0, 0
    while made < n:
        aid = ids[rng.randrange(agents)]
        t += 0.3
        router.observe(aid, AgentState.AVAILABLE, t)
        t0 = time.perf_counter()
        offers = router.decide(t)
        spent += time.perf_counter() - t0
        tries += 1
        if offers:
            (o,) = offers
            made += 1
            router.ringing(o.call, o.agent, t)
            router.answered(o.call, o.agent, t)
            del waiting_calls[o.call]
            new_call()
        else:
            router.observe(aid, AgentState.ON_CALL, t)
        router.drain()
    # the bare loop over the same data: the agents in the same order, the same waiting calls
    calls = list(waiting_calls.values())
    agents_order = [people[rng.randrange(agents)] for _ in range(tries)]
    t0 = time.perf_counter()
    found = 0
    for skills in agents_order:
        for needs, lang in calls:
            if f"lang_{lang}" in skills and all(skills.get(x.skill, 0) >= x.level for x in needs):
                found += 1
                break
    base = time.perf_counter() - t0
    return made / spent, found / base


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    t0 = time.perf_counter()
    if quick:
        e_cases = [erlang_case(10, 14, 4.0, 1), erlang_case(100, 110, 1.0, 1)]
    else:
        e_cases = [erlang_case(10, 14, 100.0, 8), erlang_case(100, 110, 20.0, 4)]
    for c in e_cases:
        print(
            f"erlang_c {c['erlangs']:g} erlangs on {c['agents']} agents ({c['calls']} calls): "
            f"ASA {c['asa']:.2f}s (Erlang C {c['asa_erlang']:.2f}s), "
            f"SL20 {c['sl']:.4f} (Erlang C {c['sl_erlang']:.4f})",
            flush=True,
        )
    ms = multi_skill(1.0 if quick else 8.0, 1 if quick else MULTI_SEEDS)
    for name, f in ms.items():
        print(
            f"multi_skill {name:12} SL20 {f['sl']:.3f} ASA {f['asa']:6.1f}s abandon {f['abandon']:.3f} "
            f"occupancy {f['occupancy']:.3f} spread {f['occupancy_spread']:.3f} "
            f"max wait {f['max_wait']:5.0f}s p95 {f['p95_wait']:4.0f}s",
            flush=True,
        )
    tt = two_type(2.0 if quick else 60.0, 1 if quick else 4)
    d = tt["dedicated"]
    print(
        f"two_type dedicated pools: {d['agents']} agents {d['split']}, SL30 {d['sl']}, abandon {d['abandon']}"
        f" (exact abandon target: {d['theory_split']}, {sum(d['theory_split'])} agents)"
    )
    print(
        f"two_type cti: {tt['agents']} agents ({tt['generalists']} generalists, split {tt['split']}, "
        f"first {tt.get('first')}), "
        f"SL30 {tt['sl']}, abandon {tt['abandon']}",
        flush=True,
    )
    per_s, base_per_s = decisions(1000, 500, 300 if quick else 3000)
    print(f"decisions: {per_s:,.0f}/s at 1,000 agents and 500 waiting calls; bare loop {base_per_s:,.0f}/s")
    ewt = {"multi_skill": ms["cti"]["ewt"]}
    hours, seeds = (0.5, 1) if quick else (1.0, 3)
    for name, (agents, erlangs, patience) in EWT_CASES.items():
        ewt[name] = ewt_case(agents, erlangs, patience, 4 * hours if agents < 20 else hours, seeds)
    ewt["priority_mix"] = ewt_case(50, 52.0, 600.0, hours, seeds, vip=VIP_SHARE)
    ewt["priority_mix_without_rule6"] = ewt_case(50, 52.0, 600.0, hours, seeds, vip=VIP_SHARE, jumpers=False)
    cost = ewt_cost(0.5 if quick else 2.0)
    print(
        f"ewt cost: the multi_skill run with announcements takes {cost['run_with_over_without']:.2f}x "
        f"the run without ({cost['estimate_ms_per_call']:.2f} ms per call); one estimate "
        f"{cost['estimate_us']:.0f} us, {cost['estimate_over_closed_form']}x the closed form's "
        f"{cost['closed_form_us']:.0f} us on the same states",
        flush=True,
    )
    for name, e in ewt.items():
        floor = f", floor {e['floor_ratio']:.0%}" if "floor_ratio" in e else ""
        print(
            f"ewt {name:12} mean wait {e['mean_wait_s']:6.1f}s, announced at entry: "
            f"cti MAE {e['ewt_mae_s']:5.1f}s "
            f"({e['ratio']:.0%} of the mean wait{floor}), "
            f"app_queue holdtime {e['ewt_mae_app_queue_s']:5.1f}s, "
            f"times the position {e['ewt_mae_app_queue_position_s']:6.1f}s ({e['ewt_calls']} calls)",
            flush=True,
        )
        if e.get("announcements"):
            print(
                f"ewt {name:12} every {ANNOUNCE_EVERY:.0f} s while waiting "
                f"({e['announcements']} announcements, "
                f"mean wait left {e['mean_remaining_s']:.1f}s): cti MAE {e['announced_mae_s']:.1f}s, "
                f"app_queue holdtime - waited {e['announced_mae_app_queue_s']:.1f}s",
                flush=True,
            )
    figures = {
        "ewt": {**ewt, "cost": cost},
        "erlang_c": e_cases,
        "multi_skill": {
            name: {k: f[k] for k in ("sl", "asa", "abandon", "occupancy", "occupancy_spread")}
            for name, f in ms.items()
            if name != "cti+sl_order"  # its trade (the late callers' wait) is in the lines above
        },
        "two_type": tt,
        "decisions_per_s": round(per_s),
        "baseline_per_s": round(base_per_s),
    }
    print(f"wall {time.perf_counter() - t0:.1f}s")
    print(json.dumps(figures))
    return 0
