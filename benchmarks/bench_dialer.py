"""The predictive dialer's pacing on a seeded 8 h day (cti.dialer.daymodel, the same pacing core).

    python -m benchmarks dialer [--quick] [--days=N] [--tick=S] [--jobs=N] [--first-seed=N]

Talk exponential, mean 120 s (a lognormal variant, sd 120 s, in the human-readable lines), wrap-up
15 s; 20 % live answers after a 3-15 s ring, 15 % answering machines (hung up after their ring), 10 %
busy (2 s), the rest no answer at 26 s; 20 and 100 agents; ``--days`` seeded days (200). Strategies:
progressive, the best compliant fixed ratio (the highest on the grid whose day abandon rate is <= 3 %
on >= 99 % of the days), the VICIdial-style adaptive controller, cti's pacer, and the ceiling
talk / (talk + wrap). A "details:" line has every figure (the lognormal variant too); the last line is one
JSON object: strategy -> "20"/"100" -> exactly the five figures issue #16 names.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import statistics
import time
from collections.abc import Callable
from typing import Any

from cti.dialer.daymodel import DayConfig, DayResult, Duration, run_day
from cti.dialer.strategies import Adaptive, FixedRatio, Predictive, Progressive, Strategy

LIMIT = 0.03
RATIOS = tuple(round(1.0 + 0.25 * i, 2) for i in range(29))  # 1.0 .. 8.0


def _arg(argv: list[str], name: str, default: float) -> float:
    for a in argv:
        if a.startswith(f"--{name}="):
            return float(a.split("=", 1)[1])
    return default


_POOL: Any = None  # a multiprocessing pool over days (--jobs=N > 1), set by main
_JOBS = 1
_FIRST = 1  # the first seed (--first-seed=N: another set of days)


def _day(args: tuple[DayConfig, Callable[[], Strategy], int]) -> DayResult:
    cfg, make, seed = args
    return run_day(cfg, make(), seed)


def run(
    cfg: DayConfig, make: Callable[[], Strategy], days: int, stop_over: int | None = None
) -> list[DayResult]:
    """Days 1..days in seed order (in chunks over the pool when there is one: the same results); with
    ``stop_over``, stop once more than that many days are over the limit."""
    out: list[DayResult] = []
    chunk = 1 if _POOL is None else 8 * _JOBS
    for first in range(_FIRST, _FIRST + days, chunk):
        seeds = range(first, min(_FIRST + days, first + chunk))
        jobs = [(cfg, make, seed) for seed in seeds]
        out += map(_day, jobs) if _POOL is None else _POOL.map(_day, jobs)
        over = sum(r.abandon_rate > LIMIT for r in out)
        if stop_over is not None and over > stop_over:
            break
    return out


def figures(results: list[DayResult], days: int) -> dict[str, Any]:
    return {
        "talk_utilisation": round(statistics.fmean(r.talk_utilisation for r in results), 4),
        "abandon_rate": round(sum(r.abandons for r in results) / max(1, sum(r.live for r in results)), 4),
        "max_hour_abandon": round(statistics.fmean(r.max_hour_abandon for r in results), 4),
        "days_over_limit": sum(r.abandon_rate > LIMIT for r in results),
        "dials_per_agent_hour": round(statistics.fmean(r.dials_per_agent_hour for r in results), 1),
        "days": days,
    }


def best_ratio(cfg: DayConfig, days: int) -> tuple[float, list[DayResult]]:
    """The highest ratio on the grid whose day rate is <= 3 % on >= 99 % of the days (bisection: the
    abandon rate grows with the ratio)."""
    allowed = days // 100  # days over the limit that 99 % tolerates
    lo, hi = 0, len(RATIOS) - 1
    best: tuple[float, list[DayResult]] | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        res = run(cfg, functools.partial(FixedRatio, RATIOS[mid]), days, stop_over=allowed)
        if len(res) == days and sum(r.abandon_rate > LIMIT for r in res) <= allowed:
            best, lo = (RATIOS[mid], res), mid + 1
        else:
            hi = mid - 1
    if best is None:
        return 1.0, run(cfg, functools.partial(FixedRatio, 1.0), days)
    return best


def main(argv: list[str]) -> int:
    global _POOL, _JOBS, _FIRST
    _JOBS, _FIRST = int(_arg(argv, "jobs", 1)), int(_arg(argv, "first-seed", 1))
    try:
        if _JOBS > 1:
            with multiprocessing.get_context("fork").Pool(_JOBS) as _POOL:
                return _main(argv)
        return _main(argv)
    finally:
        _POOL, _JOBS, _FIRST = None, 1, 1


def _main(argv: list[str]) -> int:
    quick = "--quick" in argv
    days = int(_arg(argv, "days", 3 if quick else 200))
    tick = _arg(argv, "tick", 2.0)
    hours = 1.0 if quick else 8.0
    talks = {"exponential": Duration("exponential", 120.0), "lognormal": Duration("lognormal", 120.0, 120.0)}
    out: dict[str, dict[str, Any]] = {
        k: {} for k in ("progressive", "fixed_ratio", "adaptive", "cti", "ceiling")
    }
    for talk_name, talk in talks.items():
        for agents in (20, 100):
            cfg = DayConfig(agents, talk=talk, hours=hours, tick=tick)
            t0 = time.perf_counter()
            rows: dict[str, dict[str, Any]] = {}
            rows["progressive"] = figures(run(cfg, Progressive, days), days)
            ratio, res = best_ratio(cfg, days)
            rows["fixed_ratio"] = {**figures(res, days), "ratio": ratio}
            rows["adaptive"] = figures(run(cfg, functools.partial(Adaptive, LIMIT), days), days)
            rows["cti"] = figures(run(cfg, functools.partial(Predictive, LIMIT), days), days)
            c = cfg.ceiling
            rows["ceiling"] = {
                "talk_utilisation": round(c, 4),
                "abandon_rate": 0.0,
                "max_hour_abandon": 0.0,
                "days_over_limit": 0,
                "dials_per_agent_hour": round(3600 / (talk.mean + cfg.wrap) / cfg.mix.live, 1),
                "days": days,
            }
            for name, f in rows.items():
                print(
                    f"{talk_name:11} {agents:4} agents {name:12} util {f['talk_utilisation']:.3f} "
                    f"abandon {100 * f['abandon_rate']:.2f}% worst hour {100 * f['max_hour_abandon']:.2f}% "
                    f"days over {f['days_over_limit']}/{days} dials/agent-h {f['dials_per_agent_hour']}"
                    + (f" ratio {f['ratio']}" if "ratio" in f else ""),
                    flush=True,
                )
            print(f"  ({time.perf_counter() - t0:.1f}s)", flush=True)
            if talk_name == "exponential":
                for name, f in rows.items():
                    out[name][str(agents)] = f
            else:
                for name, f in rows.items():
                    out[name].setdefault("lognormal", {})[str(agents)] = f
    # everything (the lognormal variant, days, the fixed ratio) on one line, then the keys alone
    print("details: " + json.dumps(out, sort_keys=True))
    keys = ("talk_utilisation", "abandon_rate", "max_hour_abandon", "days_over_limit", "dials_per_agent_hour")
    last = {
        name: {a: {k: by[a][k] for k in keys} for a in ("20", "100") if a in by} for name, by in out.items()
    }
    print(json.dumps(last, sort_keys=True))
    return 0
