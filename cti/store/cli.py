"""`cti store ...`: migrate, seed the demo data, import/export CSV, recompute tiers, look a caller up,
manage agents and their skills.

The database is ``--url``, else ``[store] url`` of ``--config``, else the default
``sqlite+aiosqlite:///var/cti.db``. Exit status: 0 done, 1 the data was refused (rejected rows in an
all-or-nothing import, an unreadable file), 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from cti.config import Config, load_config
from cti.core.errors import UsageError
from cti.store.csvio import ImportReport, export_customers, export_leads, import_customers, import_leads
from cti.store.repository import Store
from cti.store.skills import check_languages, check_name, parse_skill
from cti.store.tiers import TierPolicy

Action = Callable[[Store, argparse.Namespace], Awaitable[int]]
# the options of `cti store agent` that create or update the account itself (the rest edit skills)
_ACCOUNT_OPTIONS = ("role", "member", "interface", "name", "extension", "password_stdin", "keep_password")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("store", help="the customer store: migrate, seed, import, export, tiers")
    commands = parser.add_subparsers(dest="store_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str, func: Action) -> Any:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--url", help="database URL (default: [store] url of --config)")
        sub.add_argument("--config", help="cti TOML configuration file")
        sub.add_argument(
            "--country", help="default country for national numbers (default: [store] default_country)"
        )
        sub.set_defaults(func=lambda args: _run(args, func))
        return sub

    action("migrate", "create or upgrade the schema (Store.open does it too)", _migrate)

    seed = action("seed", "fill the database with the generated demo data set (idempotent)", _seed)
    seed.add_argument("--customers", type=int, default=5000)
    seed.add_argument("--seed", type=int, default=42)

    for verb, func in (("import", _import), ("export", _export)):
        sub = action(verb, f"{verb} CSV: customers, leads (or, export only, callers for the simulator)", func)
        sub.add_argument(
            "what", choices=("customers", "leads", "callers") if verb == "export" else ("customers", "leads")
        )
        sub.add_argument("file")
        sub.add_argument("--campaign", help="leads: the campaign (created if missing on import)")
        sub.add_argument(
            "--list", dest="list_name", help="leads: the lead list (created if missing on import)"
        )
        if verb == "import":
            sub.add_argument(
                "--partial", action="store_true", help="import the good rows even if some are rejected"
            )
            sub.add_argument("--json", action="store_true", help="print the full report as JSON")

    tiers = action("tiers", "recompute value tiers, RFM scores and at-risk flags now", _tiers)
    tiers.add_argument("--window-days", type=int, help="spend window (default: [tiers] window_days)")

    lookup = action("lookup", "show what the screen pop would show for a number (JSON)", _lookup)
    lookup.add_argument("number")
    lookup.add_argument("--history", type=int, default=5)

    agent = action("agent", "create or update an agent account, or edit its skills", _agent)
    agent.set_defaults(check=_check_agent)
    agent.add_argument("username")
    agent.add_argument("--role", choices=("agent", "supervisor"), help="default: agent")
    agent.add_argument("--member", help="queue member name (AgentId) as Asterisk logs it")
    agent.add_argument("--interface", help="e.g. Local/1001@agents/n")
    agent.add_argument("--name", help="display name")
    agent.add_argument("--extension")
    agent.add_argument(
        "--password-stdin", action="store_true", default=None, help="read the password from stdin"
    )
    agent.add_argument(
        "--keep-password", action="store_true", default=None, help="update an agent, keep its password"
    )
    agent.add_argument(
        "--skill",
        action="append",
        default=[],
        metavar="NAME:LEVEL",
        help="give the agent a skill at level 1..10 (repeatable; level 0 removes it)",
    )
    agent.add_argument("--no-skill", action="append", default=[], metavar="NAME", help="remove a skill")
    agent.add_argument(
        "--language",
        action="append",
        metavar="TAG",
        help="a language the agent speaks, e.g. fr or zh-CN (repeatable; replaces the list)",
    )
    agent.add_argument("--skills", action="store_true", help="show the agent's skills and languages")
    agent.add_argument("--json", action="store_true", help="with --skills: as JSON")

    rebuild = action(
        "rollups-rebuild",
        "rebuild the report rollups (15-minute, hourly, daily) from the call records (with progress)",
        _rebuild,
    )
    rebuild.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (default: the oldest record)")
    rebuild.add_argument("--to", dest="end", help="last day, inclusive, YYYY-MM-DD (default: the newest)")
    rebuild.set_defaults(check=_check_rebuild)

    docs = action(
        "documents", "the fulfilment catalogue: list, add or remove documents (issue #13)", _documents
    )
    docs.add_argument("verb", choices=("list", "add", "remove"))
    docs.add_argument("name", nargs="?", help="the document's name, as agents pick it")
    docs.add_argument("--file", help="add: the file (its bytes are stored, unless --link)")
    docs.add_argument("--link", action="store_true", help="add: store the path only, read when sent")
    docs.add_argument("--mime", default="", help="add: MIME type (default: guessed from the file name)")
    docs.add_argument("--json", action="store_true", help="list: as JSON")
    codes = action(
        "dispositions", "the inbound disposition codes: list, add (or replace) or remove (issue #12)", _codes
    )
    codes.add_argument("verb", choices=("list", "add", "remove"))
    codes.add_argument("code", nargs="?", help="the code, as saved with the call")
    codes.add_argument("--label", default="", help="add: what agents read (default: the code)")
    codes.add_argument(
        "--outcome", default="none", choices=("resolution", "sale", "none"), help="add: for the reports"
    )
    codes.add_argument(
        "--queue", action="append", default=[], help="add: offered on this queue only (repeatable)"
    )
    codes.add_argument("--callback", action="store_true", help="add: a callback time is required")
    codes.add_argument("--inactive", action="store_true", help="add: kept, but no longer offered")
    codes.add_argument("--position", type=int, help="add: its place in the list (default: last)")
    codes.add_argument("--json", action="store_true", help="list: as JSON")
    skills = action("skills", "list agents' skills and languages (one agent, or every active one)", _skills)
    skills.add_argument("username", nargs="?")
    skills.add_argument("--json", action="store_true", help="as JSON")


def _day_start(value: str | None, *, after: bool = False) -> float | None:
    """Local midnight of ``value`` (the day after, for ``after``), epoch seconds; None stays None."""
    if value is None:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{value!r} is not a date: use YYYY-MM-DD") from None
    if after:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time()).timestamp()


def _check_rebuild(args: argparse.Namespace) -> None:
    start, end = _day_start(args.start), _day_start(args.end, after=True)
    if start is not None and end is not None and end <= start:
        raise UsageError("--to is before --from")


async def _rebuild(store: Store, args: argparse.Namespace) -> int:
    cfg = load_config(args.config) if args.config else Config()
    store.rollups.use_thresholds(cfg.reports.threshold, cfg.reports.short_abandon)
    width = 40

    def bar(done: int, total: int) -> None:
        filled = width * done // total if total else width
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} intervals", end="", file=sys.stderr)

    written = await store.rollups.rebuild(
        _day_start(args.start), _day_start(args.end, after=True), progress=bar
    )
    print(file=sys.stderr)
    print(f"rebuilt {written} intervals with calls")
    return 0


def _settings(args: argparse.Namespace) -> tuple[str, str, TierPolicy]:
    cfg = load_config(args.config) if args.config else Config()
    url = args.url or cfg.store.url
    country = args.country or cfg.store.default_country
    window = getattr(args, "window_days", None) or cfg.tiers.window_days
    try:
        policy = TierPolicy(window_days=window)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return url, country, policy


def _run(args: argparse.Namespace, func: Action) -> int:
    try:
        url, country, policy = _settings(args)
        check = getattr(args, "check", None)
        if check is not None:
            check(args)  # bad input is refused before the database is opened
    except UsageError as e:
        print(f"cti store: {e}", file=sys.stderr)
        return 2

    async def main() -> int:
        store = await Store.open(url, default_country=country, policy=policy)
        try:
            return await func(store, args)
        finally:
            await store.close()

    try:
        return asyncio.run(main())
    except UsageError as e:
        print(f"cti store: {e}", file=sys.stderr)
        return 2


async def _migrate(store: Store, args: argparse.Namespace) -> int:
    from cti.store.schema import current_revision

    async with store.engine.connect() as conn:
        revision = await conn.run_sync(current_revision)
    print(f"schema at revision {revision}")
    return 0


async def _seed(store: Store, args: argparse.Namespace) -> int:
    if args.customers < 0:
        raise UsageError("--customers cannot be negative")
    before = await store.demo.seeded()
    await store.demo.seed(customers=args.customers, seed=args.seed)
    if before:
        print(f"demo data already seeded ({before}); agents and queues checked")
    else:
        print(
            f"seeded {args.customers} demo customers (seed {args.seed}); "
            "agents alice..frank and super, password demo"
        )
    return 0


async def _list_id(store: Store, args: argparse.Namespace, *, create: bool) -> int:
    if not args.campaign or not args.list_name:
        raise UsageError("leads need --campaign and --list")
    if create:
        await store.campaigns.upsert_campaign_if_missing(args.campaign)
    return await store.campaigns.lead_list(args.campaign, args.list_name)


async def _import(store: Store, args: argparse.Namespace) -> int:
    report: ImportReport
    if args.what == "customers":
        report = await import_customers(store, args.file, partial=args.partial)
    else:
        report = await import_leads(
            store, await _list_id(store, args, create=True), args.file, partial=args.partial
        )
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        for row in report.rejected:
            print(f"{args.file}:{row.line}: rejected: {row.reason}")
        for row in report.duplicates:
            print(f"{args.file}:{row.line}: duplicate: {row.reason}")
        print(report.summary())
    return 0 if report.ok or (args.partial and report.problem is None) else 1


async def _export(store: Store, args: argparse.Namespace) -> int:
    if args.what == "customers":
        count = await export_customers(store, args.file)
    elif args.what == "callers":
        count = await store.demo.export_callers_csv(args.file)
    else:
        count = await export_leads(store, await _list_id(store, args, create=False), args.file)
    print(f"exported {count} {args.what} to {args.file}")
    return 0


async def _tiers(store: Store, args: argparse.Namespace) -> int:
    changed = await store.tiers.recompute()
    counts = await store.tiers.counts()
    print(f"{changed} customers changed; " + ", ".join(f"{tier}: {n}" for tier, n in sorted(counts.items())))
    return 0


async def _documents(store: Store, args: argparse.Namespace) -> int:
    from pathlib import Path

    f = store.fulfilment
    if args.verb == "list":
        docs = await f.documents()
        if args.json:
            print(json.dumps([dict(d.to_json(), path=d.path, size=d.size) for d in docs], indent=2))
        for d in [] if args.json else docs:
            where = d.path if d.size is None else f"{d.size} bytes stored"
            print(f"{d.id}\t{d.name}\t{d.filename}\t{d.mime_type}\t{where}")
        return 0
    if not args.name:
        raise UsageError(f"documents {args.verb} needs the document's NAME")
    if args.verb == "remove":
        if not await f.remove_document(args.name):
            raise UsageError(f"no document {args.name!r}")
        print(f"removed {args.name}")
        return 0
    if not args.file:
        raise UsageError("documents add needs --file FILE")

    def read() -> tuple[bytes | None, str]:
        path = Path(args.file)
        if args.link:
            if not path.is_file():
                raise FileNotFoundError(2, "no such file")
            return None, str(path.resolve())
        return path.read_bytes(), ""

    try:
        data, linked = await asyncio.to_thread(read)
    except OSError as e:
        print(f"cti store: {args.file}: {e.strerror}", file=sys.stderr)
        return 1
    doc = await f.add_document(
        args.name,
        path=linked or None,
        content=data,
        mime_type=args.mime,
        filename=Path(args.file).name,
    )
    print(f"document {doc.id}: {doc.name} ({doc.mime_type})")
    return 0


async def _codes(store: Store, args: argparse.Namespace) -> int:
    from cti.core.dispositions import DispositionError, build

    repo = store.dispositions
    if args.verb == "list":
        codes = await repo.codes()
        if args.json:
            print(json.dumps([c.to_json() for c in codes], ensure_ascii=False, indent=2))
        for c in [] if args.json else codes:
            flags = [f for f, on in (("callback", c.callback), ("inactive", not c.active)) if on]
            queues = ",".join(c.queues) or "*"
            print(f"{c.position}\t{c.code}\t{c.label or c.code}\t{c.outcome}\t{queues}\t{' '.join(flags)}")
        return 0
    if not args.code:
        raise UsageError(f"dispositions {args.verb} needs the CODE")
    if args.verb == "remove":
        if not await repo.remove(args.code):
            raise UsageError(f"no disposition code {args.code!r}")
        print(f"removed {args.code} (a running daemon reads the list again within 30 s)")
        return 0
    have = await repo.codes()
    same = next((c.position for c in have if c.code == args.code), None)
    last = max((c.position for c in have), default=-1) + 1
    fields = {
        "code": args.code,
        "label": args.label,
        "outcome": args.outcome,
        "queues": args.queue,
        "callback": args.callback,
        "active": not args.inactive,
        "position": args.position if args.position is not None else same if same is not None else last,
    }
    try:
        code = build(fields)
    except DispositionError as e:
        raise UsageError(f"--{e.field}: {e.message}") from None
    new = await repo.put(code)
    print(f"{'added' if new else 'replaced'} {code.code} ({code.outcome})")
    return 0


async def _lookup(store: Store, args: argparse.Namespace) -> int:
    found = await store.customers.lookup_caller(args.number, history=args.history)
    print(json.dumps(found.to_json(), ensure_ascii=False, indent=2))
    return 0


def _check_agent(args: argparse.Namespace) -> None:
    """``--skill``, ``--no-skill`` and ``--language`` checked, as ``args.levels``, ``gone`` and ``tags``."""
    levels: dict[str, int] = {}
    gone: set[str] = set()
    for text in args.skill:
        name, level = parse_skill(text)
        if level:
            levels[name] = level
        else:
            gone.add(name)
    gone.update(check_name(name) for name in args.no_skill)
    if both := sorted(gone & set(levels)):
        raise UsageError(f"skill {both[0]!r} is both given and removed")
    args.levels, args.gone = levels, sorted(gone)
    args.tags = None if args.language is None else check_languages(args.language)


async def _agent(store: Store, args: argparse.Namespace) -> int:
    edits = bool(args.levels or args.gone or args.tags is not None)
    if edits or args.skills:
        account_options = any(getattr(args, o) is not None for o in _ACCOUNT_OPTIONS)
    else:
        account_options = True  # `cti store agent USER` alone creates the agent, as it always did
    if account_options:
        await _save_agent(store, args)
    if args.levels or args.gone:
        await store.skills.update(args.username, args.levels, remove=args.gone)
    if args.tags is not None:
        await store.skills.set_languages(args.username, args.tags)
    if account_options or edits:
        print(f"agent {args.username} saved")
    if args.skills:
        _print_skills(await _skills_of(store, args.username), as_json=args.json)
    return 0


async def _save_agent(store: Store, args: argparse.Namespace) -> None:
    password: str | None = None
    if not args.keep_password:
        password = (
            sys.stdin.readline().rstrip("\r\n") if args.password_stdin else getpass.getpass("password: ")
        )
        if not password:
            raise UsageError("an empty password is not allowed")
    await store.accounts.upsert_agent(
        args.username,
        password,
        args.role or "agent",
        args.member or None,
        args.interface or "",
        args.name or args.username,
        extension=args.extension or "",
    )


async def _skills(store: Store, args: argparse.Namespace) -> int:
    if args.username:
        found = await _skills_of(store, args.username)
    else:
        languages = await store.skills.all_languages()
        found = {u: (s, languages.get(u, [])) for u, s in (await store.skills.all()).items()}
    _print_skills(found, as_json=args.json)
    return 0


async def _skills_of(store: Store, username: str) -> dict[str, tuple[dict[str, int], list[str]]]:
    return {username: (await store.skills.of_agent(username), await store.skills.languages_of(username))}


def _print_skills(found: dict[str, tuple[dict[str, int], list[str]]], *, as_json: bool) -> None:
    if as_json:
        document = {u: {"skills": s, "languages": langs} for u, (s, langs) in found.items()}
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return
    rows = [("AGENT", "SKILLS", "LANGUAGES")] + [
        (u, " ".join(f"{n}:{level}" for n, level in s.items()) or "-", " ".join(langs) or "-")
        for u, (s, langs) in found.items()
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    for r in rows:
        print(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]}".rstrip())
