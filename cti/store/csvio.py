"""CSV import and export of customers and leads.

Import rules (docs/store.md has the user's version):

- The file is UTF-8 (a byte-order mark is fine); anything else is refused with the line of the first bad
  byte. The first row is the header; column names are case-insensitive; an unknown column is an error
  (a typo must not silently drop data).
- Every row is checked; a rejected row is reported with its line number, the reason and its content.
- De-duplication is by normalized phone number: a row whose number appeared on an earlier row of the
  file, or already belongs to a customer in the store (a lead already in the list), is skipped and
  reported as a duplicate. Duplicates do not make the import fail: importing the same file twice adds
  nothing the second time.
- All or nothing by default: if any row is rejected, nothing is imported. ``partial=True`` imports the
  good rows and reports the rejected ones.
- Content is data: ``<script>``, ``=HYPERLINK(...)`` or ``'; DROP TABLE`` are stored and exported
  exactly as given (they are never interpreted; screens escape them, SQL is always parameterized).
"""

from __future__ import annotations

import asyncio
import csv
import io
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cti.store.customers import LIFECYCLES, NewCustomer

if TYPE_CHECKING:
    from cti.store.repository import Store

CUSTOMER_COLUMNS = (
    "external_ref",
    "name",
    "phone",
    "company",
    "email",
    "owner",
    "language",
    "tags",
    "lifecycle",
    "notes",
    "do_not_call",
)
EXPORT_ONLY = ("id", "tier", "rfm", "at_risk")  # written by export, accepted and ignored by import
LEAD_COLUMNS = ("name", "phone", "timezone", "consent")
LIST_SEPARATOR = ";"  # several phones or tags in one cell
MAX_FIELD = {"name": 200, "company": 200, "email": 254, "owner": 100, "language": 16, "external_ref": 64}
TRUE = frozenset({"1", "true", "yes", "y", "x"})
FALSE = frozenset({"", "0", "false", "no", "n"})

Source = str | Path | Iterable[Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int  # line in the file (the header is line 1); for rows given as dicts, the index + 2
    reason: str
    row: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "reason": self.reason, "row": dict(self.row)}


@dataclass
class ImportReport:
    total: int = 0  # data rows read
    imported: int = 0
    duplicates: list[RejectedRow] = field(default_factory=list)  # skipped, not an error
    rejected: list[RejectedRow] = field(default_factory=list)
    problem: str | None = None  # the whole file was refused (encoding, header)
    committed: bool = False  # whether anything was written

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.rejected

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "imported": self.imported,
            "committed": self.committed,
            "problem": self.problem,
            "duplicates": [r.to_json() for r in self.duplicates],
            "rejected": [r.to_json() for r in self.rejected],
        }

    def summary(self) -> str:
        if self.problem:
            return f"refused: {self.problem}"
        verdict = "imported" if self.committed else "nothing imported"
        return (
            f"{self.total} rows: {self.imported} imported, {len(self.duplicates)} duplicates skipped, "
            f"{len(self.rejected)} rejected ({verdict})"
        )


class CsvProblem(Exception):
    """The file as a whole cannot be read (not UTF-8, no header, unknown columns)."""


def read_rows(source: Source, allowed: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """(line, row) pairs with lower-case keys; raises CsvProblem for file-level problems."""
    if isinstance(source, str | Path):
        data = Path(source).read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            raise CsvProblem(
                f"not UTF-8: byte {e.start} (line {line}) cannot be decoded; save as UTF-8"
            ) from None
        reader = csv.reader(io.StringIO(text, newline=""), strict=False)
        try:
            header = next(reader)
        except StopIteration:
            raise CsvProblem("the file is empty (it needs a header row)") from None
        names = [h.strip().lower() for h in header]
        _check_header(names, allowed)
        rows: list[tuple[int, dict[str, str]]] = []
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank lines are not rows
            if len(cells) != len(names):
                rows.append((line, {"__error__": f"{len(cells)} fields, the header has {len(names)}"}))
                rows[-1][1].update(zip(names, cells, strict=False))
                continue
            rows.append((line, dict(zip(names, cells, strict=True))))
        return rows
    rows = []
    for i, given in enumerate(source):
        row = {str(k).strip().lower(): "" if v is None else str(v) for k, v in given.items()}
        _check_header(list(row), allowed)
        rows.append((i + 2, row))
    return rows


def _check_header(names: list[str], allowed: Sequence[str]) -> None:
    known = set(allowed) | set(EXPORT_ONLY) | {f"phone{i}" for i in range(2, 10)}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise CsvProblem(f"unknown column(s) {', '.join(map(repr, unknown))}; expected: {', '.join(allowed)}")
    if len(set(names)) != len(names):
        raise CsvProblem("a column appears twice in the header")
    for needed in ("name", "phone"):
        if needed not in names:
            raise CsvProblem(f"the header needs a {needed!r} column")


def _phones(row: Mapping[str, str]) -> list[str]:
    cells = [row.get("phone", "")] + [row.get(f"phone{i}", "") for i in range(2, 10)]
    return [p.strip() for cell in cells for p in cell.split(LIST_SEPARATOR) if p.strip()]


def _customer(row: Mapping[str, str], normalize: Any) -> tuple[NewCustomer | None, list[str], str | None]:
    """The customer in ``row``, its normalized numbers, or the reason to reject it."""
    if "__error__" in row:
        return None, [], row["__error__"]
    name = row.get("name", "").strip()
    if not name:
        return None, [], "name is empty"
    for column, limit in MAX_FIELD.items():
        if len(row.get(column, "")) > limit:
            return None, [], f"{column} is longer than {limit} characters"
    raw = _phones(row)
    if not raw:
        return None, [], "no phone number"
    numbers = []
    for number in raw:
        e164 = normalize(number)
        if e164 is None:
            return None, [], f"not a usable phone number: {number!r}"
        if e164 not in numbers:
            numbers.append(e164)
    lifecycle = row.get("lifecycle", "").strip().lower() or "prospect"
    if lifecycle not in LIFECYCLES:
        return None, [], f"lifecycle {lifecycle!r} is not one of {', '.join(LIFECYCLES)}"
    email = row.get("email", "").strip()
    if email and ("@" not in email or " " in email):
        return None, [], f"not an e-mail address: {email!r}"
    flag = row.get("do_not_call", "").strip().lower()
    if flag not in TRUE | FALSE:
        return None, [], f"do_not_call must be yes or no, not {flag!r}"
    customer = NewCustomer(
        name=name,
        phones=tuple(raw),
        company=row.get("company", "").strip(),
        email=email,
        owner=row.get("owner", "").strip(),
        language=row.get("language", "").strip(),
        tags=tuple(t.strip() for t in row.get("tags", "").split(LIST_SEPARATOR) if t.strip()),
        lifecycle=lifecycle,
        notes=row.get("notes", ""),
        external_ref=row.get("external_ref", "").strip() or None,
        do_not_call=flag in TRUE,
        dnc_source="csv import" if flag in TRUE else "",
    )
    return customer, numbers, None


async def import_customers(store: Store, source: Source, *, partial: bool = False) -> ImportReport:
    """Import customers from a CSV file (or dict rows); see the module docstring for the rules."""
    report = ImportReport()
    rows = await _read(source, CUSTOMER_COLUMNS, report)
    accepted: list[tuple[int, dict[str, str], NewCustomer]] = []
    first_line: dict[str, int] = {}
    refs: dict[str, int] = {}
    for line, row in rows:
        customer, numbers, reason = _customer(row, store.normalize)
        if customer is None:
            report.rejected.append(RejectedRow(line, reason or "invalid", _clean(row)))
            continue
        if customer.external_ref and customer.external_ref in refs:
            report.rejected.append(
                RejectedRow(line, f"external_ref also on line {refs[customer.external_ref]}", _clean(row))
            )
            continue
        earlier = next((first_line[n] for n in numbers if n in first_line), None)
        if earlier is not None:
            report.duplicates.append(RejectedRow(line, f"same phone as line {earlier}", _clean(row)))
            continue
        for n in numbers:
            first_line[n] = line
        if customer.external_ref:
            refs[customer.external_ref] = line
        accepted.append((line, row, customer))
    if report.rejected and not partial:
        return report
    if accepted:
        ids, known = await store.customers.add_new_customers([c for _, _, c in accepted])
        for index, owner in sorted(known.items()):
            line, row, _ = accepted[index]
            report.duplicates.append(
                RejectedRow(line, f"phone already belongs to customer {owner}", _clean(row))
            )
        report.imported = sum(1 for i in ids if i is not None)
        report.duplicates.sort(key=lambda r: r.line)
    report.committed = report.imported > 0
    return report


async def import_leads(store: Store, list_id: int, source: Source, *, partial: bool = False) -> ImportReport:
    """Import leads (name, phone, timezone) into a lead list; same rules as customers."""
    report = ImportReport()
    rows = await _read(source, LEAD_COLUMNS, report)
    accepted: list[tuple[int, dict[str, str], dict[str, Any]]] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        reason = row.get("__error__")
        number = row.get("phone", "").strip()
        e164 = store.normalize(number)
        tz = row.get("timezone", "").strip()
        if reason is None and e164 is None:
            reason = f"not a usable phone number: {number!r}" if number else "no phone number"
        if reason is None and tz and not _valid_zone(tz):
            reason = f"unknown timezone {tz!r} (use an IANA name such as Asia/Shanghai)"
        if reason is None and len(row.get("name", "")) > MAX_FIELD["name"]:
            reason = f"name is longer than {MAX_FIELD['name']} characters"
        if reason is not None or e164 is None:
            report.rejected.append(RejectedRow(line, reason or "invalid", _clean(row)))
            continue
        if e164 in first_line:
            report.duplicates.append(RejectedRow(line, f"same phone as line {first_line[e164]}", _clean(row)))
            continue
        first_line[e164] = line
        consent = _consent(row.get("consent", ""))
        if isinstance(consent, str):
            report.rejected.append(RejectedRow(line, consent, _clean(row)))
            continue
        lead: dict[str, Any] = {"name": row.get("name", "").strip(), "raw": number[:64], "e164": e164}
        lead |= {"timezone": tz, "call_consent": consent}
        accepted.append((line, row, lead))
    blocked = await store.campaigns.on_dnc([lead["e164"] for _, _, lead in accepted])
    if blocked:
        for line, row, lead in accepted:
            if lead["e164"] in blocked:
                report.rejected.append(
                    RejectedRow(line, f"{lead['e164']} is on a do-not-call list", _clean(row))
                )
        accepted = [a for a in accepted if a[2]["e164"] not in blocked]
        report.rejected.sort(key=lambda r: r.line)
    if report.rejected and not partial:
        return report
    if accepted:
        skipped = await store.campaigns.add_leads(list_id, [lead for _, _, lead in accepted])
        for index, holder in sorted(skipped.items()):
            line, row, lead = accepted[index]
            where = f"list {holder!r} of this campaign"
            report.duplicates.append(RejectedRow(line, f"{lead['e164']} is already in {where}", _clean(row)))
        report.imported = len(accepted) - len(skipped)
        report.duplicates.sort(key=lambda r: r.line)
    report.committed = report.imported > 0
    return report


_YES = frozenset({"1", "y", "yes", "true", "t"})
_NO = frozenset({"0", "n", "no", "false", "f"})


def _consent(text: str) -> bool | str | None:
    """The lead's call consent column: yes/no, empty when not stated; a reason string otherwise."""
    value = text.strip().lower()
    if not value:
        return None
    if value in _YES:
        return True
    if value in _NO:
        return False
    return f"consent {text!r}: expected yes or no (or empty)"


async def _read(
    source: Source, columns: Sequence[str], report: ImportReport
) -> list[tuple[int, dict[str, str]]]:
    """The rows of ``source`` (none when the file is refused; the report says why)."""
    try:
        rows = await asyncio.to_thread(read_rows, source, columns)
    except (CsvProblem, OSError) as e:
        report.problem = str(e)
        return []
    report.total = len(rows)
    return rows


def _valid_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _clean(row: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in row.items() if k != "__error__"}


async def export_customers(store: Store, path: str | Path) -> int:
    """Write every customer as CSV (the import format plus tier, RFM and at-risk); returns how many."""
    header = ["id", *CUSTOMER_COLUMNS, "tier", "rfm", "at_risk"]
    rows: list[list[str]] = []
    async for c in store.customers.records():
        rows.append(
            [
                str(c["id"]),
                c["external_ref"] or "",
                c["name"],
                LIST_SEPARATOR.join(c["phones"]),
                c["company"],
                c["email"],
                c["owner"],
                c["language"],
                LIST_SEPARATOR.join(c["tags"] or []),
                c["lifecycle"],
                c["notes"],
                "yes" if c["do_not_call"] else "no",
                c["tier"],
                f"{c['rfm_recency']}{c['rfm_frequency']}{c['rfm_monetary']}",
                "yes" if c["at_risk"] else "no",
            ]
        )
    await asyncio.to_thread(_write, Path(path), header, rows)
    return len(rows)


async def export_leads(store: Store, list_id: int, path: str | Path) -> int:
    header = [*LEAD_COLUMNS, "status", "attempts", "last_outcome"]
    rows = [
        [r["name"], r["e164"], r["timezone"], r["status"], str(r["attempts"]), r["last_outcome"] or ""]
        for r in await store.campaigns.lead_records(list_id)
    ]
    await asyncio.to_thread(_write, Path(path), header, rows)
    return len(rows)


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    tmp.replace(path)
