import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cti.cli import main
from tests.conftest import ROOT


def run(*argv: str) -> int:
    return main(["store", *argv])


def test_migrate_seed_tiers_export_and_lookup_from_the_command_line(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("migrate", "--url", db_url) == 0
    assert "revision 0002" in capsys.readouterr().out
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
    import asyncio

    from cti.store import Store

    async def check() -> None:
        store = await Store.open(url)
        try:
            account = await store.accounts.authenticate("zed", "s3cret")
            assert account is not None and account.member_name == "Zed"
        finally:
            await store.close()

    asyncio.run(check())
