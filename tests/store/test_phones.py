import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.store.phones import display, is_known_region, normalize

CN_MOBILE = "+8613812345678"
BEIJING = "+861065529988"
NEW_YORK = "+12125550134"


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        # Chinese mobile: national, spaced, dashed, +86, 0086, 86 without plus, from a US-default store
        ("13812345678", "CN", CN_MOBILE),
        ("138 1234 5678", "CN", CN_MOBILE),
        ("138-1234-5678", "CN", CN_MOBILE),
        ("+86 138 1234 5678", "US", CN_MOBILE),
        ("+86-138-1234-5678", "CN", CN_MOBILE),
        ("0086 138 1234 5678", "CN", CN_MOBILE),
        ("0086 138 1234 5678", "US", CN_MOBILE),
        ("008613812345678", "US", CN_MOBILE),
        ("8613812345678", "US", CN_MOBILE),
        ("+86 (0) 138 1234 5678", "US", CN_MOBILE),
        # Chinese landline: area code with trunk 0, brackets, +86 without the trunk 0
        ("010 6552 9988", "CN", BEIJING),
        ("(010) 65529988", "CN", BEIJING),
        ("010-65529988", "CN", BEIJING),
        ("+86 10 6552 9988", "US", BEIJING),
        ("0086 10 6552 9988", "US", BEIJING),
        ("021-6123 4567", "CN", "+862161234567"),
        ("0755-8888 1234", "CN", "+8675588881234"),
        # North America: national, with trunk 1, +1, the US international prefix 011 for others
        ("(212) 555-0134", "US", NEW_YORK),
        ("212.555.0134", "US", NEW_YORK),
        ("1-212-555-0134", "US", NEW_YORK),
        ("+1 212 555 0134", "CN", NEW_YORK),
        ("001 212 555 0134", "CN", NEW_YORK),
        ("011 44 20 7946 0958", "US", "+442079460958"),
        ("00 44 20 7946 0958", "US", "+442079460958"),
        ("+44 (0)20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        # extensions are dropped
        ("(212) 555-0134 ext. 123", "US", NEW_YORK),
        ("212-555-0134 x9", "US", NEW_YORK),
        ("+1 212 555 0134;ext=77", "CN", NEW_YORK),
        ("010 6552 9988 转 8001", "CN", BEIJING),
        # URIs and stray whitespace, full-width digits
        ("sip:+8613812345678@pbx.example.com", "US", CN_MOBILE),
        ("tel:+1-212-555-0134", "CN", NEW_YORK),
        ("  13812345678\t", "CN", CN_MOBILE),
        ("１３８１２３４５６７８", "CN", CN_MOBILE),
    ],
)
def test_real_world_formats_normalize_to_e164(raw: str, country: str, expected: str) -> None:
    assert normalize(raw, country) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "anonymous",
        "Anonymous",
        "unknown",
        "<unknown>",
        "Restricted",
        "PRIVATE",
        "unavailable",
        "no digits at all",
        "1001",  # an internal extension
        "12",
        "x" * 10_000,
        "1" * 300,
        "+",
        "++86",
        "<script>alert(1)</script>",
        "'; DROP TABLE customers; --",
        "\x00\x01\x02",
        "sip:@",
        "tel:",
    ],
)
def test_withheld_empty_and_garbage_give_none(raw: str) -> None:
    assert normalize(raw, "US") is None
    assert normalize(raw, "CN") is None


def test_none_input_gives_none() -> None:
    assert normalize(None) is None


def test_the_default_country_decides_national_numbers() -> None:
    assert normalize("020 7946 0958", "GB") == "+442079460958"
    assert normalize("(415) 555-2671", "US") == "+14155552671"
    assert normalize("(415) 555-2671", "us") == "+14155552671"


def test_display_formats_a_normalized_number_for_people() -> None:
    assert display(CN_MOBILE) == "+86 138 1234 5678"
    assert display("garbage") == "garbage"


def test_known_regions_are_iso_codes_with_metadata() -> None:
    assert is_known_region("cn") and is_known_region("US")
    assert not is_known_region("XX")


@given(st.text(max_size=80), st.sampled_from(["US", "CN", "GB", "DE", "IN"]))
def test_normalize_never_raises_and_gives_e164_or_none(raw: str, country: str) -> None:
    result = normalize(raw, country)
    if result is not None:
        assert result.startswith("+") and result[1:].isdigit()
        assert phonenumbers.is_possible_number(phonenumbers.parse(result, None))


@given(st.from_regex(r"[0-9+()\-. x]{0,30}", fullmatch=True), st.sampled_from(["US", "CN"]))
def test_normalizing_twice_changes_nothing(raw: str, country: str) -> None:
    once = normalize(raw, country)
    if once is not None:
        assert normalize(once, country) == once
        assert normalize(once, "GB") == once  # E.164 does not depend on the default country


@pytest.mark.parametrize("country", ["CN", "US"])
def test_all_zero_garbage_is_no_number_rather_than_an_unstable_one(country: str) -> None:
    once = normalize("000000000", country)
    assert once is None or normalize(once, country) == once


def test_every_valid_example_number_reads_back_as_its_own_e164() -> None:
    # normalize() skips the read-back check for valid numbers; this is the property that makes it safe,
    # over libphonenumber's example number of every type in every region, written in three forms
    kinds = [getattr(phonenumbers.PhoneNumberType, k) for k in ("FIXED_LINE", "MOBILE", "TOLL_FREE", "VOIP")]
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in kinds:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None or not phonenumbers.is_valid_number(example):
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
            assert normalize(e164, region) == e164
            assert normalize(national, region) == e164, (region, national)
            assert normalize(e164, "ZZ") == e164
            checked += 1
    assert checked > 500
