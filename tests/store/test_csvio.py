import csv
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.store import Store
from cti.store.csvio import export_customers, export_leads, import_customers, import_leads, read_rows

HEADER = "name,phone,company,email,tags,lifecycle,do_not_call,notes\n"
GOOD = [
    "王伟,138 1234 5678;010 6552 9988,华信科技,wang@example.cn,vip;partner,customer,no,喜欢下午联系\n",
    "José Álvarez,+34 612 345 678,,jose@example.es,,prospect,yes,\n",
    '"<script>alert(1)</script>",+1 212 555 0134,"=HYPERLINK(""http://evil"")",,,,,'
    '"\'; DROP TABLE customers;--"\n',
]


def write(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def open_cn(db_url: str) -> Store:
    return await Store.open(db_url, default_country="CN")


async def test_a_clean_file_imports_every_row_and_keeps_hostile_text_as_data(
    db_url: str, tmp_path: Path
) -> None:
    store = await open_cn(db_url)
    try:
        report = await import_customers(store, write(tmp_path, HEADER + "".join(GOOD)))
        assert report.ok and report.committed and report.imported == 3, report.to_json()
        wang = (await store.customers.lookup_caller("+86 10 6552 9988")).customers[0]
        assert (wang.name, wang.company, wang.tags, wang.lifecycle) == (
            "王伟",
            "华信科技",
            ["vip", "partner"],
            "customer",
        )
        jose = (await store.customers.lookup_caller("+34612345678")).customers[0]
        assert jose.do_not_call is not None and jose.do_not_call.source == "csv import"
        hostile = (await store.customers.lookup_caller("+12125550134")).customers[0]
        assert hostile.name == "<script>alert(1)</script>"
        assert hostile.company == '=HYPERLINK("http://evil")'
        assert hostile.notes == "'; DROP TABLE customers;--"
    finally:
        await store.close()


async def test_bad_rows_are_reported_and_nothing_is_half_imported(db_url: str, tmp_path: Path) -> None:
    bad = [
        ",138 0000 0001,,,,,,\n",  # line 5: no name
        "No Phone,,,,,,,\n",
        "Garbage,anonymous,,,,,,\n",
        "Bad Stage,138 0000 0002,,,,married,,\n",
        "Bad Mail,138 0000 0003,,not-an-email,,,,\n",
        "Bad Flag,138 0000 0004,,,,,maybe,\n",
        "Too,Many,Fields,,,,,,,,\n",
    ]
    store = await open_cn(db_url)
    try:
        report = await import_customers(store, write(tmp_path, HEADER + "".join(GOOD + bad)))
        assert not report.committed and report.imported == 0
        assert [(r.line, r.reason.split(":")[0]) for r in report.rejected] == [
            (5, "name is empty"),
            (6, "no phone number"),
            (7, "not a usable phone number"),
            (8, "lifecycle 'married' is not one of target, prospect, opportunity, signed, customer"),
            (9, "not an e-mail address"),
            (10, "do_not_call must be yes or no, not 'maybe'"),
            (11, "11 fields, the header has 8"),
        ]
        assert report.rejected[2].row["phone"] == "anonymous"
        assert (await store.customers.lookup_caller("138 1234 5678")).customers == []
        partial = await import_customers(store, write(tmp_path, HEADER + "".join(GOOD + bad)), partial=True)
        assert partial.committed and partial.imported == 3 and len(partial.rejected) == 7
        assert len((await store.customers.lookup_caller("138 1234 5678")).customers) == 1
    finally:
        await store.close()


async def test_duplicates_by_normalized_phone_are_skipped_and_reported(db_url: str, tmp_path: Path) -> None:
    rows = HEADER + GOOD[0] + "Wang Wei again,+86 138-1234-5678,,,,,,\n" + "Other,0086 139 0000 0000,,,,,,\n"
    store = await open_cn(db_url)
    try:
        report = await import_customers(store, write(tmp_path, rows))
        assert report.imported == 2 and report.ok
        assert [(d.line, d.reason) for d in report.duplicates] == [(3, "same phone as line 2")]
        again = await import_customers(store, write(tmp_path, rows))
        assert again.imported == 0 and again.ok and not again.committed
        assert [d.line for d in again.duplicates] == [2, 3, 4]
        assert "already belongs to customer" in again.duplicates[0].reason
    finally:
        await store.close()


async def test_files_that_cannot_be_read_are_refused_whole(db_url: str, tmp_path: Path) -> None:
    store = await open_cn(db_url)
    try:
        latin1 = tmp_path / "latin1.csv"
        latin1.write_bytes((HEADER + "José,138 1234 5678,,,,,,\n").encode("latin-1"))
        report = await import_customers(store, latin1)
        assert report.problem is not None and "not UTF-8" in report.problem and "line 2" in report.problem
        typo = await import_customers(store, write(tmp_path, "name,phone,compnay\nx,138 1234 5678,y\n"))
        assert typo.problem is not None and "'compnay'" in typo.problem
        empty = await import_customers(store, write(tmp_path, ""))
        assert empty.problem is not None and "empty" in empty.problem
        missing = await import_customers(store, tmp_path / "nope.csv")
        assert missing.problem is not None and not missing.committed
    finally:
        await store.close()


async def test_export_then_import_round_trips_utf8_names(db_url: str, tmp_path: Path) -> None:
    store = await open_cn(db_url)
    try:
        bom = tmp_path / "bom.csv"
        bom.write_bytes(b"\xef\xbb\xbf" + (HEADER + "".join(GOOD)).encode("utf-8"))
        assert (await import_customers(store, bom)).imported == 3
        out = tmp_path / "out.csv"
        assert await export_customers(store, out) == 3
        with out.open(encoding="utf-8", newline="") as f:
            exported = list(csv.DictReader(f))
        assert [r["name"] for r in exported] == ["王伟", "José Álvarez", "<script>alert(1)</script>"]
        assert exported[0]["phone"] == "+8613812345678;+861065529988"
    finally:
        await store.close()
    fresh = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'copy.db'}", default_country="US")
    try:
        report = await import_customers(fresh, out)
        assert report.ok and report.imported == 3
        out2 = tmp_path / "out2.csv"
        await export_customers(fresh, out2)
        assert out2.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")
    finally:
        await fresh.close()


async def test_leads_import_with_timezones_and_export(db_url: str, tmp_path: Path) -> None:
    store = await open_cn(db_url)
    try:
        await store.campaigns.upsert_campaign("c1")
        list_id = await store.campaigns.lead_list("c1", "list")
        text = (
            "name,phone,timezone\n李娜,13812345678,Asia/Shanghai\nBob,+1 212 555 0134,Mars/Olympus\n"
            "dup,+86 138 1234 5678,\nAnn,+44 20 7946 0958,\n"
        )
        report = await import_leads(store, list_id, write(tmp_path, text))
        assert not report.committed and [r.line for r in report.rejected] == [3]
        assert "unknown timezone" in report.rejected[0].reason
        report = await import_leads(store, list_id, write(tmp_path, text), partial=True)
        assert report.imported == 2 and [d.line for d in report.duplicates] == [4]
        out = tmp_path / "leads.csv"
        assert await export_leads(store, list_id, out) == 2
        assert "李娜,+8613812345678,Asia/Shanghai,new,0," in out.read_text(encoding="utf-8")
    finally:
        await store.close()


printable = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(printable, printable, printable), max_size=8))
def test_any_cell_content_survives_the_csv_reader(tmp_path: Path, rows: list[tuple[str, str, str]]) -> None:
    path = tmp_path / "h.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "phone", "notes"])
        writer.writerows(rows)
    read = read_rows(path, ("name", "phone", "notes"))
    expected = [r for r in rows if any(c.strip() for c in r)]
    assert [(r["name"], r["phone"], r["notes"]) for _, r in read] == expected
