"""``cti simulate --campaign``: a campaign's settings through the pacing core, and bad files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from cti.simulate.cli import run


def _args(path: Path, **kw: object) -> argparse.Namespace:
    base = {"campaign": str(path), "config": None, "traffic": None, "hours": None, "json": True}
    return argparse.Namespace(**{**base, **kw})


def test_a_campaign_file_prints_each_strategy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "c.toml"
    f.write_text("[campaign]\nagents = 10\nhours = 0.5\ndays = 1\n", encoding="utf-8")
    assert run(_args(f)) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"progressive", "fixed_ratio", "adaptive", "cti", "ceiling"}
    assert out["progressive"]["abandon_rate"] == 0.0
    assert out["cti"]["talk_utilisation"] > out["progressive"]["talk_utilisation"]
    assert out["ceiling"] == pytest.approx(120 / 135, abs=1e-3)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[campaign]\nagents = 0\n", "campaign.agents"),
        ("[campaign]\nlive = 0.9\nmachine = 0.2\n", "live + machine + busy"),
        ("[campaign]\nspeed = 3\n", "unknown key"),
        ("nope = [", "invalid TOML"),
        ("[other]\n", "[campaign]"),
    ],
)
def test_a_bad_campaign_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, needle: str
) -> None:
    f = tmp_path / "c.toml"
    f.write_text(text, encoding="utf-8")
    assert run(_args(f)) == 2
    assert needle in capsys.readouterr().err
