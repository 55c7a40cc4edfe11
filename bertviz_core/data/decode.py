"""Bytes to text: byte order marks, UTF-8, then Windows-1252, then Latin-1; binaries refused.

The first step of reading a user's file. Nothing here parses rows: a refusal names what the file
looks like instead (a PDF, a spreadsheet, an image) and what to do.
"""

from __future__ import annotations

import re

from bertviz_core.errors import DataError
from bertviz_core.text import CONTROL_CHARS

_CONTROL_SHARE_LIMIT = 0.05
_CONTROL_CHECK_CHARS = 1_000_000

# Leading bytes of common non-CSV files and what to call them in the refusal.
_MAGIC_NUMBERS: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx file is one)"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel or Word file"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "a program"),
    (b"MZ\x90\x00", "a Windows program"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x93NUMPY", "a NumPy array file"),
)


def decode(data: bytes, display_name: str) -> tuple[str, str, list[str]]:
    """Bytes to text: byte order marks first, then UTF-8, then Windows-1252, then Latin-1."""
    for bom, encoding in (
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                raise DataError(
                    f"{display_name} starts like {encoding_label(encoding)} text but is not valid "
                    f"{encoding_label(encoding)}: save it again as a UTF-8 CSV file."
                ) from None
            _refuse_control_characters(text, display_name)
            notes = [] if encoding == "utf-8-sig" else [f"Read as {encoding_label(encoding)}."]
            return text, encoding, notes

    for magic, kind in _MAGIC_NUMBERS:
        if data.startswith(magic):
            raise DataError(f"{display_name} looks like {kind}, not a CSV file: export the table as CSV.")
    if data.startswith(b"PAR1") and data.endswith(b"PAR1"):
        raise DataError(f"{display_name} looks like a Parquet file, not a CSV file: export the table as CSV.")

    utf16_without_bom = _guess_utf16_without_bom(data)
    if utf16_without_bom:
        try:
            text = data.decode(utf16_without_bom)
        except UnicodeDecodeError:
            text = None
        if text is not None:
            _refuse_control_characters(text, display_name)
            return text, utf16_without_bom, [f"Read as {encoding_label(utf16_without_bom)}."]

    if b"\x00" in data:
        raise DataError(
            f"{display_name} contains NUL bytes, so it looks like a binary file, not a CSV file: "
            "export the table as CSV (UTF-8)."
        )
    try:
        text, encoding, notes = data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError:
        try:
            text, encoding = data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            text, encoding = data.decode("latin-1"), "latin-1"
        notes = [f"Read as {encoding_label(encoding)} because the file is not valid UTF-8."]
    _refuse_control_characters(text, display_name)
    return text, encoding, notes


def encoding_label(encoding: str) -> str:
    return {
        "utf-8": "UTF-8",
        "utf-8-sig": "UTF-8",
        "utf-16": "UTF-16",
        "utf-16-le": "UTF-16 (little-endian)",
        "utf-16-be": "UTF-16 (big-endian)",
        "utf-32": "UTF-32",
        "cp1252": "Windows-1252",
        "latin-1": "Latin-1",
    }[encoding]


def _guess_utf16_without_bom(data: bytes) -> str | None:
    """Mostly-ASCII text in UTF-16 has a NUL in every other byte; that pattern names the byte order."""
    head = data[:4096]
    if len(data) % 2 or len(head) < 4:
        return None
    even_nuls = head[0::2].count(0) / (len(head) // 2)
    odd_nuls = head[1::2].count(0) / (len(head) // 2)
    if odd_nuls > 0.25 and even_nuls < 0.05:
        return "utf-16-le"
    if even_nuls > 0.25 and odd_nuls < 0.05:
        return "utf-16-be"
    return None


def _refuse_control_characters(text: str, display_name: str) -> None:
    # The first million characters tell a binary file from text; counting all of a 25 MB file would not.
    head = text[:_CONTROL_CHECK_CHARS]
    control_count = sum(1 for _ in CONTROL_CHARS.finditer(head))
    if control_count > _CONTROL_SHARE_LIMIT * len(head) or "\x00" in text:
        raise DataError(
            f"{display_name} is full of control characters, so it looks like a binary file, not a CSV "
            "file: export the table as CSV (UTF-8)."
        )


def refuse_other_text_formats(text: str, display_name: str) -> None:
    start = text[:1000].lstrip()[:200].lower()
    if start.startswith(("<!doctype html", "<html", "<?xml")):
        kind = "an XML file" if start.startswith("<?xml") else "a web page (HTML)"
        raise DataError(f"{display_name} looks like {kind}, not a CSV file: export the table as CSV.")
    if start.startswith("{") or re.match(r"\[\s*[\[{\"]", start):
        raise DataError(
            f"{display_name} looks like JSON, not a CSV file: export the table as CSV with a header row."
        )
