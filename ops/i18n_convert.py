"""Move side-by-side `m.bi("English", "中文")` labels to the gettext catalogue.

    python -m ops.i18n_convert [--check] [TEMPLATE ...]     (default: every ui/templates/**/*.html)

Each `m.bi(<string>, <string>)` (double or single quotes, escaped quotes, spread over lines)
becomes `_("English")`, so `{{ m.bi("X", "Y") }}` turns into `{{ _("X") }}`, and "X" -> "Y" is
merged into ui/locale/zh_CN/LC_MESSAGES/messages.po: added when new, its translation filled in
when empty, never duplicated. When the catalogue already translates "English" otherwise, the
call becomes `pgettext("<template name>", "English")` with its own entry (same English, another
meaning: "Period" is 观察期 in one place and 周期 in another), and is listed. Then the catalogue
is compiled to messages.mo.

A call whose arguments are not both plain string literals (`m.bi(w[0], w[1])`, `m.bi("a" ~ x, ...)`)
is left as it is (the macro still renders the current language) and listed as not converted.
Safe to run again: converted templates hold no m.bi literal calls and merged entries are found.
`--check` changes nothing and exits 1 when something would change.
"""
from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "ui" / "templates"
PO = ROOT / "ui" / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")

CALL = re.compile(r"(?<![\w.])m\.bi\s*\(")
_STRING = re.compile(r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""", re.S)


@dataclass
class Result:
    converted: int = 0
    added: int = 0
    contexts: list[str] = field(default_factory=list)  # "file:line: en -> pgettext(ctx)"
    left: list[str] = field(default_factory=list)  # calls not converted, "file:line: text"
    changed: list[Path] = field(default_factory=list)


def _literal(text: str, pos: int) -> tuple[str, int] | None:
    """A Jinja string literal at `pos` (after blanks): its value and the position after it."""
    while pos < len(text) and text[pos].isspace():
        pos += 1
    m = _STRING.match(text, pos)
    if not m:
        return None
    try:
        value = ast.literal_eval(m.group(0))  # Jinja's string escapes are Python's
    except (ValueError, SyntaxError):
        return None
    return (value, m.end()) if isinstance(value, str) else None


def _expect(text: str, pos: int, char: str) -> int | None:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos + 1 if text.startswith(char, pos) else None


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _place(catalog, en: str, zh: str, stem: str, where: str, result: Result) -> str:
    """The call that shows `en` translated as `zh` here: `_("en")` when the catalogue agrees (or
    learns it now), else `pgettext("<template>", "en")`: the same English needs another Chinese here."""
    for context in (None, stem, *(f"{stem}.{n}" for n in range(2, 100))):
        entry = catalog.get(en, context=context)
        if entry is None:
            catalog.add(en, zh, locations=[tuple(where.rsplit(":", 1)[:1]) + (int(where.rsplit(":", 1)[1]),)], context=context)
            result.added += 1
        elif not entry.string or entry.fuzzy:
            entry.string, entry.flags = zh, set(entry.flags) - {"fuzzy"}
            result.added += 1
        elif entry.string != zh:
            continue
        if context is None:
            return f"_({quote(en)})"
        result.contexts.append(f"{where}: {en!r} is {zh!r} here: pgettext({context!r})")
        return f"pgettext({quote(context)}, {quote(en)})"
    raise SystemExit(f"{where}: too many translations of {en!r}")


def convert_text(text: str, where: str, catalog, result: Result) -> str:
    stem = Path(where.split(":")[0]).stem
    out, last = [], 0
    for m in CALL.finditer(text):
        if m.start() < last:
            continue
        line = text.count("\n", 0, m.start()) + 1
        first = _literal(text, m.end())
        comma = first and _expect(text, first[1], ",")
        second = comma and _literal(text, comma)
        end = second and _expect(text, second[1], ")")
        if not end or not first[0]:
            snippet = text[m.start():text.find(")", m.start()) + 1 or m.start() + 60][:120].replace("\n", " ")
            result.left.append(f"{where}:{line}: {snippet}")
            continue
        out.append(text[last:m.start()])
        out.append(_place(catalog, first[0], second[0], stem, f"{where}:{line}", result))
        result.converted += 1
        last = end
    out.append(text[last:])
    return "".join(out)


def read_catalog():
    from babel.messages.pofile import read_po

    with PO.open("rb") as fh:
        return read_po(fh, locale="zh_CN", domain="messages")


def write_catalog(catalog) -> None:
    from babel.messages.pofile import write_po

    catalog.fuzzy = False  # a fuzzy header makes `pybabel compile` skip the whole catalogue
    buf = BytesIO()
    write_po(buf, catalog, width=0, sort_output=True)
    PO.write_bytes(buf.getvalue())


def compiled() -> bytes:
    """The .mo the .po compiles to (what messages.mo must hold)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="zh_CN", domain="messages")
    buf = BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    return buf.getvalue()


def compile_mo() -> bool:
    data = compiled()
    if MO.exists() and MO.read_bytes() == data:
        return False
    MO.write_bytes(data)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("templates", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when something would change")
    args = parser.parse_args(argv)
    paths = args.templates or sorted(TEMPLATES.rglob("*.html"))
    catalog = read_catalog()
    result = Result()
    for path in paths:
        if path.name == "_macros.html":
            continue  # the macro itself
        text = path.read_text(encoding="utf-8")
        where = str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path)
        new = convert_text(text, where, catalog, result)
        if new != text:
            result.changed.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if result.added and not args.check:
        write_catalog(catalog)
    recompiled = False if args.check else compile_mo()
    print(f"templates converted: {len(result.changed)}; m.bi calls converted: {result.converted}; catalogue entries added or filled: {result.added}"
          + ("; messages.mo recompiled" if recompiled else ""))
    for path in result.changed:
        print(f"  converted {path}")
    for line in result.contexts:
        print(f"  context {line}")
    if result.left:
        print(f"not converted ({len(result.left)}; the macro still shows them in the current language):")
        for line in result.left:
            print(f"  {line}")
    if args.check:
        stale = not MO.exists() or MO.read_bytes() != compiled()
        return 1 if (result.changed or result.added or stale) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
