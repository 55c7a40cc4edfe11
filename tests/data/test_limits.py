"""Files built to be slow are refused in one sentence naming the limit, quickly, and before the step
they would make slow: pandas' parser for columns and lines, the tokenizer for cells and words.

Times are compared with an ordinary file of the same size read in the same test, never with a
number of seconds; memory with the file's own size. The hostile files are megabytes, so they are
generated here, not kept in the repository.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from unittest.mock import patch

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bertviz_core.data import guards
from bertviz_core.data.limits import (
    MAX_CELL_CHARS,
    MAX_COLUMNS,
    MAX_LINE_CHARS,
    MAX_ROWS,
    MAX_TOTAL_TEXT_CHARS,
    MAX_TOTAL_WORDS,
)
from bertviz_core.data.rows import prepare_dataset, training_rows
from bertviz_core.data.table import read_csv_bytes
from bertviz_core.data.tokens import token_preview
from bertviz_core.errors import DataError
from tests.data.shapes import (
    big_cell_csv,
    fastest,
    long_lines_csv,
    no_spaces_csv,
    review_csv,
    traced_peak,
    vocabulary_words,
    wide_csv,
)
from tests.helpers import refusal as _any_refusal

# A refusal may take at most this many times reading an ordinary file of the same size (before
# these limits: 300 times for the wide file, 150 for the long texts, once they reached the tokenizer).
SLOWDOWN = 5
# tracemalloc's peak while refusing, in multiples of the file's size (ordinary reading needs about 3).
MEMORY_MULTIPLE = 4


def _refusal(call, *args, **kwargs) -> str:
    return _any_refusal(DataError, call, *args, **kwargs)


def _through_tokens(data: bytes) -> None:
    """What the training page does with an upload, up to the token preview: the slow step."""
    rows = training_rows(read_csv_bytes(data, "upload.csv"))
    token_preview(rows.dataset, vocab_size=5000, seq_len=64, val_share=0.2, seed=0)


def _read_and_prepare(data: bytes) -> None:
    training_rows(read_csv_bytes(data, "upload.csv"))


# Each hostile file, and the words its refusal must hold.
HOSTILE: dict[str, tuple[Callable[[], bytes], str]] = {
    "100,000 columns of 20 rows": (
        wide_csv,
        f"has 100,000 columns, more than the {MAX_COLUMNS} this app reads",
    ),
    "one 20 MB cell of words": (big_cell_csv, f"characters on line 2, more than the {MAX_LINE_CHARS:,}"),
    "300 lines of 10,000 words": (long_lines_csv, f"more than the {MAX_CELL_CHARS:,} this app reads"),
    "600 texts of 5,000 words": (
        lambda: long_lines_csv(lines=600, words=5_000),
        f"hold 3,000,000 words in all, more than the {MAX_TOTAL_WORDS:,} this app tokenises",
    ),
    "20,000 texts without spaces": (
        no_spaces_csv,
        f"hold 20,000,000 characters in all, more than the {MAX_TOTAL_TEXT_CHARS:,} this app tokenises",
    ),
}


@pytest.mark.parametrize("make, expected", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_file_is_refused_naming_the_limit_faster_than_an_ordinary_read(
    make: Callable[[], bytes], expected: str
) -> None:
    data = make()
    assert len(data) > 5_000_000
    assert expected in _refusal(_through_tokens, data)

    ordinary = review_csv(len(data))
    baseline = fastest(lambda: _read_and_prepare(ordinary), repeats=3)
    refusing = fastest(lambda: _through_tokens(data), repeats=2)
    assert refusing < SLOWDOWN * baseline, (
        f"refusing took {refusing:.2f} s, an ordinary file of the same size {baseline:.2f} s"
    )


@pytest.mark.parametrize("make", [make for make, _ in HOSTILE.values()], ids=HOSTILE.keys())
def test_refusing_a_hostile_file_needs_a_small_multiple_of_its_size_in_memory(
    make: Callable[[], bytes],
) -> None:
    data = make()
    peak = traced_peak(lambda: _through_tokens(data))
    assert peak < MEMORY_MULTIPLE * len(data), f"peak {peak:,} bytes for a file of {len(data):,}"


# ---------------------------------------------------------------------------------------------
# Columns and lines: refused before pandas parses the file


def _spy_on_the_parser(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    parse = pd.read_csv

    def counted(*args, **kwargs):
        calls.append(1)
        return parse(*args, **kwargs)

    monkeypatch.setattr(pd, "read_csv", counted)
    return calls


def _wide_header(columns: int) -> str:
    return ",".join(f"c{position}" for position in range(columns)) + "\n"


NEVER_PARSED: dict[str, Callable[[], bytes]] = {
    "wide header": wide_csv,
    "wide header after blank lines": lambda: (
        "\n  \n\t\n" * 200_000 + _wide_header(100_000) + "a,b\n"
    ).encode(),
    "wide header after a name the csv module cannot split": lambda: (
        '"' + "n" * 200_000 + '",' + _wide_header(100_000) + "a,b\n"
    ).encode(),
    "wide header, semicolons": lambda: _wide_header(100_000).replace(",", ";").encode() + b"a;b\n",
    "one column over the limit": lambda: (_wide_header(MAX_COLUMNS + 1) + "a,b\n").encode(),
    "20 MB line": big_cell_csv,
    "line one character over the limit": lambda: b"text,label\n" + b"x" * (MAX_LINE_CHARS + 1) + b",pos\n",
}


@pytest.mark.parametrize("make", NEVER_PARSED.values(), ids=NEVER_PARSED.keys())
def test_the_parser_never_sees_a_file_too_wide_or_with_a_line_too_long(
    make: Callable[[], bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make()
    calls = _spy_on_the_parser(monkeypatch)
    message = _refusal(read_csv_bytes, data, "wide.csv")
    assert "wide.csv" in message and (
        f"the {MAX_COLUMNS} this" in message or f"{MAX_LINE_CHARS:,}" in message
    )
    assert calls == []


@pytest.mark.parametrize("rows_before", [5, 500], ids=["among the first rows", "further down"])
def test_a_wide_row_is_refused_as_a_row_before_pandas_makes_its_columns(
    rows_before: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = "".join(f"fine text {index},{('pos', 'neg')[index % 2]}\n" for index in range(rows_before))
    data = ("text,label\n" + rows + ",".join(["x"] * 100_000) + "\n" + rows).encode()
    calls = _spy_on_the_parser(monkeypatch)
    message = _refusal(read_csv_bytes, data, "ragged.csv")
    assert (
        f"has a row of 100,000 fields (record {rows_before + 2}), more than the {MAX_COLUMNS} columns"
        in message
    )
    # Among the first rows it is seen before any parse; further down the first parse stops at it
    # and the second, with a column for each of its fields, never runs.
    assert len(calls) == (0 if rows_before < 200 else 1)


def test_exactly_max_columns_are_read() -> None:
    extra = MAX_COLUMNS - 2
    header = "text,label," + ",".join(f"extra{position}" for position in range(extra))
    rows = [
        f"fine text {index},{('pos', 'neg')[index % 2]}," + ",".join(["1"] * extra) for index in range(20)
    ]
    table = read_csv_bytes(("\n".join([header, *rows]) + "\n").encode())
    assert table.frame.shape == (20, MAX_COLUMNS)


def test_a_line_of_exactly_the_limit_passes_the_line_scan() -> None:
    guards.refuse_long_lines("a,b\n" + "x" * MAX_LINE_CHARS + "\r\nc,d", "The file")
    message = _refusal(guards.refuse_long_lines, "a,b\n" + "x" * (MAX_LINE_CHARS + 1), "The file")
    assert f"{MAX_LINE_CHARS + 1:,} characters on line 2" in message


def test_line_numbers_count_excels_separator_line() -> None:
    data = b"sep=;\r\ntext;label\r\n" + b"x" * (MAX_LINE_CHARS + 1) + b";pos\r\n"
    assert "on line 3," in _refusal(read_csv_bytes, data, "excel.csv")


LINE_ENDS = ["\n", "\r\n", "\r"]


@settings(max_examples=300)
@given(
    st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=30),
    st.sampled_from(LINE_ENDS),
    st.integers(min_value=2, max_value=12),
)
def test_line_scan_finds_the_first_line_over_the_limit(lengths: list[int], line_end: str, limit: int) -> None:
    # With a small limit the scan's blocks are a few characters, so lines of every length around
    # them and around the limit are checked against plainly splitting the text.
    lines = ["ab, "[index % 4] * length for index, length in enumerate(lengths)]
    text = line_end.join(lines)
    over = [number for number, line in enumerate(re.split(r"\r\n|\r|\n", text), start=1) if len(line) > limit]
    with patch.object(guards, "MAX_LINE_CHARS", limit):
        if not over:
            guards.refuse_long_lines(text, "The file")
            return
        message = _refusal(guards.refuse_long_lines, text, "The file")
    assert f"{len(lines[over[0] - 1]):,} characters on line {over[0]:,}," in message


# ---------------------------------------------------------------------------------------------
# Cells: refused after parsing, by a vectorised length per column


def _file_with_text(cell: str, row: int = 3) -> bytes:
    texts = ["a fine kettle", "a poor kettle", "a fine book", "a poor book"]
    texts[row - 1] = cell
    body = "".join(f'"{text}",{("pos", "neg")[index % 2]}\n' for index, text in enumerate(texts))
    return ("text,label\n" + body).encode()


def test_a_cell_at_the_limit_is_read_and_one_over_is_refused_naming_column_and_row() -> None:
    cell = ("word " * MAX_CELL_CHARS)[: MAX_CELL_CHARS - 1] + "x"
    assert read_csv_bytes(_file_with_text(cell)).frame["text"].str.len().max() == MAX_CELL_CHARS
    message = _refusal(read_csv_bytes, _file_with_text(cell + "y"), "long.csv")
    assert f"a cell of {MAX_CELL_CHARS + 1:,} characters (column 'text', data row 3)" in message
    assert f"more than the {MAX_CELL_CHARS:,}" in message


def test_a_long_cell_of_short_lines_is_refused_after_parsing() -> None:
    # Every physical line is short, so only the cell check can see it.
    cell = "a short line of words\n" * (MAX_CELL_CHARS // 10)
    message = _refusal(read_csv_bytes, _file_with_text(cell, row=2), "lines.csv")
    assert f"a cell of {len(cell):,} characters (column 'text', data row 2)" in message


# ---------------------------------------------------------------------------------------------
# Words and characters: counted once the rows to train on are chosen, before any tokenising


def _reviews(rows: int, words: int) -> pd.DataFrame:
    # Words of 6 characters and a space: a little longer than English on average.
    pool = [word.ljust(6, "e") for word in vocabulary_words(5_000, seed=5)]
    starts = [index * 7 % (len(pool) - words) for index in range(rows)]
    texts = [" ".join(pool[start : start + words]) for start in starts]
    return pd.DataFrame({"text": texts, "label": [("pos", "neg")[index % 2] for index in range(rows)]})


def test_twenty_thousand_reviews_of_a_hundred_words_are_trained_on() -> None:
    frame = _reviews(MAX_ROWS, 100)
    dataset = prepare_dataset(frame, "text", "label")
    assert len(dataset.texts) == MAX_ROWS
    assert sum(len(text.split()) for text in dataset.texts) == 2_000_000


def test_words_are_counted_after_sampling() -> None:
    frame = _reviews(2 * MAX_ROWS, 100)  # 4,000,000 words, of which a sample of 2,000,000 is kept
    dataset = prepare_dataset(frame, "text", "label")
    assert len(dataset.texts) == MAX_ROWS and dataset.notes[-1].startswith("Sampled")


def test_one_huge_text_is_refused_without_splitting_it_into_a_list() -> None:
    huge = "word " * (MAX_TOTAL_WORDS + 1)
    frame = pd.DataFrame({"text": [huge, "fine", "poor", "ok"], "label": ["pos", "pos", "neg", "neg"]})
    peak = traced_peak(lambda: prepare_dataset(frame, "text", "label"))
    message = _refusal(prepare_dataset, frame, "text", "label")
    assert f"The 4 texts to train on in 'text' hold {MAX_TOTAL_WORDS + 4:,} words in all" in message
    assert peak < 3 * len(huge)  # splitting it at once would need about ten times its size


@settings(max_examples=300)
@given(
    st.text(alphabet=st.sampled_from(["a", "é", "字", " ", "\t", "\n", "\xa0", "\u2028", "\u3000", "\x1c"])),
    st.integers(min_value=1, max_value=9),
)
def test_word_count_agrees_with_str_split_across_slices(text: str, slice_chars: int) -> None:
    with patch.object(guards, "_WORD_COUNT_SLICE", slice_chars):
        assert guards.word_count(text) == len(text.split())
