"""Run the benchmarks: `python -m benchmarks [NAME ...] [--quick]` (what `make bench` runs).

Every benchmark is a module `benchmarks/bench_<name>.py` with `main(argv: list[str]) -> int`. Each prints
its figures as JSON and reports speeds as ratios against a baseline measured in the same run, because
these machines are shared and noisy. `--quick` shrinks the workloads for a smoke run.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    names = [a for a in argv if not a.startswith("-")]
    flags = [a for a in argv if a.startswith("-")]
    here = Path(__file__).resolve().parent
    available = sorted(
        m.name[len("bench_") :] for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_")
    )
    unknown = [n for n in names if n not in available]
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr
        )
        return 2
    status = 0
    for name in names or available:
        print(f"== benchmark {name}", flush=True)
        t0 = time.perf_counter()
        module = importlib.import_module(f"benchmarks.bench_{name}")
        rc = int(module.main(flags) or 0)
        print(f"== {name}: exit {rc} in {time.perf_counter() - t0:.1f}s", flush=True)
        status = status or rc
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
