"""The start-up benchmark still runs (a smoke run: a 0.3 MB stream, 4 MB and 2 MB hostile files; its
figures are not asserted beyond their presence, bar the bounded memory it shows)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import bench_startup


def test_bench_startup_quick_runs_every_process_and_prints_its_figures_last(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench_startup.main(["--quick"]) == 0
    figures = json.loads(capsys.readouterr().out.splitlines()[-1])
    for key in ("help_ms", "replay_help_ms", "python_ms", "replay_mb_per_s", "panoramisk_mb_per_s", "ratio"):
        assert figures[key] > 0, key
    # the hostile input costs what the real stream costs: a few MB over a bare interpreter, not its size
    assert figures["rss_mb_long_line"] < figures["rss_mb_python"] + figures["long_line_mb"] / 2 + 20
    assert figures["rss_mb_many_headers"] < figures["rss_mb_python"] + 20


def test_a_hostile_file_is_one_message_of_the_size_asked(tmp_path: Path) -> None:
    path = tmp_path / "line.ami"
    bench_startup.write_hostile(path, "line", 2)
    data = path.read_bytes()
    assert data.startswith(bench_startup.BANNER) and len(data) > 2 << 20
    assert data.count(b"\r\n\r\n") == 2  # the hostile message, then one ordinary event
