"""How numbers and users' strings are written for people: counts, sizes, FLOPs, plurals, escaping.

One place, so that every page, chart and command line writes "420.0 MB" or "3 rows" the same way.
"""

from __future__ import annotations

import re

MIB = 1024 * 1024

# Control characters other than tab, newline and carriage return (C0, DEL and C1).
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# Every character Streamlit's Markdown gives a meaning to: emphasis, code, links, headings, lists,
# tables, HTML, colour and icon directives (":red[...]", ":material/...:") and LaTeX ("$").
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$=])")


def escape_markdown(text: object) -> str:
    """Text that Streamlit's Markdown shows literally: no links, colours, icons, HTML or LaTeX."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def short(value: object, limit: int = 40) -> str:
    """A user's value fit for a one-line message: whitespace and control characters become single
    spaces, and long values are cut."""
    text = " ".join(CONTROL_CHARS.sub(" ", str(value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plural(count: int, word: str, plural_word: str | None = None) -> str:
    """'1 row', '3 rows', '1,200 rows' (``plural_word`` for irregular words)."""
    return f"{count:,} {word if count == 1 else (plural_word or word + 's')}"


def format_count(count: int) -> str:
    """A count written out in full: 87404010 -> '87,404,010'."""
    return f"{count:,}"


def format_short_count(count: int) -> str:
    """A count rounded for a caption: 87404010 -> '87.4 M'."""
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(count) >= size:
            return f"{count / size:.1f} {unit}"
    return str(count)


def format_bytes(count: int) -> str:
    """Binary units written KB, MB and GB, as memory is sold and reported and as every memory figure
    of the app is written (one MB is 2**20 bytes everywhere): 440425712 -> '420.0 MB'."""
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def format_flops(count: int, short: bool = False) -> str:
    """Decimal units, as FLOP rates are quoted: 121245440000 -> '121.2 GFLOP' ('121.2 G' if short)."""
    for size, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if count >= size:
            return f"{count / size:.1f} {prefix}" + ("" if short else "FLOP")
    return f"{count}" + ("" if short else " FLOP")


def lower_first(sentence: str) -> str:
    """'The link ...' -> 'the link ...', for a sentence that continues another one."""
    if len(sentence) > 1 and sentence[0].isupper() and not sentence[1].isupper():
        return sentence[0].lower() + sentence[1:]
    return sentence


def format_duration(seconds: float) -> str:
    """Seconds as a person reads them: 0.8 s, 42 s, 12 min, 3.5 h, 9 days."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:,.0f} days"
