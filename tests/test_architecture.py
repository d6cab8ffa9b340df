"""The pure core never imports an adapter or does I/O; dependencies point downward only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = [
    "cti/core",
    "cti/asterisk/ami.py",
    "cti/asterisk/snapshot.py",
    "cti/asterisk/translate.py",
    "cti/asterisk/calls.py",
    "cti/asterisk/tracker",
    "cti/reports/metrics.py",
    "cti/routing",
    "cti/store/phones.py",
    "cti/store/tiers.py",
    "cti/sim/timeline.py",
    "cti/sim/channels.py",
    "cti/sim/pbx.py",
    "cti/sim/queues.py",
    "cti/sim/agents.py",
    "cti/sim/pstn.py",
    "cti/sim/callers.py",
    "cti/screenpop/protocol.py",
    "cti/screenpop/tokens.py",
    "cti/screenpop/live.py",
    "cti/bus/codec.py",
]
FORBIDDEN = {
    "asyncio",
    "socket",
    "panoramisk",
    "websockets",
    "sqlalchemy",
    "redis",
    "aiosqlite",
    "asyncpg",
    "subprocess",
    "cti.store",
    "cti.screenpop",
    "cti.bus",
    "cti.app",
    "cti.sim.server",
    "cti.sim.protocol",
    "cti.asterisk.connection",
    "cti.asterisk.client",
    "cti.asterisk.pump",
}


def pure_files() -> list[Path]:
    files: list[Path] = []
    for entry in PURE:
        p = ROOT / entry
        if p.is_dir():
            files += sorted(p.rglob("*.py"))
        elif p.exists():
            files.append(p)
    return files


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_there_is_a_pure_core_to_check() -> None:
    assert len(pure_files()) >= 5


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_core_module_imports_no_adapter(path: Path) -> None:
    bad = {m for m in imported_modules(path) if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_core_module_does_not_open_files(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name)
        and n.func.id in ("open", "print", "input")
    ]
    assert not calls, f"{path.relative_to(ROOT)} does I/O at line {calls[0].lineno}"
