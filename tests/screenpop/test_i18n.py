"""The consoles' string catalogues: English and Simplified Chinese hold the same keys, and every key the
pages use (``i18n.t("key")``, ``cti.t("key")``, ``data-i18n="key"``, ``data-i18n-attr="attr:key"``) is in
both, with the same ``{placeholders}``."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

STATIC = Path(str(resources.files("cti.screenpop") / "static"))
ENTRY = re.compile(r'^\s*"([\w.-]+)":\s*"((?:[^"\\]|\\.)*)",\s*$')


def catalogue(lang: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, line in enumerate(
        (STATIC / "i18n" / f"{lang}.js").read_text(encoding="utf-8").splitlines(), 1
    ):
        stripped = line.strip()
        if not stripped or stripped.startswith("//") or stripped.startswith("i18n.add(") or stripped == "});":
            continue
        found = ENTRY.match(line)
        assert found, f'{lang}.js line {number}: not one \'"key": "text",\' entry: {line!r}'
        assert found.group(1) not in entries, f"{lang}.js line {number}: {found.group(1)} twice"
        entries[found.group(1)] = found.group(2)
    return entries


def used_keys() -> dict[str, str]:
    """Every key a page uses, with the first file that uses it."""
    used: dict[str, str] = {}
    patterns = (
        re.compile(r'\b(?:i18n|cti)\.t\(\s*"([\w.-]+)"'),
        re.compile(r'\bt\(\s*"([\w.-]+)"'),
        re.compile(r'data-i18n="([\w.-]+)"'),
    )
    attr = re.compile(r'data-i18n-attr="([^"]+)"')
    for path in sorted(STATIC.glob("*.js")) + sorted(STATIC.glob("*.html")):
        if path.name == "i18n.js":
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in patterns:
            for key in pattern.findall(text):
                used.setdefault(key, path.name)
        for spec in attr.findall(text):
            for pair in spec.split(";"):
                used.setdefault(pair.split(":", 1)[1].strip(), path.name)
    return used


def test_both_languages_have_the_same_keys() -> None:
    en, zh = catalogue("en"), catalogue("zh-CN")
    assert sorted(set(en) - set(zh)) == [], "keys missing from zh-CN.js"
    assert sorted(set(zh) - set(en)) == [], "keys missing from en.js"


def test_placeholders_match() -> None:
    en, zh = catalogue("en"), catalogue("zh-CN")
    holes = re.compile(r"\{(\w+)\}")
    for key, text in en.items():
        assert sorted(holes.findall(text)) == sorted(holes.findall(zh[key])), key


def test_every_used_key_is_in_the_catalogue() -> None:
    en = catalogue("en")
    missing = {key: where for key, where in used_keys().items() if key not in en}
    assert missing == {}


def test_chinese_is_not_english() -> None:
    en, zh = catalogue("en"), catalogue("zh-CN")
    han = re.compile(r"[\u4e00-\u9fff]")
    untranslated = [k for k, v in zh.items() if re.search(r"[A-Za-z]{3,}", en[k]) and not han.search(v)]
    assert untranslated == []
