"""The pages' language: Chinese (zh-CN) first, English available.

One request, one language, chosen by `negotiate` (the `hp_lang` cookie set by the switcher
wins, then Accept-Language, then zh-CN) and held in a context variable for the length of the
request by `LanguageMiddleware`. Each request runs in its own task (and sync handlers in a
thread that copies the task's context), so two concurrent requests never see each other's
language: nothing global is switched. `gettext` reads that variable, in Python and in the
templates (jinja2.ext.i18n is installed with callables that read it, never with one request's
translations).

The catalogue: msgids are the English text, ui/locale/zh_CN/LC_MESSAGES/messages.po holds the
Chinese; the compiled messages.mo beside it is committed (tests/ui/test_i18n.py checks it is up
to date) so running the pages needs no Babel. English needs no catalogue: the msgid is the text.
"""
from __future__ import annotations

import gettext as _gettext_module
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
ZH, EN = "zh-CN", "en"
LANGUAGES = (ZH, EN)
DEFAULT = ZH
COOKIE = "hp_lang"
# The switcher shows each language in itself.
LANGUAGE_NAMES = {ZH: "中文", EN: "English"}


@lru_cache
def translations(lang: str) -> _gettext_module.NullTranslations:
    """The compiled catalogue of a language (read once per process; English is the msgids)."""
    if lang == EN:
        return _gettext_module.NullTranslations()
    return _gettext_module.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[lang.replace("-", "_")], fallback=True)


@dataclass(frozen=True)
class RequestLanguage:
    lang: str
    here: str  # the path (and query) of the request: where the switcher comes back to


_OUTSIDE_A_REQUEST = RequestLanguage(DEFAULT, "/")  # frozen: shared safely
_current: ContextVar[RequestLanguage] = ContextVar("healthpass_language", default=_OUTSIDE_A_REQUEST)


def current_language() -> str:
    return _current.get().lang


def current_path() -> str:
    return _current.get().here


def gettext(message: str) -> str:
    return translations(_current.get().lang).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get().lang).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations(_current.get().lang).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(_current.get().lang).npgettext(context, singular, plural, n)


_ = gettext


def N_(message: str) -> str:
    """Marks a message for the catalogue where it is defined; it is translated where it is shown."""
    return message


def localize(message: Any) -> str:
    """A message from cases/ in the request's language: a `cases.messages.Msg` (msgid and
    parameters) or plain text (looked up as a msgid; unknown text is shown as it is)."""
    msgid = getattr(message, "msgid", None)
    if msgid is None:
        return gettext(str(message))
    # A nested message is translated too, and so is the name of the thing checked ("name", "address").
    params = {k: localize(v) if hasattr(v, "msgid") or k == "what" else v for k, v in message.params.items()}
    return gettext(msgid).format(**params)


def bilingual(en: str, zh: str) -> str:
    """The half of an "English / 中文" pair in the request's language (`m.bi` during the move to
    the catalogue, names stored in both languages). The Chinese given beside the English is the
    one meant there (the catalogue may translate the same English otherwise elsewhere); the
    catalogue is asked only when none is given."""
    if current_language() == EN:
        return en
    return zh if zh else gettext(en)


def zh_of(message: str, context: str | None = None) -> str:
    """The Chinese of a msgid, whatever the request's language (for the side-by-side tuples)."""
    return translations(ZH).pgettext(context, message) if context else translations(ZH).gettext(message)


def _best_of(accept_language: str) -> str | None:
    """The best supported language of an Accept-Language header (q-values honoured), or None."""
    choices: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")[:32]):
        tag, _sep, params = part.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _eq, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        if tag == "zh" or tag.startswith("zh-"):
            choices.append((-q, i, ZH))
        elif tag == "en" or tag.startswith("en-"):
            choices.append((-q, i, EN))
    return min(choices)[2] if choices else None


def negotiate(*, cookie: str | None, accept_language: str | None) -> str:
    """The language of a request: the switcher's cookie, else the browser's preference, else zh-CN."""
    if cookie in LANGUAGES:
        return cookie
    return _best_of(accept_language or "") or DEFAULT


def _cookie(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"cookie":
            for item in value.decode("latin-1").split(";"):
                key, _eq, val = item.strip().partition("=")
                if key == COOKIE:
                    return val.strip().strip('"')
    return None


@contextmanager
def language_of(*, cookie: str | None, accept_language: str | None, here: str = "/") -> Iterator[str]:
    """The request's language for code that runs outside LanguageMiddleware: the 500 page is
    rendered by Starlette's outermost error middleware, after the request's context is reset."""
    lang = negotiate(cookie=cookie, accept_language=accept_language)
    token = _current.set(RequestLanguage(lang, here))
    try:
        yield lang
    finally:
        _current.reset(token)


class LanguageMiddleware:
    """Sets the request's language for everything that runs inside the request (pure ASGI, so the
    context variable is set in the request's own task)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        accept = next((v.decode("latin-1") for k, v in headers if k == b"accept-language"), None)
        lang = negotiate(cookie=_cookie(headers), accept_language=accept)
        query = scope.get("query_string", b"").decode("latin-1")
        here = scope.get("path", "/") + (f"?{query}" if query else "")
        token = _current.set(RequestLanguage(lang, here))

        async def send_with_language(message: Message) -> None:
            # A page says which language it is in, and that it depends on the header and the cookie.
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                if any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers):
                    headers += [(b"content-language", lang.encode()), (b"vary", b"Accept-Language, Cookie")]
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_language)
        finally:
            _current.reset(token)


_CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
_SENTENCE_END = re.compile(r"[.!?)]\s")


def one_language(text: Any) -> Any:
    """Transition: the request's half of an older side-by-side message made in Python,
    "English / 中文" (titles, categories) or "English sentence. 中文句子。" (errors, notices),
    until it moves to the catalogue. Anything else (no Chinese after English) is shown as it is."""
    if not isinstance(text, str) or hasattr(text, "__html__"):
        return text
    en, sep, zh = text.partition(" / ")
    if sep and _CJK.search(zh) and not _CJK.search(en):
        return en if current_language() == EN else bilingual(en, zh)
    first = _CJK.search(text)
    if first is None or first.start() == 0:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, first.start() + 1)]
    if not ends:
        return text
    en, zh = text[: ends[-1]].rstrip(), text[ends[-1]:].strip()
    return en if current_language() == EN else bilingual(en, zh)
