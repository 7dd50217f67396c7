"""Integrity of the static data: regions.json (R20 directory), address prefixes, countries."""

import csv
import json
import re

import pytest

from cases.validation import DATA_DIR, load_regions, province_codes, region_index, shandong_prefixes

CITIES = {
    "370100": ("济南", "Jinan"), "370200": ("青岛", "Qingdao"), "370300": ("淄博", "Zibo"),
    "370400": ("枣庄", "Zaozhuang"), "370500": ("东营", "Dongying"), "370600": ("烟台", "Yantai"),
    "370700": ("潍坊", "Weifang"), "370800": ("济宁", "Jining"), "370900": ("泰安", "Tai'an"),
    "371000": ("威海", "Weihai"), "371100": ("日照", "Rizhao"), "371300": ("临沂", "Linyi"),
    "371400": ("德州", "Dezhou"), "371500": ("聊城", "Liaocheng"), "371600": ("滨州", "Binzhou"),
    "371700": ("菏泽", "Heze"),
}

# A sample of real GB/T 2260 county codes, checked against the published list.
KNOWN_COUNTIES = {
    "370102": "历下区", "370103": "市中区", "370116": "莱芜区", "370202": "市南区", "370203": "市北区",
    "370281": "胶州市", "370303": "张店区", "370481": "滕州市", "370602": "芝罘区", "370705": "奎文区",
    "370811": "任城区", "370881": "曲阜市", "370902": "泰山区", "371002": "环翠区", "371122": "莒县",
    "371302": "兰山区", "371502": "东昌府区", "371681": "邹平市", "371702": "牡丹区", "371721": "曹县",
}


@pytest.fixture(scope="module")
def doc():
    return load_regions()


def all_codes(doc):
    yield doc["province"]["code"]
    for c in doc["cities"]:
        yield c["code"]
        for k in c["counties"]:
            yield k["code"]
            for m in k["communities"]:
                yield m["code"]
            for u in k["units"]:
                yield u["code"]


def test_province(doc):
    assert doc["province"]["code"] == "370000"
    assert doc["province"]["name_zh"] == "山东省"


def test_sixteen_cities_with_real_codes_and_names(doc):
    got = {c["code"]: (c["name_zh"], c["name_en"]) for c in doc["cities"]}
    assert len(doc["cities"]) == 16
    assert set(got) == set(CITIES)
    for code, (zh, en) in CITIES.items():
        assert got[code][0].startswith(zh) and got[code][1] == en


def test_at_least_two_counties_per_city_inside_the_city(doc):
    for c in doc["cities"]:
        assert len(c["counties"]) >= 2, c["code"]
        for k in c["counties"]:
            assert re.fullmatch(r"\d{6}", k["code"]) and k["code"][:4] == c["code"][:4]
            assert k["code"][4:] != "00"
            assert k["name_zh"] and k["name_en"]


def test_known_county_names(doc):
    got = {k["code"]: k["name_zh"] for c in doc["cities"] for k in c["counties"]}
    for code, name in KNOWN_COUNTIES.items():
        assert got[code] == name


def test_communities_prefixed_by_their_county(doc):
    for c in doc["cities"]:
        for k in c["counties"]:
            assert 2 <= len(k["communities"]) <= 3
            for m in k["communities"]:
                assert re.fullmatch(r"\d{12}", m["code"])
                assert m["code"].startswith(k["code"])
                assert m["demo"] is True
                assert m["name_zh"] and m["name_en"] and m["address"] and m["phone"]


def test_units_belong_to_a_county_of_their_city(doc):
    for c in doc["cities"]:
        units = [u for k in c["counties"] for u in k["units"]]
        assert 1 <= len(units) <= 2, c["code"]
        for k in c["counties"]:
            for u in k["units"]:
                assert re.fullmatch(r"U\d{9}", u["code"])
                assert u["county"] == k["code"] and u["code"][1:7] == k["code"]
                assert u["demo"] is True and u["name"]


def test_r20_public_directory_per_county(doc):
    for c in doc["cities"]:
        for k in c["counties"]:
            assert re.fullmatch(r"0\d{2,3}-\d{5,8}", k["complaint_phone"])
            assert k["service_account"]["name_zh"] == "健康山东服务号"
            assert k["service_account"]["name_en"] == "Healthy Shandong Service Number"
            assert k["app"]["name_zh"] == "爱山东" and k["app"]["name_en"] == "Love Shandong"


def test_codes_unique(doc):
    codes = list(all_codes(doc))
    assert len(codes) == len(set(codes))


def test_region_index(doc):
    idx = region_index()
    assert idx["370102001001"]["county"] == "370102" and idx["370102001001"]["city"] == "370100"
    assert idx["U370102001"]["level"] == "unit"
    assert idx["370100"]["level"] == "city"
    assert len(idx) == len(list(all_codes(doc)))


def test_address_prefixes():
    expected = {str(n) for n in [*range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47),
                                 *range(50, 55), *range(61, 66)]}
    assert province_codes() == expected
    ap = json.loads((DATA_DIR / "address_prefixes.json").read_text(encoding="utf-8"))
    current = set(ap["shandong_prefectures_current"])
    assert current == {c[:4] for c in CITIES}
    assert "3712" not in current and "3712" in shandong_prefixes()  # Laiwu, merged 2019
    for code in ap["prefectures"]:
        assert code[:2] in expected
    assert {c for c in ap["prefectures"] if c.startswith("37")} == current
    assert ap["prefectures"]["4201"] == "武汉市"


def test_countries_csv():
    with open(DATA_DIR / "countries.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 249
    assert len({r["alpha_2"] for r in rows}) == 249 and len({r["alpha_3"] for r in rows}) == 249
    by2 = {r["alpha_2"]: r for r in rows}
    assert by2["CN"]["alpha_3"] == "CHN" and by2["CN"]["numeric"] == "156"
    assert by2["GB"]["alpha_3"] == "GBR"
    for r in rows:
        assert re.fullmatch(r"[A-Z]{2}", r["alpha_2"]) and re.fullmatch(r"[A-Z]{3}", r["alpha_3"])
        assert re.fullmatch(r"\d{3}", r["numeric"]) and r["name"]


def test_demo_persons_are_valid_and_live_in_known_communities():
    from datetime import date

    from cases.validation import check_mobile, check_resident_id

    persons = json.loads((DATA_DIR / "demo_persons.json").read_text(encoding="utf-8"))["persons"]
    idx = region_index()
    for p in persons:
        assert check_resident_id(p["id_number"], today=date(2020, 3, 1)) == p["id_number"]
        assert check_mobile(p["phone"]) == p["phone"]
        assert idx[p["community_code"]]["level"] == "community"
        if p["unit_code"]:
            assert idx[p["unit_code"]]["level"] == "unit"
