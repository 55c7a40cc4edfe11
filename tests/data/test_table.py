"""Reading users' CSV files: encodings, delimiters, headers, ragged rows, and what is refused."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bertviz_core.data.columns import guess_columns
from bertviz_core.data.limits import MAX_READ_ROWS, MAX_ROWS, MAX_UPLOAD_MB
from bertviz_core.data.rows import prepare_dataset
from bertviz_core.data.table import read_csv_bytes
from bertviz_core.errors import DataError
from tests.helpers import ROWS, csv_text, table_rows
from tests.helpers import refusal as _any_refusal

DATA_DIR = Path(__file__).resolve().parents[1] / "files"


def _refusal(call, *args, **kwargs) -> str:
    return _any_refusal(DataError, call, *args, **kwargs)


_csv_text, _table_rows = csv_text, table_rows


# ---------------------------------------------------------------------------------------------
# Encodings and delimiters


@pytest.mark.parametrize(
    "encoding, expected",
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),  # Python writes a BOM (little-endian here)
        ("utf-32", "utf-32"),
    ],
)
def test_unicode_encodings_are_detected(encoding: str, expected: str) -> None:
    table = read_csv_bytes(_csv_text().encode(encoding), "reviews.csv")
    assert table.encoding == expected
    assert list(table.frame.columns) == ["text", "label"]
    assert _table_rows(table) == ROWS


def test_utf16_big_endian_with_bom() -> None:
    table = read_csv_bytes(b"\xfe\xff" + _csv_text().encode("utf-16-be"))
    assert table.encoding == "utf-16"
    assert _table_rows(table) == ROWS


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_recognised_by_its_nul_pattern(encoding: str) -> None:
    table = read_csv_bytes(_csv_text().encode(encoding))
    assert table.encoding == encoding
    assert _table_rows(table) == ROWS
    assert any("UTF-16" in note for note in table.notes)


def test_windows_1252_fallback_keeps_curly_quotes_and_euro() -> None:
    rows = [("\u201cBest\u201d pizza for 5 \u20ac", "positive"), ("Soggy cr\u00eape", "negative")] * 2
    table = read_csv_bytes(_csv_text(rows).encode("cp1252"))
    assert table.encoding == "cp1252"
    assert _table_rows(table) == rows
    assert any("Windows-1252" in note for note in table.notes)


def test_latin1_fallback_when_windows_1252_cannot_decode() -> None:
    # 0x81 is undefined in Windows-1252, so only Latin-1 reads this (one stray byte among text).
    text = _csv_text(ROWS[:1] + [("Caf\u00e9 \x81 good", "positive")] + ROWS[1:])
    table = read_csv_bytes(text.encode("latin-1"))
    assert table.encoding == "latin-1"
    assert table.frame["text"][1] == "Caf\u00e9 \x81 good"
    assert any("Latin-1" in note for note in table.notes)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"])
def test_delimiters_are_sniffed(delimiter: str, line_end: str) -> None:
    # The texts contain the other delimiters, quoted where needed.
    table = read_csv_bytes(_csv_text(delimiter=delimiter, line_end=line_end).encode())
    assert table.delimiter == delimiter
    assert _table_rows(table) == ROWS
    if delimiter == ",":
        assert not table.notes
    else:
        assert any("separated by" in note for note in table.notes)


def test_semicolon_file_with_commas_in_unquoted_text() -> None:
    text = "text;label\nGood, cheap, fast;pos\nSlow, loud;neg\nFine, I guess, ok;pos\n"
    table = read_csv_bytes(text.encode())
    assert table.delimiter == ";"
    assert table.frame["text"].tolist() == ["Good, cheap, fast", "Slow, loud", "Fine, I guess, ok"]


def test_quoted_fields_with_newlines_delimiters_and_quotes() -> None:
    text = 'text,label\n"Line one\nline two, still text","pos"\n"He said ""wow""",neg\r\n"a\r\nb",pos\n'
    table = read_csv_bytes(text.encode())
    assert _table_rows(table) == [
        ("Line one\nline two, still text", "pos"),
        ('He said "wow"', "neg"),
        ("a\r\nb", "pos"),
    ]


def test_excel_separator_hint_line() -> None:
    table = read_csv_bytes(b"sep=;\r\ntext;label\r\nGood, cheap;pos\r\nSlow;neg\r\n")
    assert table.delimiter == ";"
    assert list(table.frame.columns) == ["text", "label"]
    assert _table_rows(table) == [("Good, cheap", "pos"), ("Slow", "neg")]


def test_non_latin_text_is_text() -> None:
    rows = [("Отличный фильм, очень понравился", "хорошо"), ("これは本当にひどい映画でした", "悪い")] * 3
    table = read_csv_bytes(_csv_text(rows, header=("отзыв", "метка")).encode("utf-8"))
    assert guess_columns(table.frame) == ("отзыв", "метка")


def test_very_long_header_field_is_read() -> None:
    # Longer than the csv module's default field limit (131,072 characters).
    table = read_csv_bytes(b"text" + b"x" * 200_000 + b",label\nfine,pos\nbad,neg\n")
    assert table.frame.shape == (2, 2)


def test_every_column_is_text_and_numbers_keep_their_written_form() -> None:
    table = read_csv_bytes(b"text,label,score\nfine film,1,007\nbad film,0,1.50\nok film,1,NA\n")
    assert table.frame["label"].tolist() == ["1", "0", "1"]
    assert table.frame["score"].tolist() == ["007", "1.50", "NA"]
    assert all(pd.api.types.is_string_dtype(dtype) for dtype in table.frame.dtypes)


def test_cells_are_never_evaluated() -> None:
    text = "text,label\n\"=cmd|' /C calc'!A0\",pos\n__import__('os').system('true'),neg\n"
    table = read_csv_bytes(text.encode())
    assert table.frame["text"].tolist() == ["=cmd|' /C calc'!A0", "__import__('os').system('true')"]


# ---------------------------------------------------------------------------------------------
# Headers, empty rows, ragged rows


def test_header_whitespace_blank_and_duplicate_names() -> None:
    table = read_csv_bytes(b"  text ,\t,text,label \nA,b,c,d\nE,f,g,h\n")
    assert list(table.frame.columns) == ["text", "column_2", "text_2", "label"]
    assert any("Renamed" in note for note in table.notes)


def test_generated_names_do_not_collide_with_real_ones() -> None:
    table = read_csv_bytes(b"column_2,,x\na,b,c\nd,e,f\n")
    assert table.frame.columns.is_unique
    assert list(table.frame.columns)[0] == "column_2"


def test_empty_rows_are_dropped_with_a_note() -> None:
    table = read_csv_bytes(b"\n\ntext,label\n\nfine,pos\n,\n  ,  \nbad,neg\n\n")
    assert _table_rows(table) == [("fine", "pos"), ("bad", "neg")]
    assert any(re.match(r"Dropped 2 empty rows\.", note) for note in table.notes)


def test_trailing_delimiters_leave_no_extra_column() -> None:
    table = read_csv_bytes(b"text,label,\nfine,pos,\nbad,neg,\n")
    assert list(table.frame.columns) == ["text", "label"]


def test_blank_trailing_header_name_with_data_keeps_the_column() -> None:
    table = read_csv_bytes(b"text,label,\nfine,pos,x\nbad,neg,y\nok,pos,\n")
    assert list(table.frame.columns) == ["text", "label", "column_3"]
    assert table.frame["column_3"].tolist() == ["x", "y", ""]


def test_extra_columns_are_kept() -> None:
    table = read_csv_bytes(
        b"id,date,text,label,source\n1,2024-01-01,fine film,pos,web\n2,2024-01-02,bad film,neg,app\n"
    )
    assert list(table.frame.columns) == ["id", "date", "text", "label", "source"]


def test_short_rows_are_padded() -> None:
    table = read_csv_bytes(b"text,label,extra\nfine,pos\nbad,neg,x\n")
    assert _table_rows(table) == [("fine", "pos", ""), ("bad", "neg", "x")]


def test_a_few_overlong_rows_are_skipped_with_a_note() -> None:
    rows = [f"text {index},{'pos' if index % 2 else 'neg'}" for index in range(20)]
    rows[7] = "text, with an unquoted comma,pos"
    table = read_csv_bytes(("text,label\n" + "\n".join(rows) + "\n").encode())
    assert len(table.frame) == 19
    assert "text, with an unquoted comma" not in table.frame["text"].tolist()
    assert any("Skipped 1 row with more fields than the header" in note for note in table.notes)


def test_header_missing_a_name_for_the_last_column() -> None:
    rows = "".join(f"text {index},{index % 3},extra {index}\n" for index in range(10))
    table = read_csv_bytes(("text,label\n" + rows).encode())
    assert list(table.frame.columns) == ["text", "label", "column_3"]
    assert len(table.frame) == 10


def test_first_row_that_is_data_is_not_taken_as_header() -> None:
    table = read_csv_bytes(b"great film,pos\nbad film,neg\nok film,pos\nawful film,neg\n")
    assert list(table.frame.columns) == ["column_1", "column_2"]
    assert len(table.frame) == 4
    assert any("looks like data" in note for note in table.notes)


# ---------------------------------------------------------------------------------------------
# Refusals: one sentence each


@pytest.mark.parametrize(
    "file_name, expected",
    [
        ("empty.csv", "is empty"),
        ("blank_lines.csv", "is empty"),
        ("header_only.csv", "header row but no data rows"),
        ("image.png", "PNG image"),
        ("document.pdf", "PDF document"),
        ("workbook.zip", "ZIP archive"),
        ("nul_bytes.csv", "NUL bytes"),
        ("page.html", "HTML"),
        ("records.json", "JSON"),
        ("one_column.csv", "only one column"),
        ("unclosed_quote.csv", "never closed"),
        ("ragged.csv", "more fields than its header"),
    ],
)
def test_unreadable_files_are_refused(file_name: str, expected: str) -> None:
    message = _refusal(read_csv_bytes, (DATA_DIR / file_name).read_bytes(), file_name)
    assert expected in message
    assert file_name in message


def test_a_column_of_texts_alone_is_a_table_for_pretraining() -> None:
    data = (DATA_DIR / "one_column.csv").read_bytes() + b'"Quoted, with a comma; and a semicolon"\n'
    frame = read_csv_bytes(data, "one_column.csv", texts_only=True).frame
    assert list(frame.columns) == ["review"]
    assert frame["review"].iloc[0] == "A fine film with a warm heart"
    assert frame["review"].iloc[-1] == "Quoted, with a comma; and a semicolon"


def test_texts_with_unquoted_commas_are_refused_not_cut_into_columns() -> None:
    data = b"text\n" + b"".join(b"the cat %d, it said, sat on the mat\n" % i for i in range(10))
    message = _refusal(lambda raw, name: read_csv_bytes(raw, name, texts_only=True), data, "texts.csv")
    assert "more fields than its header" in message and "double quotes" in message
    # A training table may lack names for its last columns: there the rows keep their fields.
    assert list(read_csv_bytes(data, "texts.csv").frame.columns) == ["text", "column_2", "column_3"]


def test_random_binary_is_refused() -> None:
    noise = np.random.default_rng(0).integers(0, 256, size=4000, dtype=np.uint8).tobytes()
    message = _refusal(read_csv_bytes, noise.replace(b"\x00", b"\x01"), "noise.bin")
    assert "binary" in message


def test_control_characters_are_refused() -> None:
    message = _refusal(read_csv_bytes, bytes(range(1, 32)) * 20, "odd.csv")
    assert "control characters" in message


def test_too_many_bytes_names_the_limit() -> None:
    too_big = b"text,label\n" + b"x" * (MAX_UPLOAD_MB * 1024 * 1024)
    message = _refusal(read_csv_bytes, too_big, "big.csv")
    assert f"{MAX_UPLOAD_MB} MB" in message


def test_too_many_rows_names_the_limit() -> None:
    rows = b"text,label\n" + b"a,b\n" * (MAX_READ_ROWS + 1)
    message = _refusal(read_csv_bytes, rows, "long.csv")
    assert f"{MAX_READ_ROWS:,}" in message


def test_exactly_the_row_limit_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from bertviz_core.data import table

    monkeypatch.setattr(table, "MAX_READ_ROWS", 50)
    rows = "".join(f"text {index},{index % 2}\n" for index in range(50))
    assert len(read_csv_bytes(("text,label\n" + rows).encode()).frame) == 50
    _refusal(read_csv_bytes, ("text,label\n" + rows + "one more,1\n").encode())


def test_invalid_utf16_with_bom_is_refused() -> None:
    message = _refusal(read_csv_bytes, b"\xff\xfe" + "text,label\n".encode("utf-16-le") + b"\x00\xd8x\x00")
    assert "UTF-16" in message


def test_no_text_like_column_is_refused() -> None:
    table = read_csv_bytes((DATA_DIR / "numbers_only.csv").read_bytes())
    assert "looks like text" in _refusal(guess_columns, table.frame)


def test_fewer_than_two_columns_is_refused_by_guessing() -> None:
    assert "two columns" in _refusal(guess_columns, pd.DataFrame({"text": ["a", "b"]}))


def test_single_class_is_refused() -> None:
    table = read_csv_bytes((DATA_DIR / "single_class.csv").read_bytes())
    message = _refusal(prepare_dataset, table.frame, "text", "label")
    assert "only one class" in message and "'positive'" in message


def test_label_unique_per_row_is_refused_as_an_id() -> None:
    table = read_csv_bytes((DATA_DIR / "id_label.csv").read_bytes())
    assert "looks like an id" in _refusal(prepare_dataset, table.frame, "text", "label")


def test_class_with_too_few_rows_is_named() -> None:
    table = read_csv_bytes((DATA_DIR / "rare_class.csv").read_bytes())
    message = _refusal(prepare_dataset, table.frame, "text", "label")
    assert "'neutral'" in message and "at least 2" in message


def test_rare_class_counted_after_cleaning() -> None:
    frame = pd.DataFrame({"text": ["a", "b", "c", "d", "", "f"], "label": ["x", "x", "y", "y", "z", "z"]})
    assert "'z'" in _refusal(prepare_dataset, frame, "text", "label")


def test_too_many_classes_is_refused() -> None:
    labels = [f"c{index}" for index in range(60)] * 2
    frame = pd.DataFrame({"text": [f"t{index}" for index in range(120)], "label": labels})
    assert "60 different values" in _refusal(prepare_dataset, frame, "text", "label")


def test_refusals_stay_on_one_line_whatever_the_values() -> None:
    frame = pd.DataFrame({"text": ["a", "b", "c"], "label": ["x\ny", "x\ny", "x\r\ny"]})
    assert "'x y'" in _refusal(prepare_dataset, frame, "text", "label")
    assert "'x y'" in _refusal(prepare_dataset, frame, "text", "x\ny")
    assert "The file a b.csv " in _refusal(read_csv_bytes, b"", "a\nb.csv")


def test_line_breaks_in_header_names_become_spaces() -> None:
    table = read_csv_bytes(b'"review\ntext",label\nfine,pos\nbad,neg\n')
    assert list(table.frame.columns) == ["review text", "label"]


def test_unknown_or_equal_columns_are_refused() -> None:
    frame = pd.DataFrame({"text": ["a", "b"], "label": ["x", "y"]})
    assert "'nope'" in _refusal(prepare_dataset, frame, "nope", "label")
    assert "same" in _refusal(prepare_dataset, frame, "text", "text")


def test_no_usable_row_is_refused() -> None:
    frame = pd.DataFrame({"text": ["", " "], "label": ["x", ""]})
    assert "No row" in _refusal(prepare_dataset, frame, "text", "label")


# ---------------------------------------------------------------------------------------------
# Size


def test_a_file_near_the_size_limit_is_read() -> None:
    # About 24 MB of review-like rows: read, guessed and sampled (no timing asserted here).
    rng = np.random.default_rng(0)
    words = np.array([f"word{index}" for index in range(2000)])
    texts = [" ".join(words[rng.integers(0, 2000, size=16)]) for _ in range(2000)]
    block = "".join(
        f'"{text}, fine",{("pos", "neg", "neutral")[index % 3]}\n' for index, text in enumerate(texts)
    )
    payload = ("text,label\n" + block * int(24 * 1024 * 1024 // len(block))).encode()
    assert len(payload) > 20 * 1024 * 1024
    table = read_csv_bytes(payload, "big.csv")
    text_column, label_column = guess_columns(table.frame)
    dataset = prepare_dataset(table.frame, text_column, label_column)
    assert len(dataset.texts) == MAX_ROWS
    assert dataset.notes[-1].startswith(f"Sampled {MAX_ROWS:,} of")
