"""Start-up and whole-process replay: `cti --help`, `cti replay --help` and `cti replay` on a 61 MB stream.

Everything runs as a separate process, the way a user runs it, in the same run as its baselines:

* ``python_ms``, ``help_ms``, ``replay_help_ms``: best wall time of ``python -c pass``, ``cti --help`` and
  ``cti replay --help`` (goal: both under 150 ms; a subcommand's module is imported only when it runs),
  and their least CPU time (``*_cpu_ms``: what the wall time is on an idle machine);
* ``replay_mb_per_s``: the stream's size ÷ the CPU time (user + system) of the whole ``cti replay FILE``
  process, start-up, tracking and the JSON output included; ``panoramisk_mb_per_s``: the same bytes through
  panoramisk's bare parser (``AMIProtocol.data_received``, 64 KiB reads, no tracking) in this process;
  ``ratio`` = the first ÷ the second (goal: >= 2). CPU time, not wall time: the machines are shared;
* ``rss_mb_*``: peak RSS of ``cti replay`` on hostile input (one 200 MB line; one 12 MB message of tiny
  headers) and on the real stream, against ``python -c pass``: bounded input shows as the same few MB.

The stream is mixed-seed1 (the largest real recording, 5 MB) repeated 12 times with fresh ids
(``bench_ami.build_stream``): 61 MB. The last output line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bench_ami import build_stream, chunks, run_panoramisk

ROOT = Path(__file__).resolve().parent.parent
BANNER = b"Asterisk Call Manager/13.0.0\r\n"
# A child's peak RSS counts the pages it had when it was forked: forked from this process (which holds the
# stream) it would show this process's size. So a small interpreter forks it and reports its peak.
RSS_PROBE = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "print(os.wait4(p.pid, 0)[2].ru_maxrss)\n"
)


@dataclass(frozen=True, slots=True)
class Run:
    wall: float  # seconds
    cpu: float  # seconds, user + system
    rc: int


def run_child(argv: list[str]) -> Run:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as users run it
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(wall, usage.ru_utime + usage.ru_stime, proc.returncode)


def peak_rss_mb(argv: list[str]) -> float:
    """The peak resident set size of the process ``argv`` (forked by a small interpreter)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    out = subprocess.run(
        [sys.executable, "-c", RSS_PROBE, *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=True,
    )
    return int(out.stdout.split()[-1]) / 1024


def best(argv: list[str], rounds: int) -> Run:
    """The least wall time and the least CPU time of ``rounds`` runs."""
    runs = [run_child(argv) for _ in range(rounds)]
    return Run(min(r.wall for r in runs), min(r.cpu for r in runs), max(r.rc for r in runs))


def cti(*args: str) -> list[str]:
    return [sys.executable, "-m", "cti", *args]


def write_hostile(path: Path, kind: str, mb: int) -> None:
    """One message ``mb`` MB long: a single line (``line``) or 6-byte headers (``headers``)."""
    block = 1 << 20
    with open(path, "wb") as fh:
        fh.write(BANNER + b"Event: Newchannel\r\n")
        piece = b"y" * block if kind == "line" else b"a: b\r\n" * (block // 6)
        if kind == "line":
            fh.write(b"CallerIDName: ")
        for _ in range(mb):
            fh.write(piece)
        fh.write(b"\r\n\r\nEvent: FullyBooted\r\n\r\n")


def panoramisk_cpu(parts: list[bytes]) -> float:
    gc.collect()
    t0 = time.process_time()
    run_panoramisk(parts)
    return time.process_time() - t0


def alternate(stream: Path, parts: list[bytes], rounds: int) -> Iterator[tuple[Run, float]]:
    """``cti replay`` and panoramisk in turn, so the machine's load hits both alike."""
    for _ in range(rounds):
        replay = run_child(cti("replay", str(stream)))
        if replay.rc != 0:
            raise SystemExit(f"cti replay {stream} failed: exit {replay.rc}")
        yield replay, panoramisk_cpu(parts)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench_startup")
    ap.add_argument("--quick", action="store_true", help="a small stream and small hostile files, one round")
    ap.add_argument("--repeats", type=int, help="copies of mixed-seed1 in the stream (default 12: 61 MB)")
    args = ap.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 12)
    rounds = 1 if args.quick else 3
    starts = 2 if args.quick else 7
    line_mb, headers_mb = (4, 2) if args.quick else (200, 12)
    parts = build_stream(repeats, 300_000 if args.quick else None)
    size = sum(map(len, parts))
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        stream = Path(tmp) / "stream.ami"
        stream.write_bytes(b"".join(parts))
        run_child(cti("--help"))  # compiles the byte code once, as an installed package has it
        python = best([sys.executable, "-c", "pass"], starts)
        help_ = best(cti("--help"), starts)
        replay_help = best(cti("replay", "--help"), starts)
        pairs = list(alternate(stream, list(chunks(parts)), rounds))
        replay = min((r for r, _ in pairs), key=lambda r: r.cpu)
        pano = min(p for _, p in pairs)
        rss = {"python": peak_rss_mb([sys.executable, "-c", "pass"])}
        rss["stream"] = peak_rss_mb(cti("replay", str(stream)))
        for kind, mb in (("line", line_mb), ("headers", headers_mb)):
            hostile = Path(tmp) / f"{kind}.ami"
            write_hostile(hostile, kind, mb)
            rss[kind] = peak_rss_mb(cti("replay", str(hostile)))
            hostile.unlink()
    size_mb = size / 1e6
    figures = {
        "benchmark": "startup",
        "stream_mb": round(size_mb, 2),
        "python_ms": round(python.wall * 1000, 1),
        "help_ms": round(help_.wall * 1000, 1),
        "replay_help_ms": round(replay_help.wall * 1000, 1),
        # CPU time of the same processes: on a loaded machine the wall times above include waiting
        "python_cpu_ms": round(python.cpu * 1000, 1),
        "help_cpu_ms": round(help_.cpu * 1000, 1),
        "replay_help_cpu_ms": round(replay_help.cpu * 1000, 1),
        "replay_cpu_s": round(replay.cpu, 3),
        "replay_wall_s": round(replay.wall, 3),
        "panoramisk_cpu_s": round(pano, 3),
        "replay_mb_per_s": round(size_mb / replay.cpu, 2),
        "panoramisk_mb_per_s": round(size_mb / pano, 2),
        "ratio": round(pano / replay.cpu, 2),  # the same bytes: the ratio of times is the ratio of rates
        "long_line_mb": line_mb,
        "many_headers_mb": headers_mb,
        "rss_mb_python": round(rss["python"], 1),
        "rss_mb_replay_stream": round(rss["stream"], 1),
        "rss_mb_long_line": round(rss["line"], 1),
        "rss_mb_many_headers": round(rss["headers"], 1),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
