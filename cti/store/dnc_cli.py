"""``cti dnc``: the do-not-call lists. ``import FILE --source NAME`` streams a national list (the US
registry's flat file of area code + number, or one number per line / first CSV column) in batches with
a progress line and a report of rejected lines; ``remove NUMBER...``; ``list`` (each source)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

HELP = "do-not-call lists: import a national list, remove numbers, list the sources"
BATCH = 10_000


@dataclass(slots=True)
class DncImportReport:
    lines: int = 0
    imported: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


def candidate(line: str) -> str | None:
    """The number on one line: ``AAA,NNNNNNN`` (US registry), or the first CSV field; None if blank."""
    text = line.strip().lstrip("\ufeff")
    if not text or text.startswith("#"):
        return None
    fields = [f.strip().strip('"') for f in text.split(",")]
    if len(fields) >= 2 and fields[0].isdigit() and len(fields[0]) == 3 and fields[1].isdigit():
        return f"+1{fields[0]}{fields[1]}"
    return fields[0]


def batches(
    stream: TextIO, normalize: Callable[[str], str | None], report: DncImportReport
) -> Iterator[list[str]]:
    """Normalized numbers of ``stream`` in batches of ``BATCH``; bad lines go to ``report``."""
    batch: list[str] = []
    for number, line in enumerate(stream, start=1):
        report.lines = number
        raw = candidate(line)
        if raw is None:
            continue
        e164 = normalize(raw)
        if e164 is None:
            report.rejected.append((number, f"not a usable phone number: {raw[:40]!r}"))
            continue
        batch.append(e164)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dnc", help=HELP)
    commands = p.add_subparsers(dest="dnc_command", metavar="COMMAND", required=True)
    imp = commands.add_parser("import", help="stream a national (or any) do-not-call list into the store")
    imp.add_argument("file", help="the list: area code,number per line, or one number per line / CSV")
    imp.add_argument("--source", required=True, help="e.g. us-national, tps, internal")
    imp.add_argument("--date", default="", help="the list's own date (kept with each entry)")
    imp.add_argument("--config", required=True, help="TOML configuration file (the [store] url is read)")
    imp.set_defaults(func=run_import)
    rm = commands.add_parser("remove", help="take numbers off the do-not-call list")
    rm.add_argument("numbers", nargs="+")
    rm.add_argument("--config", required=True)
    rm.set_defaults(func=run_remove)
    ls = commands.add_parser("list", help="each source, its size and when it was last added to")
    ls.add_argument("--config", required=True)
    ls.set_defaults(func=run_list)


async def _import(url: str, country: str, path: str, source: str, date: str) -> DncImportReport:
    from cti.store import Store

    report = DncImportReport()
    store = await Store.open(url, default_country=country)
    try:
        # a one-shot CLI: reading the file between batches blocks nothing else
        with open(path, encoding="utf-8", errors="replace", newline="") as stream:  # noqa: ASYNC230
            for batch in batches(stream, store.normalize, report):
                report.imported += await store.dnc.add_numbers(batch, source=source, list_date=date)
                print(f"cti dnc: {report.lines} lines read, {report.imported} numbers", file=sys.stderr)
    finally:
        await store.close()
    return report


def _run(args: argparse.Namespace, work: Callable[[str, str], Awaitable[str]]) -> int:
    from cti.config import load_config
    from cti.core.errors import ConfigError, UsageError

    try:
        cfg = load_config(args.config)
        out = asyncio.run(_call(work, cfg.store.url, cfg.store.default_country))
    except (ConfigError, UsageError, OSError) as e:
        print(f"cti dnc: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(out)
    return 0


async def _call(work: Callable[[str, str], Awaitable[str]], url: str, country: str) -> str:
    return await work(url, country)


def run_import(args: argparse.Namespace) -> int:
    async def work(url: str, country: str) -> str:
        report = await _import(url, country, args.file, args.source, args.date)
        lines = [f"{report.imported} numbers on {args.source!r}, {len(report.rejected)} lines rejected\n"]
        lines += [f"line {n}: {reason}\n" for n, reason in report.rejected[:1000]]
        return "".join(lines)

    return _run(args, work)


def run_remove(args: argparse.Namespace) -> int:
    async def work(url: str, country: str) -> str:
        from cti.store import Store

        store = await Store.open(url, default_country=country)
        try:
            return f"{await store.dnc.remove_numbers(args.numbers)} removed\n"
        finally:
            await store.close()

    return _run(args, work)


def run_list(args: argparse.Namespace) -> int:
    async def work(url: str, country: str) -> str:
        from cti.store import Store

        store = await Store.open(url, default_country=country)
        try:
            rows = await store.dnc.sources()
        finally:
            await store.close()
        return "".join(f"{name}\t{count}\t{last:.0f}\n" for name, count, last in rows)

    return _run(args, work)
