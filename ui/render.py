"""Jinja2 environment of the pages (the printable card renders in cases/codes/card_html.py).

Templates translate with jinja2.ext.i18n: `{{ _("English text") }}` (and `{% trans %}`). The
callables read the request's language from a context variable (ui/i18n.py), so the one shared
environment never holds a request's translations."""
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ui import i18n

HERE = Path(__file__).parent


@lru_cache
def templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), extensions=["jinja2.ext.i18n"])
    # Old-style gettext: `_("80 %")` is the text as it is, no %-formatting of every message.
    env.install_gettext_callables(gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=False, pgettext=i18n.pgettext, npgettext=i18n.npgettext)
    env.globals.update(
        current_language=i18n.current_language,
        current_path=i18n.current_path,
        bilingual=i18n.bilingual,
        localize=i18n.localize,
        one_language=i18n.one_language,
        languages=i18n.LANGUAGES,
        language_names=i18n.LANGUAGE_NAMES,
    )
    env.filters["one_language"] = i18n.one_language
    return env
