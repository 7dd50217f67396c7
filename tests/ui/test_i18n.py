"""Language: the pages speak Chinese first (zh-CN when the browser says nothing we support) and
English on request: Accept-Language, or the switcher in every page's header, remembered in the
`hp_lang` cookie, which wins. Field errors and refusals follow the page's language; the API's
JSON stays English. The catalogue is complete and compiled."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from tests.helpers import example
from tests.ui.test_pages import csrf, form_of, sign_in, standard_case, text_of

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "ui" / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po"


def html_lang(page: str) -> str:
    m = re.search(r'<html lang="([^"]+)"', page)
    assert m, page[:200]
    return m.group(1)


@pytest.mark.parametrize(
    ("accept", "lang", "word", "not_word"),
    [
        ("zh-CN,zh;q=0.9", "zh-CN", "申报", "My case"),
        ("en-GB,en;q=0.8", "en", "My case", "申报"),
        (None, "zh-CN", "申报", "My case"),
        ("tlh;q=bogus,,,;;=", "zh-CN", "申报", "My case"),  # garbage or unsupported: Chinese
        ("fr-FR, en;q=0.5", "en", "My case", "申报"),  # the first language we have
        ("en;q=0.4, zh-TW;q=0.9", "zh-CN", "申报", "My case"),  # q-values decide, not order
    ],
)
def test_the_page_language_follows_accept_language_with_chinese_by_default(api, accept, lang, word, not_word):
    del api.headers["Accept-Language"]  # the suite's client asks for English (tests/conftest.py); here the test decides
    r = api.get("/apply", headers={"Accept-Language": accept} if accept is not None else {})
    assert r.status_code == 200
    assert html_lang(r.text) == lang and r.headers["content-language"] == lang and "Accept-Language" in r.headers["vary"]
    nav = text_of(r.text.split("<header", 1)[1].split("</header>", 1)[0])
    assert word in nav and not_word not in nav


def test_the_switcher_sets_a_cookie_that_wins_over_the_browser_and_comes_back(api):
    page = api.get("/rules?x=1", headers={"Accept-Language": "zh-CN"}).text
    assert 'href="/lang/en?next=/rules%3Fx%3D1"' in page  # a plain link: no JavaScript needed
    r = api.get("/lang/en", params={"next": "/rules?x=1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/rules?x=1"
    assert "hp_lang=en" in r.headers["set-cookie"]
    back = api.get("/rules", headers={"Accept-Language": "zh-CN"})
    assert html_lang(back.text) == "en" and "Published colour rules" in text_of(back.text)
    api.get("/lang/zh-CN", params={"next": "/"}, follow_redirects=False)
    assert html_lang(api.get("/rules", headers={"Accept-Language": "en"}).text) == "zh-CN"
    # Only a local path is followed back, and an unknown language changes nothing.
    assert api.get("/lang/en", params={"next": "//evil.example/x"}, follow_redirects=False).headers["location"] == "/"
    r = api.get("/lang/fr", follow_redirects=False)
    assert "set-cookie" not in r.headers


def test_r3_checkpoint_field_errors_are_in_the_page_language(api, seeded):
    assert sign_in(api, "checkpoint").status_code == 303  # typed card numbers are for the checkpoint operator
    bad = {"card_number": "SD-12", "temperature": "99", "csrf_token": csrf(api, "/checkpoint")}
    zh = text_of(api.post("/checkpoint", data=bad, headers={"Accept-Language": "zh-CN"}).text)
    assert "请核对卡号：卡号在 SD 之后应有13个字符。" in zh and "请输入测得体温" in zh
    assert "Check the number" not in zh and "Enter the measured temperature" not in zh
    en = text_of(api.post("/checkpoint", data=bad, headers={"Accept-Language": "en"}).text)
    assert "Check the number: a card number has 13 characters after SD." in en and "Enter the measured temperature in °C" in en
    assert "请核对卡号" not in en


def test_r6_a_validation_error_from_the_core_is_translated_on_the_apply_form(api, clock):
    data = form_of(example("standard", clock.now().date()))
    data["phone"] = "1381234"
    zh = api.post("/apply", data=data, headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 422 and "大陆手机号码应为11位，实际为7位" in text_of(zh.text)
    en = api.post("/apply", data=data, headers={"Accept-Language": "en"})
    assert en.status_code == 422 and "a mainland mobile number has 11 digits, got 7" in text_of(en.text)


def test_a_refusal_is_in_the_page_language(api):
    sign_in(api, "checkpoint")
    zh = api.get("/issuer", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 403 and "无权访问" in text_of(zh.text) and "Not for your role" not in zh.text
    en = api.get("/issuer", headers={"Accept-Language": "en"})
    assert en.status_code == 403 and "Not for your role" in text_of(en.text)


def test_r3_checkpoint_deny_reasons_and_status_words_come_from_the_catalogue():
    from ui import i18n
    from ui.pages.words import REASON_WORDS, STATUS_WORDS, word

    token = i18n._current.set(i18n.RequestLanguage("zh-CN", "/"))
    try:
        assert word(REASON_WORDS, "revoked") == "已撤销" and word(STATUS_WORDS, "approved") == "已批准"
        assert REASON_WORDS["expired"][:2] == ("The pass has expired (valid 14 days)", "已过有效期（14天）")  # the side-by-side tuple still works
    finally:
        i18n._current.reset(token)
    token = i18n._current.set(i18n.RequestLanguage("en", "/"))
    try:
        assert word(REASON_WORDS, "revoked") == "The pass was revoked" and str(STATUS_WORDS["approved"]) == "Approved"
    finally:
        i18n._current.reset(token)


def test_a_word_added_as_an_older_tuple_shows_one_language_before_it_is_in_the_catalogue():
    from ui import i18n
    from ui.pages.words import Word

    new = Word.of_pair("action", ("A word nobody translated yet", "尚未收录的词"))
    assert new[:2] == ("A word nobody translated yet", "尚未收录的词")
    for lang, shown in (("zh-CN", "尚未收录的词"), ("en", "A word nobody translated yet")):
        token = i18n._current.set(i18n.RequestLanguage(lang, "/"))
        try:
            assert str(new) == shown
        finally:
            i18n._current.reset(token)


def test_the_api_json_stays_english_whatever_the_language(api, clock):
    """The API's `detail` is a contract: the same English for every client (README, Language)."""
    body = example("standard", clock.now().date()) | {"phone": "1381234"}
    r = api.post("/api/v1/applications", json=body, headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 422 and "a mainland mobile number has 11 digits, got 7" in r.text
    assert "content-language" not in r.headers


def test_two_concurrent_requests_in_different_languages_each_get_their_own(api):
    """The language lives in the request's context, never in a global the other request could see."""
    results: dict[str, list[str]] = {"zh-CN": [], "en": []}
    barrier = threading.Barrier(2)

    def browse(lang: str) -> None:
        barrier.wait()
        for _ in range(15):
            page = api.get("/rules", headers={"Accept-Language": lang}).text
            header = page.split("<header", 1)[1].split("</header>", 1)[0]
            results[lang].append(html_lang(page) + ("|zh" if "查询" in header else "") + ("|en" if "My case" in header else ""))

    threads = [threading.Thread(target=browse, args=(lang,)) for lang in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results["zh-CN"] == ["zh-CN|zh"] * 15
    assert results["en"] == ["en|en"] * 15


_CJK_RUN = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]+")
_ENGLISH_RUN = re.compile(r"[A-Za-z]{2,}(?:[ ,'-]+[A-Za-z]{2,}){2,}")  # three English words or more in a row


# Short English that the three-words rule would miss: titles and labels of the converted pages.
_ENGLISH_PHRASES = ("Case", "Checkpoint", "Issuer queue", "Health reports", "Signing keys", "Working calendar", "Users", "Unit",
                    "Lost your link", "Page not found", "Sign out", "PASS", "DENY", "Day ", "expired", "Pages")


def _visible(page: str) -> list[str]:
    """What a reader sees, one piece of text at a time: no scripts, styles or literal `<code>` values,
    no language switcher (it names both languages on purpose)."""
    page = re.sub(r"<(script|style|code)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r'<nav class="lang-switch".*?</nav>', " ", page, flags=re.S)
    return [text_of(piece).strip() for piece in re.split(r"<[^>]+>", page) if piece.strip()]


def _data_names(store) -> str:
    """Text that comes from the data, not from the pages (names of regions, units, users and
    directory entries, addresses, calendar sources, the people of the examples), joined."""
    from sqlmodel import select

    from cases.directory.models import DirectoryEntry
    from cases.models import CalendarYear, Region, Unit, User

    values = ["王*", "王强", "李娜", "湖北省 武汉市", "healthpass calendar import"]  # the examples' people and place, a command
    with store.session() as s:
        for model in (Region, Unit, User, DirectoryEntry, CalendarYear):
            for row in s.exec(select(model)).all():
                values += [str(v) for v in row.model_dump().values() if isinstance(v, str)]
    return "\n".join(values)


def test_the_hand_converted_pages_speak_one_language_each(api, seeded, clock):
    """Chinese first, English on request, one language per page: an English page shows no Chinese but
    names from the data, a Chinese page no English sentence but names from the data (README, Language)."""
    case_id, token, task_id = standard_case(api, seeded, clock)
    data = _data_names(seeded)
    pages = {
        None: ["/apply", "/cases", "/cases/recover", "/no-such-page", f"/cases/{case_id}?access_token={token}"],
        "checkpoint": ["/checkpoint"],
        "qingdao-issuer": ["/issuer", f"/issuer/tasks/{task_id}", "/issuer/reports"],
        "unit-hr": ["/unit", "/unit/cases"],
        "admin": ["/admin/users", "/admin/keys", "/admin/calendar"],
    }
    leaks = []
    for who, paths in pages.items():
        if who:
            assert sign_in(api, who).status_code == 303
        for path in paths:
            en = api.get(path, headers={"Accept-Language": "en", "Accept": "text/html"})
            zh = api.get(path, headers={"Accept-Language": "zh-CN", "Accept": "text/html"})
            assert en.status_code == zh.status_code and en.status_code in (200, 404), path
            assert html_lang(en.text) == "en" and html_lang(zh.text) == "zh-CN"
            en_text, zh_text = _visible(en.text), _visible(zh.text)
            leaks += [f"en {path}: {run}" for piece in en_text for run in _CJK_RUN.findall(piece) if run not in data]
            leaks += [f"zh {path}: {run}" for piece in zh_text for run in _ENGLISH_RUN.findall(piece) if run not in data and run not in path]
            leaks += [f"zh {path}: {piece}" for piece in zh_text if piece in _ENGLISH_PHRASES or piece.startswith(_ENGLISH_PHRASES) and piece not in data]
    assert not leaks, "\n".join(leaks)


# ------------------------------------------------------------- the catalogue ---

def _catalog():
    from babel.messages.pofile import read_po

    with PO.open("rb") as fh:
        return read_po(fh, locale="zh_CN")


def test_every_message_of_the_templates_and_the_code_has_a_chinese_translation():
    """What `make messages` extracts (babel.cfg, the same keywords) is all in the catalogue, translated."""
    from babel.messages.extract import extract_from_dir

    method_map = [("ui/templates/**.html", "jinja2"), ("ui/**.py", "python"), ("cases/**.py", "python")]
    options = {"ui/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "N_": None, "msg": None, "Word": ((1, "c"), 2)}
    catalog = _catalog()
    missing = []
    for filename, lineno, message, _comments, context in extract_from_dir(str(ROOT), method_map, options, keywords=keywords):
        msgid = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(msgid, context=context)
        if not msgid:
            continue
        if entry is None or not entry.string or entry.fuzzy:
            missing.append(f"{filename}:{lineno}: {context or ''} {msgid!r}")
    assert not missing, "untranslated (make messages, then translate in messages.po):\n" + "\n".join(missing)


def test_every_translation_keeps_the_placeholders_of_its_message():
    """A translation that drops or renames a {placeholder} or %(placeholder)s would fail when shown."""
    brace, percent = re.compile(r"\{(\w*)\}"), re.compile(r"%\((\w+)\)s")
    bad = [
        f"{m.id!r} -> {m.string!r}"
        for m in _catalog()
        if m.id and isinstance(m.id, str) and m.string
        and (set(brace.findall(m.id)) != set(brace.findall(m.string)) or set(percent.findall(m.id)) != set(percent.findall(m.string)))
    ]
    assert not bad, "\n".join(bad)


def test_the_compiled_catalogue_is_up_to_date_and_no_literal_m_bi_is_left():
    """`python -m ops.i18n_convert --check`: every m.bi("…", "…") converted, messages.mo compiled from messages.po."""
    from ops import i18n_convert

    assert i18n_convert.MO.read_bytes() == i18n_convert.compiled(), "messages.mo is stale: run make messages"
    assert i18n_convert.main(["--check"]) == 0, "run make messages (m.bi calls left or catalogue stale)"


def test_the_converter_turns_m_bi_into_gettext_whatever_the_quotes(tmp_path, monkeypatch):
    from ops import i18n_convert

    po = tmp_path / "messages.po"
    po.write_bytes(PO.read_bytes())
    monkeypatch.setattr(i18n_convert, "PO", po)
    monkeypatch.setattr(i18n_convert, "MO", tmp_path / "messages.mo")
    page = tmp_path / "page.html"
    page.write_text(
        """<h1>{{ m.bi("Tea \\"oolong\\"", "乌龙茶") }}</h1><p>{{ m.bi('It\\'s late',
        '晚了') }}</p><p>{{ m.bi("Period", "期间") }}</p><p>{{ m.bi(w[0], w[1]) }}</p>""",
        encoding="utf-8",
    )
    assert i18n_convert.main([str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert '{{ _("Tea \\"oolong\\"") }}' in text and '{{ _("It\'s late") }}' in text
    assert '{{ pgettext("page", "Period") }}' in text  # "Period" is 观察期 elsewhere
    assert "m.bi(w[0], w[1])" in text  # not a literal: left, and reported
    catalog = __import__("babel.messages.pofile", fromlist=["read_po"]).read_po(po.open("rb"))
    assert catalog.get('Tea "oolong"').string == "乌龙茶" and catalog.get("Period", context="page").string == "期间"
    before = po.read_bytes()
    assert i18n_convert.main([str(page)]) == 0 and po.read_bytes() == before  # again: nothing changes, nothing doubles
