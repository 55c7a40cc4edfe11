"""Whatever bytes arrive, reading and preparing either works or says DataError; nothing else escapes,
and no shape of file (many columns, long cells, long lines) makes it much slower than an ordinary
file of the same size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bertviz_core.data.columns import guess_columns
from bertviz_core.data.limits import MAX_CELL_CHARS, MAX_COLUMNS, MAX_LINE_CHARS
from bertviz_core.data.rows import prepare_dataset, stratified_split
from bertviz_core.data.table import read_csv_bytes
from bertviz_core.errors import DataError
from tests.data.shapes import fastest, review_csv

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ENCODINGS = [
    "utf-8",
    "utf-8-sig",
    "utf-16",
    "utf-16-le",
    "utf-16-be",
    "utf-32",
    "cp1252",
    "latin-1",
    "shift_jis",
    "koi8-r",
    "cp437",
]
DELIMITERS = [",", ";", "\t", "|", " ", ":", ",,", ""]
LINE_ENDS = ["\n", "\r\n", "\r"]

# Mostly ordinary characters (delimiters, quotes and line breaks among them), some from anywhere in
# Unicode, and a few that trip decoders and splitters (vertical tab, NEL, line separator, BOM, NUL).
ODD_CHARACTERS = ["\x0b", "\x85", "\u2028", "\ufeff", "\x00"]
cell_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("abcdefgh xyz,;|\t\"'\n\r=+-@0123456789.") + ODD_CHARACTERS),
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]),
    ),
    max_size=30,
)
tidy_cell_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("abcdefgh xyz,;|\t\"'\n\r=+-@0123456789.\u2028\ufeff")),
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]),
    ),
    max_size=30,
)
word_cell = st.lists(
    st.sampled_from(["good", "bad", "film", "rain", "goal", "app", "cake"]), min_size=1, max_size=6
).map(" ".join)
label_cell = st.sampled_from(["pos", "neg", "neutral", "1", "0", "", " pos "])
tidy_label_cell = st.sampled_from(["pos", "neg"] * 4 + ["", " pos ", "neutral"])


def _quote(cell: str, quote: bool) -> str:
    return '"' + cell.replace('"', '""') + '"' if quote else cell


@st.composite
def csv_like_bytes(draw: st.DrawFn, tidy: bool | None = None) -> bytes:
    """Anything from a tidy table with a few flaws to a chaotic jumble, in some encoding."""
    if tidy is None:
        tidy = draw(st.booleans())
    width = draw(st.integers(min_value=2 if tidy else 1, max_value=5))
    row_count = draw(
        st.integers(min_value=6, max_value=30) if tidy else st.integers(min_value=0, max_value=25)
    )
    delimiter = draw(st.sampled_from(DELIMITERS[:4] if tidy else DELIMITERS))
    line_end = draw(st.sampled_from(LINE_ENDS))
    header = [draw(st.sampled_from(["text", "label", "", " id ", "text", "x", "=cmd"])) for _ in range(width)]
    lines = [delimiter.join(header)]
    for _ in range(row_count):
        cells = []
        if tidy:
            row_width = width + draw(st.sampled_from([0] * 12 + [-1, 1]))
        else:
            row_width = draw(st.integers(min_value=0, max_value=width + 1))
        for position in range(row_width):
            if tidy:
                cell = draw(
                    tidy_label_cell
                    if position == width - 1
                    else st.one_of(word_cell, word_cell, tidy_cell_text)
                )
            else:
                cell = draw(st.one_of(cell_text, word_cell, label_cell) if position else word_cell)
            needs_quotes = any(char in cell for char in (delimiter or ",") + '"\r\n')
            cells.append(_quote(cell, (tidy and needs_quotes) or draw(st.booleans())))
        lines.append(delimiter.join(cells))
    text = line_end.join(lines) + draw(st.sampled_from(["", line_end, line_end * 3]))
    encoding = draw(st.sampled_from(ENCODINGS))
    return text.encode(encoding, errors="replace")


def _read_guess_prepare(data: bytes) -> None:
    try:
        table = read_csv_bytes(data, "fuzz.csv")
    except DataError as error:
        _check_sentence(error)
        return
    frame = table.frame
    assert isinstance(frame, pd.DataFrame)
    assert frame.shape[1] >= 2 and len(frame) >= 1
    assert all(isinstance(name, str) and name for name in frame.columns)
    assert frame.columns.is_unique
    assert table.delimiter in (",", ";", "\t", "|")
    assert frame.shape[1] <= MAX_COLUMNS
    assert not any((frame[name].str.len() > MAX_CELL_CHARS).any() for name in frame.columns)
    try:
        text_column, label_column = guess_columns(frame)
    except DataError as error:
        _check_sentence(error)
        return
    assert text_column != label_column
    try:
        dataset = prepare_dataset(frame, text_column, label_column, max_rows=10)
    except DataError as error:
        _check_sentence(error)
        return
    assert len(dataset.texts) == len(dataset.labels) == len(dataset.label_ids) <= 10
    assert len(dataset.class_names) >= 2
    train, val = stratified_split(dataset.label_ids, 0.3, seed=1)
    assert (
        set(dataset.label_ids[train]) == set(dataset.label_ids[val]) == set(range(len(dataset.class_names)))
    )


def _check_sentence(error: DataError) -> None:
    message = str(error)
    assert message and "\n" not in message and message.endswith("."), message


@FUZZ
@given(st.binary(max_size=3000))
def test_random_bytes_read_or_refuse(data: bytes) -> None:
    _read_guess_prepare(data)


@FUZZ
@given(csv_like_bytes())
def test_csv_shaped_text_in_odd_encodings_and_delimiters(data: bytes) -> None:
    _read_guess_prepare(data)


@FUZZ
@given(st.binary(min_size=1, max_size=8), csv_like_bytes())
def test_prefixed_csv_read_or_refuse(prefix: bytes, data: bytes) -> None:
    # Stray bytes before a CSV: byte order marks, magic numbers, NULs.
    _read_guess_prepare(prefix + data)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(min_value=2, max_value=40), min_size=2, max_size=8),
    st.floats(min_value=0.05, max_value=0.95),
    st.integers(min_value=0, max_value=2**31),
)
def test_stratified_split_properties(class_sizes: list[int], val_share: float, seed: int) -> None:
    label_ids = np.repeat(np.arange(len(class_sizes)), class_sizes)
    np.random.default_rng(seed).shuffle(label_ids)
    train, val = stratified_split(label_ids, val_share, seed)
    assert np.intersect1d(train, val).size == 0
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(label_ids.size))
    for class_id in range(len(class_sizes)):
        assert class_id in label_ids[train] and class_id in label_ids[val]
    again_train, again_val = stratified_split(label_ids, val_share, seed)
    assert np.array_equal(train, again_train) and np.array_equal(val, again_val)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(min_value=2, max_value=60), min_size=2, max_size=6),
    st.integers(min_value=12, max_value=200),
    st.integers(min_value=0, max_value=1000),
)
def test_sampling_keeps_every_class(class_sizes: list[int], max_rows: int, seed: int) -> None:
    labels = [f"class {index}" for index, size in enumerate(class_sizes) for _ in range(size)]
    frame = pd.DataFrame({"text": [f"row {number}" for number in range(len(labels))], "label": labels})
    dataset = prepare_dataset(frame, "text", "label", max_rows=max_rows, seed=seed)
    assert len(dataset.texts) == min(max_rows, len(labels))
    assert len(set(dataset.texts)) == len(dataset.texts)
    counts = np.bincount(dataset.label_ids, minlength=len(class_sizes))
    assert len(dataset.class_names) == len(class_sizes) and counts.min() >= 2


# ---------------------------------------------------------------------------------------------
# Time: hostile shapes against an ordinary file of the same size, timed in the same test

FUZZ_BYTES = 2 * 1024 * 1024  # the largest file generated, and the size of the ordinary one
# Generous for a busy 2-core machine; the shapes that mattered were 100 to 1,000 times slower.
TIME_SLOWDOWN = 20
TIME_FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _long_cell(kind: str, chars: int) -> str:
    """``chars`` characters of one kind, quoted: words, letters without a space, short lines or
    delimiters (the last two only work inside quotes)."""
    unit = {"words": "word ", "letters": "x", "lines": "a short line\n", "commas": "a,"}[kind]
    return '"' + (unit * (chars // len(unit) + 1))[:chars] + '"'


@st.composite
def hostile_csv_bytes(draw: st.DrawFn) -> bytes:
    """Ordinary rows with hostile traits: a wide record (header, first or last row), long cells
    (one, a whole column, or a header name), blank lines first; never more than ``FUZZ_BYTES``."""
    width = draw(
        st.one_of(st.integers(2, 6), st.sampled_from([MAX_COLUMNS, MAX_COLUMNS + 1]), st.integers(2, 100_000))
    )
    wide_at = draw(st.sampled_from(["header", "first row", "last row"]))
    chars = draw(
        st.one_of(
            st.integers(0, 60),
            st.sampled_from([MAX_CELL_CHARS, MAX_CELL_CHARS + 1, MAX_LINE_CHARS + 1]),
            st.integers(0, FUZZ_BYTES // 2),
        )
    )
    kind = draw(st.sampled_from(["words", "letters", "lines", "commas"]))
    long_where = draw(st.sampled_from(["one row", "every row", "header"]))
    blank_start = draw(st.sampled_from(["", "\n\n", "  \n" * 10_000]))
    rows = draw(st.integers(1, 3000))

    long_cell = _long_cell(kind, chars)
    wide_record = ",".join(f"c{position}" for position in range(width))
    header = (long_cell + "," if long_where == "header" else "") + (
        wide_record if wide_at == "header" else "text,label"
    )
    row = (long_cell if long_where == "every row" else "fine words here") + ",{}"
    # Room for rows once everything else is placed (at worst nothing: one row is always written).
    room = FUZZ_BYTES - len(blank_start) - len(header) - len(wide_record) - len(long_cell)
    lines = [
        row.format(("pos", "neg")[index % 2]) for index in range(max(1, min(rows, room // (len(row) + 1))))
    ]
    if long_where == "one row":
        lines[len(lines) // 2] = long_cell + ",pos"
    if wide_at != "header":
        lines.insert(0 if wide_at == "first row" else len(lines), wide_record)
    return (blank_start + "\n".join([header, *lines]) + "\n").encode()


def test_hostile_shapes_are_read_or_refused_within_a_multiple_of_an_ordinary_file() -> None:
    ordinary = review_csv(FUZZ_BYTES)
    baseline = fastest(lambda: _read_guess_prepare(ordinary), repeats=3)

    @TIME_FUZZ
    @given(hostile_csv_bytes())
    def read_in_bounded_time(data: bytes) -> None:
        assert len(data) <= FUZZ_BYTES
        elapsed = fastest(lambda: _read_guess_prepare(data), repeats=1)
        if elapsed > TIME_SLOWDOWN * baseline:  # a busy machine gets a second chance
            elapsed = min(elapsed, fastest(lambda: _read_guess_prepare(data), repeats=1))
        assert elapsed <= TIME_SLOWDOWN * baseline, (
            f"{elapsed:.2f} s for {len(data):,} bytes; an ordinary file of {len(ordinary):,} bytes took {baseline:.3f} s"
        )

    read_in_bounded_time()
