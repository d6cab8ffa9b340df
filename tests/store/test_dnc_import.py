import asyncio
from pathlib import Path

import pytest

from cti.cli import main
from cti.store import Store, dnc_cli


def test_cti_dnc_import_streams_in_batches_keeps_source_and_date_and_reports_bad_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'd.db'}"
    config = tmp_path / "cti.toml"
    config.write_text(f'[store]\nurl = "{db}"\ndefault_country = "US"\n', encoding="utf-8")
    flat = tmp_path / "us.txt"
    lines = [f"212,555{n:04d}" for n in range(25)] + ["", "# comment", "999,12", "not a number"]
    flat.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(dnc_cli, "BATCH", 10)
    assert main(["dnc", "import", str(flat), "--source", "us-national", "--date", "2026-11-30",
                 "--config", str(config)]) == 0  # fmt: skip
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "25 numbers on 'us-national', 2 lines rejected",
        "line 28: not a usable phone number: '+199912'",
        "line 29: not a usable phone number: 'not a number'",
    ]
    assert captured.err.count("lines read") == 3  # one progress line per batch of 10
    generic = tmp_path / "generic.csv"
    generic.write_text("+44 20 7946 0000,someone\n", encoding="utf-8")
    assert main(["dnc", "import", str(generic), "--source", "tps", "--config", str(config)]) == 0
    assert main(["dnc", "remove", "+12125550000", "--config", str(config)]) == 0
    assert capsys.readouterr().out.endswith("1 removed\n")
    assert main(["dnc", "list", "--config", str(config)]) == 0
    listed = [line.split("\t")[:2] for line in capsys.readouterr().out.splitlines()]
    assert listed == [["tps", "1"], ["us-national", "24"]]

    async def check() -> list[str]:
        store = await Store.open(db, default_country="US")
        try:
            found = await store.campaigns.on_dnc(["+12125550001", "+442079460000", "+12125550000"])
            return sorted(found)
        finally:
            await store.close()

    assert asyncio.run(check()) == ["+12125550001", "+442079460000"]
    assert (
        main(["dnc", "import", str(tmp_path / "missing.txt"), "--source", "x", "--config", str(config)]) == 2
    )
    assert "missing.txt" in capsys.readouterr().err
