"""Start-up: `cti` imports a subcommand's module only when that subcommand runs (no timing: which
modules each command line loaded, read from sys.modules in a fresh interpreter)."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cti.cli import SUBCOMMANDS, chosen
from tests.conftest import ROOT, timeout

PROBE = """
import contextlib, io, json, sys
from cti.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        rc = main(sys.argv[1:])
    except SystemExit as e:
        rc = e.code
print(json.dumps({"rc": rc, "modules": sorted(sys.modules)}))
"""
HEAVY = ("sqlalchemy", "websockets", "redis", "panoramisk", "phonenumbers", "prometheus_client", "asyncio")


def loaded(*argv: str) -> tuple[int, set[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout(60),
        check=True,
    )
    found = json.loads(proc.stdout.splitlines()[-1])
    return int(found["rc"] or 0), set(found["modules"])


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY}


def test_cti_help_imports_no_subcommand() -> None:
    rc, modules = loaded("--help")
    assert rc == 0
    assert {m for m in modules if m.startswith("cti.")} == {"cti.cli"}
    assert heavy(modules) == set()


def test_cti_replay_help_imports_the_replay_module_alone() -> None:
    rc, modules = loaded("replay", "--help")
    assert rc == 0
    assert {m for m in modules if m.startswith("cti.")} == {"cti.cli", "cti.asterisk", "cti.asterisk.replay"}
    assert heavy(modules) == set()


def test_cti_replay_of_a_stream_loads_neither_the_store_nor_the_daemon(transcripts: Path) -> None:
    rc, modules = loaded("replay", str(transcripts / "01-inbound-answered.ami"), "--summary")
    assert rc == 0
    assert "cti.asterisk.calls" in modules  # it did replay
    assert heavy(modules) == set()
    assert not {m for m in modules if m.startswith(("cti.store", "cti.app", "cti.screenpop", "cti.bus"))}


def test_every_subcommand_is_listed_with_the_help_its_module_gives() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    for _, module, _ in SUBCOMMANDS:
        importlib.import_module(module).register(sub)
    given = {a.dest: a.help for a in sub._choices_actions}
    assert given == {name: help_text for name, _, help_text in SUBCOMMANDS}


@pytest.mark.parametrize(
    ("argv", "command"),
    [(["--help"], None), (["replay", "x"], "replay"), (["--version"], None), (["--", "run"], None)],
)
def test_the_subcommand_is_the_first_word_that_is_not_an_option(argv: list[str], command: str | None) -> None:
    assert chosen(argv) == command


def test_an_unknown_subcommand_is_refused_with_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    from cti.cli import main

    with pytest.raises(SystemExit) as e:
        main(["nosuch"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice" in err and "replay" in err and "store" in err
