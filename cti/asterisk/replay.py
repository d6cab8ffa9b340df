"""`cti replay FILE`: run a recorded AMI stream (the raw bytes Asterisk sent) through the tracker.

The file is read in chunks, so a stream of any size replays in constant memory: only live calls are held.
``--format jsonl`` prints one JSON object per completed journey; ``--summary`` prints per-queue figures and
``--agents`` per-agent figures, computed by cti.reports.metrics (the same code as the live supervisor
view and `cti report`).

The AMI input is bounded as it is read (``cti.asterisk.ami``: a line, a message and its lines), so a
hostile file costs no more memory than a good one. A stream that never shows the banner line is an error
(exit status 1): it is not a recording of what Asterisk sent.

Start-up: this module imports the codec and the tracker only when a stream is replayed (``cti replay
--help`` loads neither), and never the store (SQLAlchemy) nor the daemon.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cti.asterisk.calls import CallTracker
    from cti.core.events import DomainEvent

CHUNK_BYTES = 64 * 1024  # reads of 64 KiB: a block of messages stays in the CPU caches (1 MiB: 15% slower)


def read_chunks(path: str | Path, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The file's bytes, ``size`` at a time ('-' reads standard input)."""
    if str(path) == "-":
        stream = sys.stdin.buffer
        while chunk := stream.read(size):
            yield chunk
        return
    with open(path, "rb") as fh:
        while chunk := fh.read(size):
            yield chunk


class NoBanner(Exception):
    """The stream never showed the AMI banner line: not a recording of what Asterisk sent."""


def replay(chunks: Iterable[bytes], tracker: CallTracker | None = None) -> Iterator[DomainEvent]:
    """Decode and track a recorded stream; codec problems come out as StreamProblem events.

    At the end of the stream the tracker is closed at the time of the last event (see CallTracker.close).
    Raises ``NoBanner`` (after the problems) when the stream has no banner line.
    """
    from cti.asterisk.ami import AmiDecoder
    from cti.asterisk.calls import CallTracker
    from cti.core.events import StreamProblem

    tracker = tracker if tracker is not None else CallTracker()
    decoder = AmiDecoder(expect_banner=True)
    feed = tracker.feed
    for chunk in chunks:
        for msg in decoder.receive_data(chunk):
            events = feed(msg)
            if events:  # most messages make no event: no generator round trip for them
                yield from events
        for problem in decoder.take_errors():
            yield StreamProblem(tracker.now, tracker.server, f"{problem.reason}: {problem.raw}")
    for problem in decoder.finish():
        yield StreamProblem(tracker.now, tracker.server, f"{problem.reason}: {problem.raw}")
    if decoder.no_banner is not None:
        raise NoBanner(decoder.no_banner)
    yield from tracker.close(tracker.now)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "replay",
        help="replay a recorded AMI stream: call journeys as JSON lines, or per-queue figures",
        description="Read a recorded AMI byte stream (what Asterisk sent) and print what the tracker makes "
        "of it. The file is streamed: any size replays in constant memory.",
    )
    p.add_argument("file", help="the recorded stream ('-' for standard input)")
    p.add_argument("--format", choices=("jsonl",), default="jsonl", help="one JSON object per journey")
    p.add_argument("--summary", action="store_true", help="print per-queue figures instead of journeys")
    p.add_argument("--agents", action="store_true", help="print per-agent figures instead of journeys")
    p.add_argument(
        "--service-level",
        type=float,
        metavar="SECONDS",
        help="service-level threshold for every queue (default: [reports] in the config, else 20)",
    )
    p.add_argument(
        "--short-abandon",
        type=float,
        metavar="SECONDS",
        help="abandons after a shorter wait are short (default: [reports] short_abandon_seconds, else 0)",
    )
    p.add_argument("--config", metavar="FILE", help="cti.toml for per-queue service-level thresholds")
    p.add_argument("--server", default="", help="server name stamped on the journeys")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, out: IO[str] | None = None) -> int:
    from cti.asterisk.calls import CallTracker
    from cti.config import ReportsConfig, load_config
    from cti.core.errors import ConfigError
    from cti.core.events import CallEnded, StreamProblem
    from cti.reports.metrics import AgentRollup, QueueRollup, queue_stats_json

    out = out or sys.stdout
    try:
        reports = load_config(args.config).reports if args.config else ReportsConfig()
    except ConfigError as e:
        print(f"cti replay: {e}", file=sys.stderr)
        return 2
    if args.service_level is not None:
        if args.service_level <= 0:
            print("cti replay: --service-level must be > 0", file=sys.stderr)
            return 2
        reports = ReportsConfig(service_level_seconds=args.service_level)
    if args.short_abandon is not None:
        if args.short_abandon < 0:
            print("cti replay: --short-abandon must be >= 0", file=sys.stderr)
            return 2
        reports.short_abandon_seconds = args.short_abandon
    path = args.file
    if path != "-" and not Path(path).is_file():
        print(f"cti replay: {path}: no such file", file=sys.stderr)
        return 2
    rollups: dict[str, QueueRollup] = {}
    agents = AgentRollup()
    per_queue = args.summary or args.agents
    try:
        for ev in replay(read_chunks(path), CallTracker(args.server)):
            if isinstance(ev, CallEnded):
                if per_queue:
                    for leg in ev.journey.queue_legs:
                        agents.add(leg)
                        r = rollups.get(leg.queue)
                        if r is None:
                            q = leg.queue
                            r = rollups[q] = QueueRollup(
                                q, reports.threshold(q), short_abandon=reports.short_abandon(q)
                            )
                        r.add(leg)
                else:
                    out.write(json.dumps(ev.journey.to_json(), ensure_ascii=False) + "\n")
            elif isinstance(ev, StreamProblem):
                print(f"cti replay: {ev.problem}", file=sys.stderr)
    except NoBanner as e:
        print(f"cti replay: {path}: not an AMI stream: {e}", file=sys.stderr)
        return 1
    if args.summary:
        out.write(json.dumps(queue_stats_json(rollups), ensure_ascii=False, indent=2) + "\n")
    if args.agents:
        figures = {a: agents.stats(a).to_json() for a in agents.agents()}
        out.write(json.dumps(figures, ensure_ascii=False, indent=2) + "\n")
    return 0
