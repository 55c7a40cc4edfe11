"""Refusals of files over the limits in ``limits``, each checked as early and as cheaply as it can be.

``table`` checks lines (a scan of the text) and columns before pandas parses anything, and columns
and cells again after; ``rows`` checks the amount of text once the rows to train on are chosen,
before anything tokenises them. Each refusal is one sentence: what is too large, the limit, and what
to do.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bertviz_core.data.limits import (
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    MAX_LINE_CHARS,
    MAX_TOTAL_TEXT_CHARS,
    MAX_TOTAL_WORDS,
)
from bertviz_core.errors import DataError
from bertviz_core.text import plural, short

# Texts longer than this (none that passed the cell limit) are split into words a slice of this
# many characters at a time: a slice's list of words then stays under a megabyte.
_WORD_COUNT_SLICE = 64 * 1024


def refuse_long_lines(text: str, display_name: str, first_line: int = 1) -> None:
    """Refuse a physical line over ``MAX_LINE_CHARS`` before any parsing, without copying a line.

    A line that long holds a whole block of half the limit with no line break in it. Ordinary text
    has a break near the start of every block, so each block costs a few characters of search; only
    a block without one is followed to its line's ends. ``first_line`` numbers ``text``'s first line.
    """
    block = MAX_LINE_CHARS // 2
    scan = 0
    while len(text) - scan >= block:
        stop = scan + block
        if _next_break(text, scan, stop) < stop:
            scan = stop
            continue
        start, end = _after_previous_break(text, scan), _next_break(text, stop, len(text))
        if end - start > MAX_LINE_CHARS:
            # \n, \r\n or \r endings: whichever character ends the lines, it counts them.
            line = first_line + max(text.count("\n", 0, start), text.count("\r", 0, start))
            raise DataError(
                f"{display_name} has {end - start:,} characters on line {line:,}, more than the "
                f"{MAX_LINE_CHARS:,} a line may hold here: split or shorten the long texts and upload again."
            )
        scan = end


def _next_break(text: str, start: int, stop: int) -> int:
    """Where the first \n or \r in ``text[start:stop]`` is, or ``stop``. Each search ends at the
    other's find, so a file without \r is not searched to its end for one."""
    newline = text.find("\n", start, stop)
    stop = newline if newline >= 0 else stop
    carriage = text.find("\r", start, stop)
    return carriage if carriage >= 0 else stop


def _after_previous_break(text: str, stop: int) -> int:
    """Where the line holding ``text[stop]`` starts: after the last \n or \r before it."""
    newline = text.rfind("\n", 0, stop)
    carriage = text.rfind("\r", newline + 1, stop)
    return max(newline, carriage) + 1


def refuse_wide_records(widths: Sequence[int], display_name: str) -> None:
    """Refuse a record of more than ``MAX_COLUMNS`` fields (``widths``: field counts of records, the
    header first). A header that wide is a table that wide; a wider row is most likely one whose
    text holds unquoted delimiters, and the sentence says so."""
    count = max(widths, default=0)
    if count <= MAX_COLUMNS:
        return
    record = widths.index(count) + 1
    if record == 1:
        raise DataError(
            f"{display_name} has {count:,} columns, more than the {MAX_COLUMNS} this app reads: keep the "
            "text and label columns (and a few others) and upload again."
        )
    raise DataError(
        f"{display_name} has a row of {count:,} fields (record {record:,}), more than the {MAX_COLUMNS} "
        "columns this app reads: wrap texts containing the delimiter in double quotes, or keep fewer "
        "columns, and upload again."
    )


def refuse_long_cells(frame: pd.DataFrame, display_name: str) -> None:
    """Refuse a data cell over ``MAX_CELL_CHARS``: one vectorised length per column."""
    for position in range(frame.shape[1]):
        lengths = frame.iloc[:, position].str.len()
        longest = lengths.max()  # NaN (skipped) where a short row left a cell missing
        if longest > MAX_CELL_CHARS:
            row = int(np.nanargmax(lengths.to_numpy(dtype=float))) + 1
            raise DataError(
                f"{display_name} has a cell of {int(longest):,} characters (column "
                f"'{short(frame.columns[position])}', data row {row:,}), more than the "
                f"{MAX_CELL_CHARS:,} this app reads: shorten the long texts (training cuts every text to "
                "the sequence length anyway) and upload again."
            )


def refuse_too_much_text(texts: Sequence[str], column: str) -> None:
    """Refuse texts to train on that hold more than ``MAX_TOTAL_WORDS`` words or
    ``MAX_TOTAL_TEXT_CHARS`` characters, counted without tokenising: the tokenizer is the slow part."""
    words = sum(map(word_count, texts))
    chars = sum(map(len, texts))
    for amount, limit, unit in ((words, MAX_TOTAL_WORDS, "word"), (chars, MAX_TOTAL_TEXT_CHARS, "character")):
        if amount > limit:
            raise DataError(
                f"The {plural(len(texts), 'text')} to train on in '{short(column)}' hold "
                f"{plural(amount, unit)} in all, more than the {limit:,} this app tokenises: upload fewer "
                "or shorter texts."
            )


def word_count(text: str) -> int:
    """Words in ``text`` as ``len(text.split())`` counts them, without a list of every word of a long
    text: a 20 MB text would need 250 MB of strings just to be counted."""
    if len(text) <= _WORD_COUNT_SLICE:
        return len(text.split())
    count = 0
    for start in range(0, len(text), _WORD_COUNT_SLICE):
        piece = text[start : start + _WORD_COUNT_SLICE]
        count += len(piece.split())
        if start and not piece[0].isspace() and not text[start - 1].isspace():
            count -= 1  # the slice cut a word in two, and both halves were counted
    return count
