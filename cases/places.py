"""Places of a residence history by name (R6): the applicant picks "湖北省 武汉市" or
"济南市 历下区 Lixia District" or "United Kingdom"; the declaration stores the code
(GB/T 2260 or ISO 3166 alpha-3) the comparison needs. Pure: read from cases/data only."""
from __future__ import annotations

import re
from functools import lru_cache

from cases.validation import _address_prefixes, _countries, load_regions

# Prefecture entries that are no place a person names (a municipality's districts, directly
# administered counties): the province's own entry covers them.
_NOT_A_PLACE = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
_CODE = re.compile(r"^(\d{6}|[A-Za-z]{2,3})$")


def _key(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


@lru_cache(maxsize=1)
def place_groups() -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """(group label, ((name, code), ...)) for the form's list: Shandong by city and county,
    the other provinces with their cities, then countries and regions abroad."""
    doc = load_regions()
    groups: list[tuple[str, tuple[tuple[str, str], ...]]] = [("山东省 Shandong", (("山东省 Shandong", doc["province"]["code"]),))]
    for city in doc["cities"]:
        city_name = f"{city['name_zh']} {city['name_en']}"
        rows = [(f"山东省 {city_name}", city["code"])]
        rows += [(f"{city['name_zh']} {county['name_zh']} {county['name_en']}", county["code"]) for county in city["counties"]]
        groups.append((f"山东省 Shandong · {city_name}", tuple(rows)))
    ap = _address_prefixes()
    for prov, prov_name in sorted(ap["provinces"].items()):
        if prov == "37":
            continue
        rows = [(prov_name, f"{prov}0000")]
        rows += [(f"{prov_name} {name}", f"{code}00") for code, name in sorted(ap["prefectures"].items()) if code[:2] == prov and name not in _NOT_A_PLACE]
        groups.append((prov_name, tuple(rows)))
    _, _, names = _countries()
    abroad = tuple(sorted(((name, a3) for a3, name in names.items() if a3 != "CHN"), key=lambda r: r[0]))
    groups.append(("Abroad, Hong Kong, Macao, Taiwan / 境外及港澳台", abroad))
    return tuple(groups)


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, str], dict[str, str]]:
    by_name: dict[str, str] = {}
    by_code: dict[str, str] = {}
    bare: dict[str, set[str]] = {}
    for _, rows in place_groups():
        for name, code in rows:
            by_name[_key(name)] = code
            by_code.setdefault(code, name)
            # Also a part alone ("武汉市", "历下区", "Lixia District") when it names one place only.
            parts = name.split(" ")
            for part in {" ".join(parts[i:]) for i in range(1, len(parts))} | set(parts):
                bare.setdefault(_key(part), set()).add(code)
    for part, codes in bare.items():
        if len(codes) == 1:
            by_name.setdefault(part, next(iter(codes)))
    return by_name, by_code


def place_code(text: str) -> str | None:
    """The code of a place as typed or picked: a code stays as it is (the schema checks it),
    a known name gives its code, anything else None."""
    text = text.strip()
    if _CODE.match(text):
        return text.upper()
    return _index()[0].get(_key(text))


def place_name(code: str) -> str:
    """The name the form shows for a stored code (the code itself when the list has no name)."""
    return _index()[1].get(code.strip().upper(), code)


@lru_cache(maxsize=1)
def _communities() -> dict[str, str]:
    from cases.validation import region_index

    index = region_index()
    names: dict[str, set[str]] = {}
    for code, entry in index.items():
        if entry["level"] == "community":
            county, city = index[entry["county"]], index[entry["city"]]
            # Many villages share a name ("和平社区"): with its county (and city) it is one place.
            for name in (entry["name_zh"], entry["name_en"], f"{entry['name_zh']} {entry['name_en']}",
                         f"{county['name_zh']} {entry['name_zh']}", f"{city['name_zh']}{county['name_zh']} {entry['name_zh']}",
                         f"{county['name_zh']}{entry['name_zh']}", f"{city['name_zh']}{county['name_zh']}{entry['name_zh']}",
                         f"{entry['name_en']}, {county['name_en']}", f"{county['name_en']} {entry['name_en']}"):
                names.setdefault(_key(name), set()).add(code)
    return {name: next(iter(codes)) for name, codes in names.items() if len(codes) == 1}


def community_code(text: str) -> str | None:
    """A community as posted: its code, or its name when one community has it (a form posted
    by something other than the page's list); None for a name no community (or several) has."""
    text = text.strip()
    if text.isdigit():
        return text
    return _communities().get(_key(text))
