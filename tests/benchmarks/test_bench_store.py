import json

import pytest

from benchmarks import bench_store
from tests.conftest import need_server


def test_the_quick_store_benchmark_runs_and_reports_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    need_server("PostgreSQL", "127.0.0.1", 5432)
    argv = ["--quick", "--customers", "500", "--interactions", "5000", "--lookups", "50", "--writes", "600"]
    assert bench_store.main(argv) == 0
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [r["backend"] for r in results] == ["sqlite", "postgres"]
    for r in results:
        assert r["lookup_found_ratio"] == 1.0  # every dialled format found its customer
        assert r["lookup"]["n"] == 50 and r["lookup"]["p50_ms"] > 0
        assert r["lookup_p50_vs_pk_select"] > 0
        assert r["write"]["rows"] == 1200 and r["write"]["rows_per_s"] > 0
        # the daemon's path parses no number inside the write; the cold run parses every distinct one
        assert r["write"]["numbers_parsed_in_write"] == 0 and r["write"]["normalize_cold_us_per_number"] > 0
        assert r["write_parsing_numbers_cold"]["numbers_parsed_in_write"] > 0
        daemon = r["write_through_the_daemons_writer"]
        assert daemon["rows"] == 1200 and daemon["numbers_parsed_at_call_end_or_in_write"] == 0
        assert r["write"]["every_run_rows_per_s"] == [r["write"]["rows_per_s"]]  # --quick: one run


def test_an_unknown_backend_is_refused() -> None:
    assert bench_store.main(["--quick", "--backend", "oracle"]) == 2
