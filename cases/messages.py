"""Messages meant for people, marked for translation where they are made.

cases/ speaks English (the API's `detail` stays English and stable); a message the pages
show in the reader's language is a `Msg`: its English text *is* the string, so every caller
that treats it as text is unchanged, and it also carries its catalogue msgid and parameters so
the pages can translate it (ui/i18n.py `localize`). The msgids are extracted by
`make messages` (keyword `msg`)."""
from __future__ import annotations

from typing import Any


class Msg(str):
    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> Msg:
        self = super().__new__(cls, msgid.format(**params) if params else msgid)
        self.msgid, self.params = msgid, params
        return self


def msg(msgid: str, **params: Any) -> Msg:
    """A translatable message: `msg("a {what} has 18 characters, got {n}", what=..., n=...)`."""
    return Msg(msgid, **params)


def message_of(exc: BaseException) -> Any:
    """The message an exception was raised with (a `Msg` keeps its msgid), else its text."""
    first = exc.args[0] if exc.args else ""
    return first if isinstance(first, Msg) else str(exc)
