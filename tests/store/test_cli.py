import asyncio
import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cti.cli import main
from cti.store import Store
from tests.conftest import ROOT


def run(*argv: str) -> int:
    return main(["store", *argv])


def test_migrate_seed_tiers_export_and_lookup_from_the_command_line(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("migrate", "--url", db_url) == 0
    assert "revision 0007" in capsys.readouterr().out
    assert run("seed", "--url", db_url, "--customers", "60", "--seed", "5") == 0
    assert run("seed", "--url", db_url, "--customers", "60", "--seed", "5") == 0
    assert "already seeded" in capsys.readouterr().out
    assert run("tiers", "--url", db_url) == 0
    assert "C: " in capsys.readouterr().out
    callers = tmp_path / "callers.csv"
    assert run("export", "callers", str(callers), "--url", db_url) == 0
    with callers.open(encoding="utf-8") as f:
        first = next(csv.DictReader(f))
    capsys.readouterr()
    assert run("lookup", first["number"], "--url", db_url) == 0
    pop = json.loads(capsys.readouterr().out)
    assert pop["customers"][0]["name"] == first["name"]


def test_import_exit_status_says_whether_the_data_was_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    good = tmp_path / "good.csv"
    good.write_text("name,phone\n李娜,+86 138 1234 5678\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,phone\nA,+1 212 555 0134\nB,zzz\n", encoding="utf-8")
    assert run("import", "customers", str(good), "--url", url) == 0
    assert run("import", "customers", str(bad), "--url", url) == 1
    out = capsys.readouterr().out
    assert f"{bad}:3: rejected: not a usable phone number: 'zzz'" in out and "nothing imported" in out
    assert run("import", "customers", str(bad), "--url", url, "--partial", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["imported"] == 1 and report["rejected"][0]["line"] == 3
    assert run("import", "leads", str(good), "--url", url) == 2  # leads need --campaign and --list
    assert run("import", "leads", str(good), "--url", url, "--campaign", "c", "--list", "l") == 0
    out_file = tmp_path / "out.csv"
    assert run("export", "customers", str(out_file), "--url", url) == 0
    assert "李娜" in out_file.read_text(encoding="utf-8")


def test_the_config_file_supplies_the_url_and_country(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cti.toml"
    config.write_text(
        f'[store]\nurl = "sqlite+aiosqlite:///{tmp_path / "cfg.db"}"\ndefault_country = "CN"\n',
        encoding="utf-8",
    )
    people = tmp_path / "p.csv"
    people.write_text("name,phone\n王伟,138 1234 5678\n", encoding="utf-8")
    assert run("import", "customers", str(people), "--config", str(config)) == 0
    capsys.readouterr()
    assert run("lookup", "+8613812345678", "--config", str(config)) == 0
    assert json.loads(capsys.readouterr().out)["customers"][0]["name"] == "王伟"
    assert run("tiers", "--config", str(tmp_path / "missing.toml")) == 2


def test_an_agent_is_created_with_a_password_from_stdin(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cti",
            "store",
            "agent",
            "zed",
            "--member",
            "Zed",
            "--password-stdin",
            "--url",
            url,
        ],
        input="s3cret\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr

    async def check() -> None:
        store = await Store.open(url)
        try:
            account = await store.accounts.authenticate("zed", "s3cret")
            assert account is not None and account.member_name == "Zed"
        finally:
            await store.close()

    asyncio.run(check())


def skills_of(url: str, capsys: pytest.CaptureFixture[str], *username: str) -> Any:
    capsys.readouterr()
    assert run("skills", *username, "--url", url, "--json") == 0
    return json.loads(capsys.readouterr().out)


def test_an_agent_gets_skills_and_languages_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret\n"))
    created = ("agent", "zed", "--member", "Zed", "--password-stdin", "--url", url)
    assert run(*created, "--skill", "sales:7", "--skill", "support:3", "--language", "FR") == 0
    assert capsys.readouterr().out == "agent zed saved\n"
    assert skills_of(url, capsys, "zed") == {
        "zed": {"skills": {"sales": 7, "support": 3}, "languages": ["fr"]}
    }
    # skills only: the account (member name, password) is left as it is, no password asked
    assert (
        run(
            "agent",
            "zed",
            "--skill",
            "sales:9",
            "--skill",
            "billing:2",
            "--no-skill",
            "support",
            "--url",
            url,
        )
        == 0
    )
    assert run("agent", "zed", "--skill", "billing:0", "--url", url) == 0
    assert skills_of(url, capsys, "zed") == {"zed": {"skills": {"sales": 9}, "languages": ["fr"]}}
    assert run("agent", "zed", "--skills", "--url", url) == 0
    assert capsys.readouterr().out == "AGENT  SKILLS   LANGUAGES\nzed    sales:9  fr\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO("pw\n"))
    assert run("agent", "amy", "--password-stdin", "--url", url) == 0
    capsys.readouterr()
    assert run("skills", "--url", url) == 0
    assert capsys.readouterr().out == "AGENT  SKILLS   LANGUAGES\namy    -        -\nzed    sales:9  fr\n"

    async def check() -> None:
        store = await Store.open(url)
        try:
            account = await store.accounts.authenticate("zed", "s3cret")
            assert account is not None and account.member_name == "Zed" and account.skills == {"sales": 9}
        finally:
            await store.close()

    asyncio.run(check())


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("--skill", "sales:11"), "skill 'sales': the level is a whole number 1..10, not 11"),
        (("--skill", "Sales:x"), "skill name 'Sales': use 1 to 32 of a-z, 0-9, _ and - (lowercase)"),
        (("--skill", ":5"), "skill name '': use 1 to 32"),
        (("--skill", "sales"), "skill 'sales': write NAME:LEVEL, e.g. sales:7"),
        (("--skill", "sales:5", "--no-skill", "sales"), "skill 'sales' is both given and removed"),
        (("--no-skill", "Sales"), "skill name 'Sales'"),
        (("--language", "french!"), "language 'french!'"),
    ],
)
def test_bad_skills_on_the_command_line_are_refused_and_change_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: tuple[str, ...],
    words: str,
) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret\n"))
    assert run("agent", "zed", "--password-stdin", "--skill", "support:3", "--url", url) == 0
    capsys.readouterr()
    assert run("agent", "zed", "--skill", "billing:4", *argv, "--url", url) == 2
    err = capsys.readouterr().err
    assert err.startswith("cti store: ") and words in err and err.count("\n") == 1
    assert run("agent", "new", "--password-stdin", *argv, "--url", url) == 2  # not created either
    assert skills_of(url, capsys) == {"zed": {"skills": {"support": 3}, "languages": []}}


def test_skills_of_an_unknown_agent_are_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'u.db'}"
    assert run("agent", "nobody", "--skill", "sales:5", "--url", url) == 2
    assert capsys.readouterr().err == "cti store: no agent 'nobody'\n"
    assert run("skills", "nobody", "--url", url) == 2
    assert run("skills", "--url", url, "--json") == 0
    assert json.loads(capsys.readouterr().out) == {}
