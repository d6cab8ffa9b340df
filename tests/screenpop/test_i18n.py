"""The consoles' string catalogues: English and Simplified Chinese hold the same keys, and every key the
pages use (``i18n.t("key")``, ``cti.t("key")``, ``data-i18n="key"``, ``data-i18n-attr="attr:key"``) is in
both, with the same ``{placeholders}``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

STATIC = Path(str(resources.files("cti.screenpop") / "static"))
KEY = re.compile(r"^[\w-]+(?:\.[\w-]+)+$")
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
        if path.suffix == ".js":  # keys picked by a condition: t(live ? "a.b" : "a.c")
            for key in translated_keys(text):
                used.setdefault(key, path.name)
    return used


def translated_keys(source: str) -> list[str]:
    """The key-shaped literals of t()'s first argument (both branches of a condition)."""
    toks, keys = tokens(source), []
    for i, tok in enumerate(toks[:-1]):
        if tok.kind == "id" and tok.text == "t" and toks[i + 1].text == "(":
            args = _args(toks, i + 1)
            if args:
                start, end = args[0]
                keys += [x.text for x in toks[start:end] if x.kind == "str" and KEY.match(x.text)]
    return keys


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
    words = re.compile(r"[A-Za-z]{3,}")
    holes = re.compile(r"\{\w+\}")  # a placeholder's name is not English text
    proper = {"cti", "DID", "FTC", "ASA"}  # names and abbreviations the Chinese text keeps
    untranslated = [
        k
        for k, v in zh.items()
        if {w for w in words.findall(holes.sub("", en[k])) if w not in proper} and not han.search(v)
    ]
    assert untranslated == []


# ---- no user-visible literal escapes the catalogue ----
#
# HTML: every text node with letters sits in an element with data-i18n (whose text the catalogue
# replaces, so it has no element children), and every aria-label/placeholder/title/alt/label attribute
# with letters is named in its element's data-i18n-attr; data-i18n-skip exempts an element and what it
# holds (product names, code examples). JS: a string or template literal with letters is flagged where
# it becomes text: assigned to textContent/title/placeholder, a text child of el(...) or an
# aria-label/placeholder/title in el()'s attributes, or an argument that a page shows (status(),
# offline(), logEvent(), act()'s label, new Error(...)), unless it is inside t(...)/tOr(...).

TEXT_ATTRS = ("aria-label", "placeholder", "title", "alt", "label")
LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str | None], int]] = []
        self.problems: list[str] = []

    def _skipped(self) -> bool:
        return any("data-i18n-skip" in attrs for _, attrs, _ in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = dict(attrs)
        line = self.getpos()[0]
        if self.stack and "data-i18n" in self.stack[-1][1]:
            self.problems.append(
                f"line {line}: <{tag}> inside data-i18n <{self.stack[-1][0]}> (apply() wipes it)"
            )
        named = {
            pair.split(":", 1)[0].strip()
            for pair in (given.get("data-i18n-attr") or "").split(";")
            if ":" in pair
        }
        exempt = self._skipped() or "data-i18n-skip" in given
        for attr in TEXT_ATTRS:
            value = given.get(attr)
            if value and LETTERS.search(value) and attr not in named and not exempt:
                self.problems.append(f"line {line}: <{tag} {attr}={value!r}> not in data-i18n-attr")
        if tag not in VOID:
            self.stack.append((tag, given, line))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if not LETTERS.search(data) or not self.stack or self.stack[-1][0] in ("script", "style"):
            return
        if "data-i18n" not in self.stack[-1][1] and not self._skipped():
            self.problems.append(f"line {self.getpos()[0]}: text {data.strip()!r} without data-i18n")


def html_problems(text: str) -> list[str]:
    page = _Page()
    page.feed(text)
    page.close()
    return page.problems


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # str (a quoted string or a template's fixed text), id, punct, num, regex
    text: str
    line: int


_PUNCT = re.compile(r"===|!==|=>|==|!=|<=|>=|&&|\|\||\?\?|\?\.|\+=|-=|\*\*|\.\.\.|[^\s\w]")
_REGEX_AFTER = set("(,=:[!&|?{};+-*%<>~^") | {
    "=>",
    "==",
    "===",
    "!=",
    "!==",
    "&&",
    "||",
    "??",
    "+=",
    "return",
    "typeof",
}


def tokens(source: str, first_line: int = 1) -> list[Token]:
    """A JavaScript tokenizer good enough for the consoles: strings, templates (their fixed text, with
    what their ${...} hold tokenized in place), comments and regex literals skipped."""
    out: list[Token] = []
    i, line, n = 0, first_line, len(source)

    def template(start: int) -> int:
        nonlocal line
        j, fixed = start + 1, []
        while j < n and source[j] != "`":
            if source[j] == "\\":
                fixed.append(source[j : j + 2])
                j += 2
            elif source.startswith("${", j):
                depth, k = 1, j + 2
                while k < n and depth:
                    depth += {"{": 1, "}": -1}.get(source[k], 0)
                    k += 1
                out.extend(tokens(source[j + 2 : k - 1], line + source.count("\n", start, j)))
                fixed.append(" ")
                j = k
            else:
                fixed.append(source[j])
                j += 1
        out.append(Token("str", "".join(fixed), line))
        line += source.count("\n", start, j)
        return j + 1

    while i < n:
        c = source[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif source.startswith("//", i):
            i = source.find("\n", i) if "\n" in source[i:] else n
        elif source.startswith("/*", i):
            end = source.index("*/", i) + 2
            line += source.count("\n", i, end)
            i = end
        elif c in "\"'":
            j = i + 1
            while source[j] != c:
                j += 2 if source[j] == "\\" else 1
            out.append(Token("str", source[i + 1 : j], line))
            i = j + 1
        elif c == "`":
            i = template(i)
        elif c == "/" and (not out or out[-1].text in _REGEX_AFTER):
            j, in_class = i + 1, False
            while source[j] != "/" or in_class:
                in_class = (in_class or source[j] == "[") and source[j] != "]"
                j += 2 if source[j] == "\\" else 1
            j += 1
            while j < n and source[j].isalpha():
                j += 1
            out.append(Token("regex", source[i:j], line))
            i = j
        elif c.isdigit():
            found = re.compile(r"[\d.xXa-fA-F_eE]+").match(source, i)
            assert found
            out.append(Token("num", found.group(), line))
            i = found.end()
        elif c.isalpha() or c in "_$":
            found = re.compile(r"[\w$]+").match(source, i)
            assert found
            out.append(Token("id", found.group(), line))
            i = found.end()
        else:
            found = _PUNCT.match(source, i)
            assert found
            out.append(Token("punct", found.group(), line))
            i = found.end()
    return out


OPEN, CLOSE = {"(": ")", "[": "]", "{": "}"}, {")", "]", "}"}
COMPARE = {"===", "!==", "==", "!=", "in", "case"}
TRANSLATED = {"t", "tOr"}  # their arguments are keys, not text
# function -> the argument positions a page shows as text (el: its children, from the third)
SHOWN_ARGS: dict[str, tuple[int, ...]] = {
    "status": (0,),
    "onStatus": (0,),
    "offline": (1,),
    "logEvent": (0,),
    "note": (0,),
    "act": (1,),
    "Error": (0,),
}
ATTR_KEYS = {"aria-label", "placeholder", "title", "alt", "label"}
# literals with letters that are not text: the product's name; the codes the agent's disposition
# lists send (shown through cti.word("disposition", code), their catalogue entries)
NOT_TEXT = {
    "cti ",
    "resolved",
    "follow-up",
    "sale",
    "complaint",
    "wrong number",
    "no answer",
    "answered",
    "spam",
}
NOT_TEXT |= {"duplicate", "answered by phone"}


def _close(toks: list[Token], i: int) -> int:
    """The index just past the bracket group opening at ``i``."""
    depth = 0
    for j in range(i, len(toks)):
        if toks[j].text in OPEN:
            depth += 1
        elif toks[j].text in CLOSE:
            depth -= 1
            if depth == 0:
                return j + 1
    return len(toks)


def _args(toks: list[Token], i: int) -> list[tuple[int, int]]:
    """The (start, end) token ranges of the call's arguments, ``i`` at its "("."""
    end, out, start, depth = _close(toks, i) - 1, [], i + 1, 0
    for j in range(i + 1, end):
        if toks[j].text in OPEN:
            depth += 1
        elif toks[j].text in CLOSE:
            depth -= 1
        elif toks[j].text == "," and depth == 0:
            out.append((start, j))
            start = j + 1
    if start < end:
        out.append((start, end))
    return out


def _texts(toks: list[Token], start: int, end: int) -> list[Token]:
    """The literals with letters that the expression toks[start:end] can yield as text."""
    found, i = [], start
    while i < end:
        tok = toks[i]
        ahead = toks[i + 1] if i + 1 < end else None
        if (
            tok.kind == "id"
            and ahead is not None
            and ahead.text == "("
            and (tok.text in TRANSLATED or tok.text == "el")
        ):
            i = _close(toks, i + 1)  # a key, or a nested el() checked on its own
            continue
        if (
            tok.text == "."
            and ahead is not None
            and ahead.kind == "id"
            and i + 2 < end
            and toks[i + 2].text == "("
        ):
            i = _close(toks, i + 2)  # a method's arguments (join(" · "), replace("_", " ")) are not text
            continue
        if tok.text == "{":
            i = _close(toks, i)  # an object or a function body: its own sinks are checked on their own
            continue
        if tok.kind == "str" and LETTERS.search(tok.text) and tok.text not in NOT_TEXT:
            before = toks[i - 1].text if i > start else ""
            if before not in COMPARE and (ahead is None or ahead.text not in COMPARE):
                found.append(tok)
        i += 1
    return found


def _statement_end(toks: list[Token], i: int) -> int:
    depth = 0
    for j in range(i, len(toks)):
        text = toks[j].text
        if text in OPEN:
            depth += 1
        elif text in CLOSE:
            depth -= 1
            if depth < 0:
                return j
        elif depth == 0 and text in (";", ","):
            return j
    return len(toks)


def js_problems(source: str) -> list[str]:
    toks, found = tokens(source), []
    for i, tok in enumerate(toks):
        ahead = toks[i + 1].text if i + 1 < len(toks) else ""
        if tok.kind != "id":
            continue
        if tok.text in ("textContent", "title", "placeholder", "innerText") and i and toks[i - 1].text == ".":
            if ahead in ("=", "+="):
                found += _texts(toks, i + 2, _statement_end(toks, i + 2))
        elif ahead == "(" and tok.text in SHOWN_ARGS and (i == 0 or toks[i - 1].text != "function"):
            args = _args(toks, i + 1)
            for position in SHOWN_ARGS[tok.text]:
                if position < len(args):
                    found += _texts(toks, *args[position])
        elif ahead == "(" and tok.text == "el":
            args = _args(toks, i + 1)
            for start, end in args[2:]:
                found += _texts(toks, start, end)
            if len(args) > 1 and toks[args[1][0]].text == "{":
                attrs = toks[args[1][0] : args[1][1]]
                for j in range(len(attrs) - 2):
                    if attrs[j].text in ATTR_KEYS and attrs[j + 1].text == ":":
                        found += _texts(attrs, j + 2, _statement_end(attrs, j + 2))
        elif tok.text == "setAttribute" and ahead == "(":
            args = _args(toks, i + 1)
            if len(args) == 2 and toks[args[0][0]].text in ATTR_KEYS:
                found += _texts(toks, *args[1])
    return [f"line {t.line}: {t.text!r}" for t in found]


def pages() -> list[Path]:
    return sorted(p for p in STATIC.glob("*.html")) + sorted(
        p for p in STATIC.glob("*.js") if p.name != "i18n.js"
    )


def test_no_html_text_escapes_the_catalogue() -> None:
    problems = {p.name: html_problems(p.read_text(encoding="utf-8")) for p in STATIC.glob("*.html")}
    assert {k: v for k, v in problems.items() if v} == {}


def test_no_js_text_escapes_the_catalogue() -> None:
    problems = {
        p.name: js_problems(p.read_text(encoding="utf-8")) for p in STATIC.glob("*.js") if p.name != "i18n.js"
    }
    assert {k: v for k, v in problems.items() if v} == {}


def test_the_checkers_flag_what_they_guard() -> None:
    assert html_problems('<p>Hello</p><p data-i18n="k">Hello</p><b data-i18n-skip>cti</b>') == [
        "line 1: text 'Hello' without data-i18n"
    ]
    assert html_problems(
        '<input placeholder="your name"><input placeholder="x" data-i18n-attr="placeholder:k">'
    ) == ["line 1: <input placeholder='your name'> not in data-i18n-attr"]
    assert html_problems('<label data-i18n="k">User <input></label>') != []
    js = """
      out.textContent = ok ? t("a.b") : `${label}: done`;
      node.title = live ? "still up" : "";
      el("p", { class: "muted", "aria-label": "talk time" }, x === "found" ? "" : "unknown caller", t("k"));
      el("li", {}, [a, `for ${b}`].join(" · "), el("b", {}, "nested"));
      status("ready", "ok"); act({ type: "hangup" }, "hang up"); reject(new Error("no server"));
      x.textContent = [a.replace("_", " "), t("k", { n: "x" })].join(", ");
    """
    assert js_problems(js) == [
        "line 2: ' : done'",
        "line 3: 'still up'",
        "line 4: 'unknown caller'",
        "line 4: 'talk time'",
        "line 5: 'for  '",
        "line 5: 'nested'",
        "line 6: 'ready'",
        "line 6: 'hang up'",
        "line 6: 'no server'",
    ]


# ---- the daemon's error codes: each has its "error.<code>" entry (cti.error shows it) ----

CTI = Path(str(resources.files("cti")))
# where a code the consoles receive is written: the exceptions that carry one to an `error` message, the
# `error` messages the server builds, the remote requests' defaults and their map, the preview's refusals
CODE_SOURCES = (
    re.compile(r'\b(?:DeskError|BadMessage|TaskError|FulfilmentError|Refused|DispositionError)\(\s*"(\w+)"'),
    re.compile(r'\bp\.error\(\s*"(\w+)"'),
    re.compile(r'\b_error_code\([^,()]+,\s*"(\w+)"'),
    re.compile(r'raise ValueError\(\s*"(\w+)",\s*"'),
)
REMOTE_MAP = re.compile(r"_REMOTE_CODES = \{(.*?)\}", re.S)
CLIENT_CODES = {"offline"}  # console.js's own, when a command finds no connection


def server_codes() -> dict[str, str]:
    """Every error code the Python sources can send, with the first file that sends it."""
    codes: dict[str, str] = {}
    for path in sorted(CTI.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        found = [code for pattern in CODE_SOURCES for code in pattern.findall(text)]
        for block in REMOTE_MAP.findall(text):
            found += re.findall(r'"\w+":\s*"(\w+)"', block)
        for code in found:
            codes.setdefault(code, str(path.relative_to(CTI)))
    return codes


def test_every_error_code_the_server_sends_has_a_catalogue_entry() -> None:
    codes = server_codes()
    assert {"do_not_call", "bad_field", "auth_failed", "too_deep", "no_preview", "ami_failed"} <= set(codes)
    en = catalogue("en")
    assert {code: where for code, where in codes.items() if f"error.{code}" not in en} == {}


def test_every_error_entry_is_a_code_someone_sends() -> None:
    sent = set(server_codes()) | CLIENT_CODES
    stale = [key for key in catalogue("en") if key.startswith("error.") and key[len("error.") :] not in sent]
    assert stale == []


def test_the_states_an_agent_can_be_in_have_words() -> None:
    from cti.core.events import AgentState
    from cti.dialer.settings import State as CampaignState

    en = catalogue("en")
    missing = [f"state.{s.value}" for s in AgentState if f"state.{s.value}" not in en]
    missing += [f"campaign_state.{s.value}" for s in CampaignState if f"campaign_state.{s.value}" not in en]
    assert missing == []


def test_the_codes_shown_through_word_have_their_words() -> None:
    """The agent's built-in disposition codes are sent as they are and shown in words (cti.word)."""
    en = catalogue("en")
    codes = {c for c in NOT_TEXT if c != "cti "}
    missing = [
        c
        for c in sorted(codes)
        if not any(
            f"{kind}.{re.sub(r'[^A-Za-z0-9]+', '_', c)}" in en
            for kind in ("disposition", "email_disposition")
        )
    ]
    assert missing == []
