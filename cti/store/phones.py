"""Phone numbers to E.164, with Google's libphonenumber (the `phonenumbers` package). Pure, never raises.

Every number that enters the store (customer phones, leads, the do-not-call list, call records) and every
number a lookup asks for goes through :func:`normalize`, so the same person dialling as ``138 1234 5678``,
``+86 138-1234-5678`` or ``0086 13812345678`` finds the same customer.

Rules, in order (docs/store.md repeats them for users):

1. Empty input, the withheld-number words Asterisk and carriers use (``anonymous``, ``unknown``,
   ``restricted``, ``private``, ``unavailable``...) and text with no digit give ``None``.
2. ``tel:`` and ``sip:`` URIs are reduced to their user part (``sip:+8613812345678@pbx`` -> the number).
3. The text is parsed by libphonenumber with the configured default country, so national forms
   (``(415) 555-2671``, ``010 6552 9988``, ``138 1234 5678``), ``+`` forms and the default country's own
   international prefix (``011`` in the US, ``00`` in China) all work. Extensions (``x123``, ``ext. 9``,
   ``;ext=9``, ``转 8001``) are dropped: the customer is the line, not the desk.
4. ``00`` followed by a country code is the international prefix in most of the world; when the default
   country uses another one (the US uses 011) the number is retried as ``+`` and the rest.
5. A number that is not valid for the default country but is valid once read as ``+digits`` (trunks often
   deliver ``8613812345678`` without the plus) is taken that way.
6. A number libphonenumber rates as a *valid* number wins; otherwise a *possible* number (right length for
   its country; numbering plans change faster than the metadata) is accepted; anything else is ``None``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

# What Asterisk, SIP carriers and CLI presentation restrictions put in CallerIDNum when there is no number.
WITHHELD = frozenset(
    {
        "anonymous",
        "unknown",
        "restricted",
        "private",
        "withheld",
        "unavailable",
        "blocked",
        "none",
        "null",
        "<unknown>",
        "asterisk",
    }
)
# Chinese writes an extension as 转 ("transfer to") or 分机; libphonenumber knows only Latin markers.
_CHINESE_EXTENSION = re.compile(r"\s*(?:转|轉|分机|分機)\s*")
_URI = re.compile(r"^(?:tel|sips?):([^@;]*)", re.IGNORECASE)
_MAX_INPUT = 64  # longer text is not a phone number; libphonenumber itself refuses above 250


def normalize(raw: str | None, default_country: str = "US") -> str | None:
    """The E.164 form (``+8613812345678``) of ``raw``, or ``None`` when it is no usable phone number."""
    if raw is None:
        return None
    return _normalize(raw.strip(), default_country.upper())


@lru_cache(maxsize=1 << 16)
def _normalize(text: str, region: str) -> str | None:
    if not text or len(text) > _MAX_INPUT or text.lower() in WITHHELD:
        return None
    uri = _URI.match(text)
    if uri:
        text = uri.group(1)
    if not any(ch.isdigit() for ch in text):
        return None
    text = _CHINESE_EXTENSION.sub(" ext. ", text)
    candidates: list[PhoneNumber] = []
    first = _parse(text, region)
    if first is not None and text.startswith("+"):
        # one reading only (rules 4 and 5 do not apply), and every valid number is a possible one:
        # rule 6 reduces to "possible", which is much cheaper to check than "valid"
        if not phonenumbers.is_possible_number(first):
            return None
        text_e164 = _format(first)
        if text_e164 == text:  # already E.164: reading it back is this very parse, no need to repeat it
            return text_e164
        return _e164(first)
    if first is not None:
        if phonenumbers.is_valid_number(first):
            return _format(first)  # a valid number's E.164 reads back as itself (tests/store/test_phones.py)
        candidates.append(first)
    stripped = text.lstrip(" (")
    if stripped.startswith("00") and not text.startswith("+"):
        # rule 4: "00" as the international prefix even where the default country dials 011
        second = _parse("+" + stripped[2:], region)
        if second is not None and phonenumbers.is_valid_number(second):
            return _format(second)
        if second is not None:
            candidates.append(second)
    elif not text.startswith("+"):
        # rule 5: a country code without its plus
        third = _parse("+" + text, region)
        if third is not None and phonenumbers.is_valid_number(third):
            return _format(third)
    for candidate in candidates:
        if phonenumbers.is_possible_number(candidate) and (e164 := _e164(candidate)) is not None:
            return e164
    return None


def cache_info() -> Any:
    """Hits and misses of the normalization cache (a miss is a libphonenumber parse)."""
    return _normalize.cache_info()


def clear_cache() -> None:
    """Forget the numbers normalized so far (benchmarks measure parsing cold)."""
    _normalize.cache_clear()


def _parse(text: str, region: str) -> PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    number.extension = None  # rule 3: the extension is not part of the line's identity
    return number


def _format(number: PhoneNumber) -> str:
    return str(phonenumbers.format_number(number, PhoneNumberFormat.E164))


def _e164(number: PhoneNumber) -> str | None:
    """E.164 text of a merely *possible* number, only when it reads back as the same number (leading-zero
    national numbers such as ``000000000`` in China format to text that parses as another number: garbage,
    not a phone). A *valid* number needs no such check (libphonenumber's E.164 of a valid number always
    reads back as itself); skipping the second parse halves the cost of normalizing a call's number."""
    text = _format(number)
    again = _parse(text, "ZZ")
    if again is None or _format(again) != text:
        return None
    return text


def display(e164: str) -> str:
    """A human form of a normalized number (``+86 138 1234 5678``); the input itself if it cannot be read."""
    try:
        return str(
            phonenumbers.format_number(phonenumbers.parse(e164, None), PhoneNumberFormat.INTERNATIONAL)
        )
    except NumberParseException:
        return e164


def is_known_region(country: str) -> bool:
    """Whether ``country`` is an ISO 3166 region code libphonenumber has metadata for (config checking)."""
    return country.upper() in phonenumbers.SUPPORTED_REGIONS
