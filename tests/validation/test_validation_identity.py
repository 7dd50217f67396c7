"""Identity and input validators (R6: the declaration's ID, phone, health data)."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cases.validation import (
    check_community_code,
    check_country,
    check_hmt_permit,
    check_id_number,
    check_mobile,
    check_passport,
    check_place,
    check_region_code,
    check_resident_id,
    check_temperature,
    check_unit_code,
    country_name,
    hash_id_number,
    hash_phone,
    keyed_hash,
    mask_id,
    mask_phone,
    mrz_check_digit,
    resident_id_birth_date,
    resident_id_check_char,
)

TODAY = date(2020, 3, 10)


def with_check(body17: str) -> str:
    return body17 + resident_id_check_char(body17)


# --------------------------------------------------------------------------- resident ID


def test_r6_resident_id_reference_check_character():
    # GB 11643 worked example: body 11010519491231002 -> X
    assert resident_id_check_char("11010519491231002") == "X"
    assert check_resident_id("11010519491231002X", today=TODAY) == "11010519491231002X"


@pytest.mark.parametrize(
    "raw, normalised",
    [
        ("11010519491231002X", "11010519491231002X"),
        ("11010519491231002x", "11010519491231002X"),        # lowercase x
        (" 110105 19491231 002X ", "11010519491231002X"),    # spaces
        ("370102199003070024", "370102199003070024"),        # Jinan, Lixia
        ("371202196505050181", "371202196505050181"),        # historical Laiwu 3712
        (with_check("37230119700101001"), with_check("37230119700101001")),  # historical 3723
        (with_check("65010119000101001"), with_check("65010119000101001")),  # 1900-01-01 edge
        (with_check("44030120200310001"), with_check("44030120200310001")),  # born today
    ],
)
def test_r6_accepts_valid_resident_ids(raw, normalised):
    assert check_resident_id(raw, today=TODAY) == normalised


@pytest.mark.parametrize(
    "raw, message",
    [
        ("110105194912310021", "check character should be X, got 1"),
        ("370102199003070025", "check character should be 4, got 5"),
        ("11010519491231002", "has 18 characters, got 17"),
        ("1101051949123100211", "has 18 characters, got 19"),
        ("110105491231002", "15-digit"),
        ("11010519491231002Y", "17 digits followed by a digit or X"),
        ("X10105194912310021", "17 digits followed by a digit or X"),
        (with_check("11010519490230002"), "not a real date"),             # 30 February
        (with_check("11010518991231002"), "before 1900"),
        (with_check("11010520200311002"), "in the future"),              # tomorrow
        (with_check("99010519491231002"), "known province code (99)"),
        (with_check("16010519491231002"), "known province code (16)"),
        (with_check("37990119800101001"), "not a known Shandong prefecture (3799)"),
        (with_check("37000019800101001"), "not a known Shandong prefecture (3700)"),
        (with_check("81000019800101001"), "hmt_permit"),
        ("", "has 18 characters, got 0"),
    ],
)
def test_r6_rejects_bad_resident_ids(raw, message):
    with pytest.raises(ValueError) as exc:
        check_resident_id(raw, today=TODAY)
    assert message in str(exc.value)


def test_r6_rejects_bad_resident_id_checksum():
    with pytest.raises(ValueError, match="check character should be X, got 1"):
        check_resident_id("110105194912310021", today=TODAY)


def test_r6_resident_id_today_is_injected_not_read_from_clock():
    born_2020_03_11 = with_check("37010220200311001")
    with pytest.raises(ValueError, match="future"):
        check_resident_id(born_2020_03_11, today=TODAY)
    assert check_resident_id(born_2020_03_11, today=date(2020, 3, 11)) == born_2020_03_11


def test_r6_resident_id_rejects_non_text():
    with pytest.raises(ValueError, match="text"):
        check_resident_id(370102199003070024, today=TODAY)  # type: ignore[arg-type]


def test_resident_id_birth_date():
    assert resident_id_birth_date("370102199003070024") == date(1990, 3, 7)


@given(st.from_regex(r"\A(11|37|44|65)0[1-9]0[1-9](19[0-9]{2}|200[0-9])(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{3}\Z"))
def test_r6_any_single_digit_typo_is_caught(body):
    if body.startswith("37") and body[:4] not in {"3701", "3702", "3703", "3704", "3705", "3706", "3707", "3708", "3709"}:
        return
    good = body + resident_id_check_char(body)
    assert check_resident_id(good, today=TODAY) == good
    # change the last body digit: MOD 11-2 detects every single-digit substitution
    d = int(good[16])
    bad = good[:16] + str((d + 1) % 10) + good[17]
    with pytest.raises(ValueError, match="check character"):
        check_resident_id(bad, today=TODAY)


# --------------------------------------------------------------------------- passports


def test_r6_mrz_check_digit_icao_specimen():
    assert mrz_check_digit("L898902C3") == 6          # ICAO 9303 specimen document number
    assert mrz_check_digit("740812") == 2             # specimen date of birth
    assert mrz_check_digit("120415") == 9             # specimen date of expiry
    assert mrz_check_digit("<<<<<") == 0


def test_r6_mrz_check_digit_rejects_lowercase():
    with pytest.raises(ValueError, match="not allowed"):
        mrz_check_digit("l898902c3")


@pytest.mark.parametrize(
    "raw, normalised",
    [("L898902C3", "L898902C3"), ("e12345678", "E12345678"), ("G 1234 5678", "G12345678"),
     ("AB123", "AB123"), ("123456789", "123456789")],
)
def test_r6_accepts_passport_numbers(raw, normalised):
    assert check_passport(raw) == normalised


@pytest.mark.parametrize(
    "raw, message",
    [("AB12", "5 to 9"), ("E123456789", "5 to 9"), ("E1234-5678", "only letters"),
     ("L898902C<", "only letters"), ("", "empty"), ("Е1234567", "only letters")],  # Cyrillic Е
)
def test_r6_rejects_bad_passport_numbers(raw, message):
    with pytest.raises(ValueError, match=message):
        check_passport(raw)


# --------------------------------------------------------------------------- HK/Macao/Taiwan


@pytest.mark.parametrize(
    "raw, normalised",
    [
        ("H12345678", "H12345678"),
        ("h1234567801", "H1234567801"),
        ("M87654321", "M87654321"),
        ("12345678", "12345678"),                 # Taiwan card
        ("1234567890(B)", "1234567890(B)"),       # Taiwan legacy booklet
        ("1234567890（b）", "1234567890(B)"),
        ("1234567890", "1234567890"),
        (with_check("81000019800101001"), with_check("81000019800101001")),  # HK residence permit
        (with_check("83000019800101002"), with_check("83000019800101002")),  # TW residence permit
    ],
)
def test_r6_accepts_hmt_permits(raw, normalised):
    assert check_hmt_permit(raw) == normalised


@pytest.mark.parametrize(
    "raw, message",
    [("H1234567", "H or M followed by 8 or 10 digits"), ("M123456789", "H or M followed by 8 or 10 digits"),
     ("T12345678", "not a Hong Kong/Macao/Taiwan permit"), ("1234567", "not a Hong Kong/Macao/Taiwan permit"),
     ("810000198001010010", "check character"), ("", "empty")],
)
def test_r6_rejects_bad_hmt_permits(raw, message):
    with pytest.raises(ValueError, match=message):
        check_hmt_permit(raw)


def test_r6_id_number_dispatches_on_type():
    assert check_id_number("passport", "e1234567", today=TODAY) == "E1234567"
    assert check_id_number("hmt_permit", "H12345678", today=TODAY) == "H12345678"
    assert check_id_number("resident_id", "11010519491231002x", today=TODAY) == "11010519491231002X"
    with pytest.raises(ValueError, match="unknown document type"):
        check_id_number("driving_licence", "X", today=TODAY)


# --------------------------------------------------------------------------- mobile


@pytest.mark.parametrize(
    "raw",
    ["13812341234", "+8613812341234", "+86 138 1234 1234", "86-138-1234-1234", "008613812341234",
     "138-1234-1234", "(+86) 138 1234 1234"],
)
def test_r6_accepts_mobile_numbers(raw):
    assert check_mobile(raw) == "13812341234"


@pytest.mark.parametrize(
    "raw, message",
    [("12812341234", "starts with 13-19"), ("1381234123", "11 digits, got 10"),
     ("138123412345", "11 digits, got 12"), ("0531-1234567", "starts with 13-19"), ("0531-12345678", "11 digits, got 12"),
     ("138a2341234", "only digits"), ("+85291234567", "only digits|11 digits")],
)
def test_r6_rejects_bad_mobile_numbers(raw, message):
    with pytest.raises(ValueError, match=message):
        check_mobile(raw)


# --------------------------------------------------------------------------- temperature


@pytest.mark.parametrize("t", [34.0, 36.5, 37.3, 39.9, 43.0, 37])
def test_r6_accepts_temperatures(t):
    assert check_temperature(t) == float(t)


@pytest.mark.parametrize("t", [33.9, 43.1, 98.6, 0, -1, float("nan"), float("inf"), True, "36.5"])
def test_r6_rejects_temperatures(t):
    with pytest.raises(ValueError):
        check_temperature(t)


def test_r6_temperature_message_hints_at_fahrenheit():
    with pytest.raises(ValueError, match="not °F"):
        check_temperature(98.6)


# --------------------------------------------------------------------------- country / places


@pytest.mark.parametrize(
    "raw, alpha3",
    [("CN", "CHN"), ("chn", "CHN"), (" gb ", "GBR"), ("GBR", "GBR"), ("HK", "HKG"), ("MO", "MAC"),
     ("TW", "TWN"), ("US", "USA"), ("kor", "KOR"), ("IT", "ITA")],
)
def test_r6_country_codes_normalise_to_alpha3(raw, alpha3):
    assert check_country(raw) == alpha3


@pytest.mark.parametrize("raw", ["UK", "XX", "CHINA", "", "C", "156", "ZZZ"])
def test_r6_rejects_unknown_country_codes(raw):
    with pytest.raises(ValueError, match="ISO 3166"):
        check_country(raw)


def test_country_name():
    assert country_name("gb") == "United Kingdom"


@pytest.mark.parametrize(
    "raw, norm",
    [("420106", "420106"), ("110105", "110105"), ("370102", "370102"), ("420000", "420000"),
     ("370100", "370100"), ("gbr", "GBR"), ("US", "USA"), ("HKG", "HKG")],
)
def test_r6_stay_places(raw, norm):
    assert check_place(raw) == norm


@pytest.mark.parametrize(
    "raw, message",
    [("CHN", "6-digit region code"), ("CN", "6-digit region code"), ("4201", "6 digits"),
     ("990101", "province code"), ("371201", "current Shandong city"), ("420006", "malformed"),
     ("Wuhan", "neither")],
)
def test_r6_rejects_bad_places(raw, message):
    with pytest.raises(ValueError, match=message):
        check_place(raw)


def test_region_code_rejects_country():
    with pytest.raises(ValueError, match="6 digits"):
        check_region_code("GBR")


def test_community_and_unit_codes():
    assert check_community_code("370102001001") == "370102001001"
    assert check_unit_code("u370102001") == "U370102001"
    for bad in ("37010200100", "420106001001", "37010200100A"):
        with pytest.raises(ValueError):
            check_community_code(bad)
    for bad in ("370102001", "U42010600", "U420106001"):
        with pytest.raises(ValueError):
            check_unit_code(bad)


# --------------------------------------------------------------------------- masking, hashing


@pytest.mark.parametrize(
    "raw, masked",
    [("37010219900307123X", "3701**********123X"), ("37010219900307123x", "3701**********123X"),
     ("E12345678", "E1*****78"), ("H12345678", "H1*****78"), ("1234", "****"), ("", "")],
)
def test_mask_id(raw, masked):
    assert mask_id(raw) == masked


@pytest.mark.parametrize(
    "raw, masked",
    [("13812341234", "138****1234"), ("+86 138 1234 1234", "138****1234"), ("0531-1234", "******34")],
)
def test_mask_phone(raw, masked):
    assert mask_phone(raw) == masked


def test_keyed_hash_is_hmac_sha256_base64url_and_normalises():
    key = b"k" * 32
    h = keyed_hash("11010519491231002X", key=key)
    assert len(h) == 43 and "=" not in h and "+" not in h and "/" not in h
    assert keyed_hash(" 11010519491231002x ", key=key) == h
    assert keyed_hash("110105 19491231 002X", key=key) == h
    assert keyed_hash("11010519491231002X", key=b"other" * 8) != h
    import base64
    import hashlib
    import hmac

    expected = base64.urlsafe_b64encode(
        hmac.new(key, b"11010519491231002X", hashlib.sha256).digest()
    ).rstrip(b"=").decode()
    assert h == expected


def test_keyed_hash_requires_a_key_and_a_value():
    with pytest.raises(ValueError, match="key"):
        keyed_hash("x", key=b"")
    with pytest.raises(ValueError, match="empty"):
        keyed_hash("   ", key=b"k")


def test_hash_phone_normalises_with_check_mobile():
    key = b"k" * 32
    assert hash_phone("+86 138-1234-1234", key=key) == hash_phone("13812341234", key=key)
    assert hash_phone("13812341234", key=key) == keyed_hash("13812341234", key=key)
    assert hash_id_number("e1234567", key=key) == keyed_hash("E1234567", key=key)
    with pytest.raises(ValueError):
        hash_phone("12345", key=key)
