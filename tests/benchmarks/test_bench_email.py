import json

import pytest

from benchmarks import bench_email


def test_the_quick_email_benchmark_runs_and_reports_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_email.main(["--quick"]) == 0
    r = json.loads(capsys.readouterr().out.splitlines()[-1])
    for lib in ("twisted", "aiosmtpd"):
        assert r[lib]["messages"] == 40 and r[lib]["msgs_per_s"] > 0 and r[lib]["traced_peak_kib"] > 0
    assert r["twisted_vs_aiosmtpd_msgs_per_s"] > 0
    imap = r["imap"]
    for lib in ("cti_fetcher", "aioimaplib"):
        assert imap[lib]["messages"] == 10 and imap[lib]["msgs_per_s"] > 0 and imap[lib]["empty_poll_ms"] > 0
    assert imap["cti_vs_aioimaplib_msgs_per_s"] > 0
