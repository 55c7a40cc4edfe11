"""Users' CSV files and the shipped sample data sets: reading, column guessing, cleaning, splitting.

Reading is forgiving (encodings, delimiters, ragged rows, odd headers) and refuses what cannot work
with one sentence (``DataError``). Nothing in a file is ever executed: bytes are decoded to a string
and parsed by pandas' C tokenizer, every cell kept as text.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from bertviz_core.errors import UserError

MAX_UPLOAD_MB = 25  # .streamlit/config.toml sets server.maxUploadSize to the same number
MAX_ROWS = 20_000  # rows we train on at most; larger tables are sampled (stratified), not refused
MAX_READ_ROWS = 500_000  # rows we read at most before refusing
MAX_CLASSES = 50  # more distinct labels than this is not a classification task we can show
MIN_ROWS_PER_CLASS = 2  # one row for training and one for validation

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}

# Rows with more fields than the header are skipped while they stay this rare; beyond it the
# columns cannot be trusted and the file is refused.
RAGGED_ROW_SHARE = 0.10

SAMPLES_DIR = Path(__file__).with_name("samples")

_BYTES_PER_MB = 1024 * 1024
_SNIFF_CHARS = 64 * 1024
_SNIFF_RECORDS = 200
_STATS_ROWS = 10_000
# Control characters other than tab, newline and carriage return (C0, DEL and C1).
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_SHARE_LIMIT = 0.05
_CONTROL_CHECK_CHARS = 1_000_000
_LETTER = r"[^\W\d_]"
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")

_LABEL_NAME_HINTS = frozenset(
    {
        "label",
        "labels",
        "class",
        "classes",
        "category",
        "categories",
        "sentiment",
        "polarity",
        "target",
        "topic",
        "intent",
        "tag",
        "emotion",
        "genre",
        "stance",
        "y",
    }
)

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


class DataError(UserError):
    """A data file or column choice that cannot be used. ``str(error)`` is one sentence for the user."""


@dataclass(frozen=True)
class Table:
    """A user's table as read: every cell a string, header from the file, empty rows dropped."""

    frame: pd.DataFrame
    encoding: str
    delimiter: str
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Dataset:
    """Texts and labels ready for tokenizing and training."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]
    class_names: tuple[str, ...]
    label_ids: np.ndarray
    notes: tuple[str, ...]


@dataclass(frozen=True)
class SampleInfo:
    """A shipped sample data set. ``classes`` holds the class names, sorted."""

    name: str
    title: str
    description: str
    text_column: str
    label_column: str
    rows: int
    classes: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# Reading


def read_csv_bytes(data: bytes, name: str = "upload.csv") -> Table:
    """Decode and parse an uploaded CSV file; ``DataError`` says what is wrong and what to do."""
    file_name = _short(Path(name).name, limit=80)
    display_name = f"The file {file_name}" if file_name else "The file"
    size_mb = len(data) / _BYTES_PER_MB
    if size_mb > MAX_UPLOAD_MB:
        raise DataError(
            f"{display_name} is {size_mb:,.1f} MB, more than the {MAX_UPLOAD_MB} MB limit: "
            "upload a smaller file (a sample of its rows is enough)."
        )
    text, encoding, notes = _decode(data, display_name)
    if not text or text.isspace():
        raise DataError(f"{display_name} is empty: upload a CSV file with a header row and data rows.")
    _refuse_other_text_formats(text, display_name)

    # Excel may write a first line "sep=;" that names the delimiter.
    excel_hint = re.match(r"sep=([,;\t|])[ \t]*(\r\n|\n|\r)", text)
    if excel_hint:
        delimiter, text = excel_hint.group(1), text[excel_hint.end() :]
    else:
        delimiter = _sniff_delimiter(text)
    raw = _parse(text, delimiter, display_name)
    try:
        header_fields = next(iter(_record_widths(text[:_SNIFF_CHARS], delimiter, 1)), 1)
    except csv.Error:  # a header field longer than the csv module's limit
        header_fields = 1
    frame, table_notes = _shape_table(raw, delimiter, display_name, header_fields)
    if delimiter != ",":
        notes.append(f"Columns are separated by {DELIMITER_NAMES[delimiter]}.")
    notes.extend(table_notes)
    return Table(frame=frame, encoding=encoding, delimiter=delimiter, notes=tuple(notes))


def _decode(data: bytes, display_name: str) -> tuple[str, str, list[str]]:
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
                    f"{display_name} starts like {_encoding_label(encoding)} text but is not valid "
                    f"{_encoding_label(encoding)}: save it again as a UTF-8 CSV file."
                ) from None
            _refuse_control_characters(text, display_name)
            notes = [] if encoding == "utf-8-sig" else [f"Read as {_encoding_label(encoding)}."]
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
            return text, utf16_without_bom, [f"Read as {_encoding_label(utf16_without_bom)}."]

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
        notes = [f"Read as {_encoding_label(encoding)} because the file is not valid UTF-8."]
    _refuse_control_characters(text, display_name)
    return text, encoding, notes


def _encoding_label(encoding: str) -> str:
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
    control_count = sum(1 for _ in _CONTROL_CHARS.finditer(head))
    if control_count > _CONTROL_SHARE_LIMIT * len(head) or "\x00" in text:
        raise DataError(
            f"{display_name} is full of control characters, so it looks like a binary file, not a CSV "
            "file: export the table as CSV (UTF-8)."
        )


def _refuse_other_text_formats(text: str, display_name: str) -> None:
    start = text[:1000].lstrip()[:200].lower()
    if start.startswith(("<!doctype html", "<html", "<?xml")):
        kind = "an XML file" if start.startswith("<?xml") else "a web page (HTML)"
        raise DataError(f"{display_name} looks like {kind}, not a CSV file: export the table as CSV.")
    if start.startswith("{") or re.match(r"\[\s*[\[{\"]", start):
        raise DataError(
            f"{display_name} looks like JSON, not a CSV file: export the table as CSV with a header row."
        )


def _sniff_delimiter(text: str) -> str:
    """The candidate that splits the first records into the most consistent number (2+) of fields."""
    sample = text[:_SNIFF_CHARS]
    truncated = len(text) > len(sample)
    if truncated and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    best_key: tuple[float, int, int] | None = None
    best = ","
    for order, delimiter in enumerate(DELIMITERS):
        try:
            widths = _record_widths(sample, delimiter, _SNIFF_RECORDS + 1)
        except csv.Error:
            continue
        if truncated and len(widths) > 1:
            widths = widths[:-1]  # the last record may be cut in the middle
        widths = widths[:_SNIFF_RECORDS]
        if not widths:
            continue
        mode_width, mode_count = Counter(widths).most_common(1)[0]
        if mode_width < 2:
            continue
        key = (mode_count / len(widths), mode_width, -order)
        if best_key is None or key > best_key:
            best_key, best = key, delimiter
    return best


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text`` with their endings (\\n, \\r\\n or \\r), lazily: no copy of a large text."""
    return (match.group() for match in _LINE.finditer(text))


def _record_widths(text: str, delimiter: str, limit: int) -> list[int]:
    """Field counts of the first ``limit`` non-blank records, as the csv module splits them."""
    widths = []
    for record in csv.reader(_lines(text), delimiter=delimiter, skipinitialspace=True):
        if not any(cell.strip() for cell in record):
            continue
        widths.append(len(record))
        if len(widths) >= limit:
            break
    return widths


def _parse(text: str, delimiter: str, display_name: str) -> pd.DataFrame:
    """Every record as strings, columns numbered; rows longer than the first one are kept whole."""
    options = dict(
        sep=delimiter,
        header=None,
        dtype=str,
        na_filter=False,
        keep_default_na=False,
        skipinitialspace=True,
        skip_blank_lines=True,
        quotechar='"',
        doublequote=True,
        engine="c",
        encoding="utf-8",
        # Header plus one row over the limit: enough to know the limit is passed.
        nrows=MAX_READ_ROWS + 2,
    )
    # The C parser reads UTF-8 bytes; handing it those (not a StringIO, which holds 4 bytes per
    # character) keeps the memory of a 25 MB file low.
    utf8 = text.encode("utf-8")
    try:
        try:
            return pd.read_csv(io.BytesIO(utf8), **options)
        except pd.errors.ParserError as error:
            if "Expected" not in str(error):
                raise
        # Some row is longer than the first: number the columns up to the widest row.
        try:
            widest = max(_record_widths(text, delimiter, MAX_READ_ROWS + 2), default=1)
        except csv.Error:
            widest = 0
        if widest < 1:
            raise DataError(
                f"{display_name} could not be read as CSV: check that fields containing the delimiter, "
                "quotes or line breaks are wrapped in double quotes."
            )
        return pd.read_csv(io.BytesIO(utf8), names=list(range(widest)), **options)
    except pd.errors.EmptyDataError:
        raise DataError(
            f"{display_name} is empty: upload a CSV file with a header row and data rows."
        ) from None
    except pd.errors.ParserError as error:
        message = str(error)
        if "EOF inside string" in message:
            row = re.search(r"row (\d+)", message)
            where = f" (record {int(row.group(1)) + 1})" if row else ""
            raise DataError(
                f"{display_name} has a quoted field that is never closed{where}: check the double quotes "
                "in the file and upload it again."
            ) from None
        raise DataError(
            f"{display_name} could not be read as CSV: check that fields containing the delimiter, "
            "quotes or line breaks are wrapped in double quotes."
        ) from None


def _shape_table(
    raw: pd.DataFrame, delimiter: str, display_name: str, header_fields: int
) -> tuple[pd.DataFrame, list[str]]:
    """Header, column names, empty and ragged rows: raw numbered columns to the user's table.

    ``header_fields`` is the header's own field count, blank trailing names included: columns
    under a blank name are kept when rows fill them."""
    notes: list[str] = []
    if len(raw) > MAX_READ_ROWS + 1:
        raise DataError(
            f"{display_name} has more than {MAX_READ_ROWS:,} rows: upload at most {MAX_READ_ROWS:,} rows "
            f"(training uses a sample of {MAX_ROWS:,} anyway)."
        )
    raw = raw.set_axis(range(raw.shape[1]), axis=1).reset_index(drop=True)
    filled = _filled_cells(raw)
    non_empty_rows = filled.any(axis=1)
    if not non_empty_rows.any():
        raise DataError(f"{display_name} has no data: upload a CSV file with a header row and data rows.")
    header_position = int(np.argmax(non_empty_rows))
    widths = _effective_widths(filled)

    header_width = min(max(int(widths[header_position]), header_fields), raw.shape[1])
    data_positions = np.flatnonzero(non_empty_rows)
    data_positions = data_positions[data_positions > header_position]
    empty_rows = int((~non_empty_rows).sum())
    if empty_rows:
        notes.append(f"Dropped {empty_rows:,} empty {_plural(empty_rows, 'row')}.")
    if data_positions.size == 0:
        raise DataError(
            f"{display_name} has a header row but no data rows: add rows below the header and upload again."
        )

    data_widths = widths[data_positions]
    width = header_width
    too_wide = data_widths > width
    if too_wide.mean() > RAGGED_ROW_SHARE:
        # Maybe the header just lacks names for the last columns: then nearly all rows fit in one
        # wider width and most have exactly that many fields (rows that end in empty fields are shorter).
        common_width = int(np.sort(data_widths)[int(np.ceil((1 - RAGGED_ROW_SHARE) * data_widths.size)) - 1])
        if common_width > width and (data_widths == common_width).mean() >= 0.5:
            notes.append(
                f"The header has {header_width} {_plural(header_width, 'field')} but most rows have "
                f"{common_width}: the unnamed columns are called column_N."
            )
            width = common_width
            too_wide = data_widths > width
        else:
            share = too_wide.mean()
            raise DataError(
                f"{display_name} has rows with more fields than its header ({share:.0%} of rows): wrap text "
                f"containing {_delimiter_phrase(delimiter)} in double quotes, or check the header, and "
                "upload again."
            )
    skipped = int(too_wide.sum())
    if skipped:
        first = int(np.flatnonzero(too_wide)[0]) + 1
        notes.append(
            f"Skipped {skipped:,} {_plural(skipped, 'row')} with more fields than the header "
            f"(the first is data row {first:,}); quote text that contains {_delimiter_phrase(delimiter)}."
        )
        data_positions = data_positions[~too_wide]

    width = max(width, 1)
    header_cells = [" ".join(str(cell).split()) for cell in raw.iloc[header_position, :width]]
    header_cells += [""] * (width - len(header_cells))
    contiguous = data_positions.size == len(raw) - header_position - 1
    if contiguous:  # the usual case: a slice, no copy of every row
        frame = raw.iloc[header_position + 1 :, :width].reset_index(drop=True)
    else:
        frame = raw.iloc[data_positions, :width].reset_index(drop=True)

    if _first_row_is_data(header_cells, frame):
        header_row = pd.DataFrame([header_cells], columns=range(width))
        frame = pd.concat([header_row, frame], ignore_index=True).astype(str)
        names = [f"column_{position + 1}" for position in range(width)]
        notes.append(
            "The first row looks like data, not a header: the columns are named column_1, column_2, ..."
        )
    else:
        names, renamed = _unique_names(header_cells)
        if renamed:
            notes.append(f"Renamed blank or repeated column names: {', '.join(renamed)}.")
    frame.columns = names

    # A blank-named column with nothing in it is an artefact of trailing delimiters.
    blank_named = [name for name, cell in zip(names, header_cells, strict=True) if not cell]
    empty_columns = [name for name in blank_named if not _filled_cells(frame[[name]]).any()]
    if empty_columns and len(empty_columns) < frame.shape[1]:
        frame = frame.drop(columns=empty_columns)

    if frame.shape[1] < 2:
        raise DataError(
            f"{display_name} has only one column: it needs a text column and a label column, separated by "
            "commas, semicolons, tabs or pipes."
        )
    return frame, notes


def _filled_cells(frame: pd.DataFrame) -> np.ndarray:
    """Boolean matrix: the cell holds something other than whitespace."""
    if frame.shape[1] == 0:
        return np.zeros((len(frame), 0), dtype=bool)
    columns = [
        frame.iloc[:, position].astype(str).str.strip().ne("").to_numpy(dtype=bool)
        for position in range(frame.shape[1])
    ]
    return np.column_stack(columns)


def _effective_widths(filled: np.ndarray) -> np.ndarray:
    """Per row, the position after the last filled cell (trailing empty fields do not count)."""
    if filled.shape[1] == 0:
        return np.zeros(filled.shape[0], dtype=np.int64)
    last_from_end = np.argmax(filled[:, ::-1], axis=1)
    return np.where(filled.any(axis=1), filled.shape[1] - last_from_end, 0).astype(np.int64)


def _first_row_is_data(header_cells: list[str], frame: pd.DataFrame) -> bool:
    """A header cell that reappears among a label-like column's values means there is no header."""
    if len(frame) < 2:
        return False
    for position, cell in enumerate(header_cells):
        if not cell:
            continue
        values = frame.iloc[:, position].astype(str).str.strip()
        distinct = values[values != ""].unique()
        if 2 <= len(distinct) <= MAX_CLASSES and len(distinct) < len(values) and cell in set(distinct):
            return True
    return False


def _unique_names(cells: list[str]) -> tuple[list[str], list[str]]:
    """Blank names become column_N; repeated ones get _2, _3. Returns (names, the renamed ones)."""
    names: list[str] = []
    renamed: list[str] = []
    taken = {cell for cell in cells if cell}
    seen: set[str] = set()
    for position, cell in enumerate(cells):
        name = cell or f"column_{position + 1}"
        if name in seen or (not cell and name in taken):
            base, counter = name, 2
            while f"{base}_{counter}" in seen or f"{base}_{counter}" in taken:
                counter += 1
            name = f"{base}_{counter}"
        if name != cell:
            renamed.append(name)
        seen.add(name)
        names.append(name)
    return names, renamed


def _delimiter_phrase(delimiter: str) -> str:
    return {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes (|)"}[delimiter]


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


# ---------------------------------------------------------------------------------------------
# Column guessing


@dataclass(frozen=True)
class _ColumnStats:
    name: str
    position: int
    filled: int
    distinct: int
    numeric_share: float
    letter_share: float
    mean_words: float
    mean_chars: float


def _column_stats(frame: pd.DataFrame) -> list[_ColumnStats]:
    stats = []
    for position, name in enumerate(frame.columns):
        values = frame.iloc[:, position].astype(str).str.strip()
        values = values[values != ""]
        if len(values) > _STATS_ROWS:
            sample = values.sample(n=_STATS_ROWS, random_state=0)
        else:
            sample = values
        count = len(sample)
        if count:
            numeric_share = float(pd.to_numeric(sample, errors="coerce").notna().mean())
            letter_share = float(sample.str.contains(_LETTER, regex=True).mean())
            mean_words = float(sample.str.split().str.len().mean())
            mean_chars = float(sample.str.len().mean())
        else:
            numeric_share = letter_share = mean_words = mean_chars = 0.0
        stats.append(
            _ColumnStats(
                name=str(name),
                position=position,
                filled=len(values),
                distinct=int(values.nunique()),
                numeric_share=numeric_share,
                letter_share=letter_share,
                mean_words=mean_words,
                mean_chars=mean_chars,
            )
        )
    return stats


def guess_columns(frame: pd.DataFrame) -> tuple[str, str]:
    """(text_column, label_column): the longest free text, and another column with few distinct values."""
    if frame.shape[1] < 2:
        raise DataError("The table has fewer than two columns: it needs a text column and a label column.")
    if len(frame) == 0:
        raise DataError("The table has no rows: upload a file with data rows below the header.")
    stats = _column_stats(frame)

    text_like = [s for s in stats if s.filled and s.letter_share >= 0.5 and s.numeric_share < 0.5]
    if not text_like:
        raise DataError(
            "No column looks like text (every column is numeric or empty): the file needs a column of "
            "sentences and a column of labels."
        )

    def free_text_key(s: _ColumnStats) -> tuple[bool, float, float]:
        many_distinct = s.distinct >= 0.5 * s.filled or s.distinct > MAX_CLASSES
        return (many_distinct, round(s.mean_words, 1), s.mean_chars)

    text = max(text_like, key=free_text_key)
    others = [s for s in stats if s.name != text.name]

    def is_label_like(s: _ColumnStats) -> bool:
        return 2 <= s.distinct <= MAX_CLASSES and s.distinct <= max(2, s.filled // 2)

    candidates = [s for s in others if is_label_like(s)]
    if candidates:
        # A telling name wins; otherwise the rightmost (labels usually come last).
        label = max(candidates, key=lambda s: (s.name.strip().lower() in _LABEL_NAME_HINTS, s.position))
    else:
        # Nothing fits: offer the closest column and let prepare_dataset say what is wrong with it.
        label = min(others, key=lambda s: (s.filled == 0, s.distinct, -s.position))
    return text.name, label.name


# ---------------------------------------------------------------------------------------------
# Cleaning, sampling and splitting


def prepare_dataset(
    frame: pd.DataFrame,
    text_column: str,
    label_column: str,
    *,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
) -> Dataset:
    """Texts and labels from two columns; rows without either are dropped, large tables sampled.

    Class names are sorted as strings, or as numbers when every label is a number ("2" before "10").
    """
    for column, role in ((text_column, "text"), (label_column, "label")):
        if column not in frame.columns:
            raise DataError(
                f"There is no column named '{_short(column)}' for the {role}: "
                "choose one of the table's columns."
            )
    if text_column == label_column:
        raise DataError("The text column and the label column are the same: choose two different columns.")

    texts = _column_as_text(frame, text_column)
    labels = _column_as_text(frame, label_column)
    keep = (texts != "") & (labels != "")
    notes: list[str] = []
    dropped = int((~keep).sum())
    if dropped:
        notes.append(f"Dropped {dropped:,} {_plural(dropped, 'row')} without text or label.")
    texts, labels = texts[keep], labels[keep]
    if len(texts) == 0:
        raise DataError(
            f"No row has both a text in '{_short(text_column)}' and a label in "
            f"'{_short(label_column)}': choose other columns."
        )

    counts = labels.value_counts()
    if len(counts) < 2:
        raise DataError(
            f"The label column '{_short(label_column)}' has only one class ('{_short(counts.index[0])}'): "
            "a classifier needs at least two, so choose another label column or add rows of another class."
        )
    if len(counts) == len(labels):
        raise DataError(
            f"Every row has a different value in '{_short(label_column)}', so it looks like an id, not a "
            "label: choose a column with a few repeated classes."
        )
    if len(counts) > MAX_CLASSES:
        raise DataError(
            f"The label column '{_short(label_column)}' has {len(counts):,} different values, more than "
            f"{MAX_CLASSES} classes: choose a column with fewer classes."
        )
    rare = counts[counts < MIN_ROWS_PER_CLASS]
    if len(rare):
        names = [f"'{_short(name)}'" for name in sorted(rare.index)]
        listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        verb = "has" if len(names) == 1 else "have"
        raise DataError(
            f"Class {listed} {verb} fewer than {MIN_ROWS_PER_CLASS} rows: each class needs at least "
            f"{MIN_ROWS_PER_CLASS} to be split into training and validation, so add rows or remove "
            f"{'that class' if len(names) == 1 else 'those classes'}."
        )

    if len(labels) > max_rows:
        if max_rows < MIN_ROWS_PER_CLASS * len(counts):
            raise DataError(
                f"A sample of {max_rows:,} {_plural(max_rows, 'row')} cannot hold {MIN_ROWS_PER_CLASS} "
                f"rows of each of {len(counts)} classes: allow more rows."
            )
        chosen = _stratified_sample(labels.to_numpy(dtype=object), max_rows, seed)
        notes.append(f"Sampled {max_rows:,} of {len(labels):,} rows (stratified).")
        texts, labels = texts.iloc[chosen], labels.iloc[chosen]

    label_values = tuple(labels.tolist())
    class_names = tuple(sorted(set(label_values), key=_class_sort_key(label_values)))
    index_of = {name: index for index, name in enumerate(class_names)}
    label_ids = np.fromiter(
        (index_of[label] for label in label_values), dtype=np.int64, count=len(label_values)
    )
    return Dataset(
        texts=tuple(texts.tolist()),
        labels=label_values,
        class_names=class_names,
        label_ids=label_ids,
        notes=tuple(notes),
    )


def _column_as_text(frame: pd.DataFrame, column: str) -> pd.Series:
    series = frame[column]
    if isinstance(series, pd.DataFrame):  # repeated column names: take the first
        series = series.iloc[:, 0]
    filled = series.notna()
    return series.astype(str).where(filled, "").str.strip().astype(object).reset_index(drop=True)


def _class_sort_key(labels: tuple[str, ...]):
    distinct = set(labels)
    try:
        numbers = {label: float(label) for label in distinct}
    except ValueError:
        return str
    if any(np.isnan(value) for value in numbers.values()):
        return str
    return lambda label: (numbers[label], label)


def _short(value: object, limit: int = 40) -> str:
    """A user's value fit for a one-line message: whitespace and control characters become single
    spaces, and long values are cut."""
    text = " ".join(_CONTROL_CHARS.sub(" ", str(value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _stratified_sample(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted positions of ``size`` rows, each class in proportion and with at least 2 rows."""
    rng = np.random.default_rng(seed)
    classes, inverse, counts = np.unique(labels.astype(str), return_inverse=True, return_counts=True)
    quotas = _proportional_quotas(counts, size, minimum=MIN_ROWS_PER_CLASS)
    chosen = []
    for class_index, quota in enumerate(quotas):
        members = np.flatnonzero(inverse == class_index)
        chosen.append(rng.choice(members, size=int(quota), replace=False))
    return np.sort(np.concatenate(chosen))


def _proportional_quotas(counts: np.ndarray, total: int, minimum: int) -> np.ndarray:
    """Integer quotas summing to ``total``, as close to proportional to ``counts`` as whole rows allow,
    each at least ``minimum`` (or the whole class when it is smaller) and at most its count."""
    counts = counts.astype(np.int64)
    ideal = counts * (total / counts.sum())
    floor = np.minimum(counts, minimum)
    quotas = np.clip(np.floor(ideal).astype(np.int64), floor, counts)
    while quotas.sum() < total:
        shortfall = np.where(quotas < counts, ideal - quotas, -np.inf)
        quotas[int(np.argmax(shortfall))] += 1
    while quotas.sum() > total:
        excess = np.where(quotas > floor, quotas - ideal, -np.inf)
        quotas[int(np.argmax(excess))] -= 1
    return quotas


def stratified_split(label_ids: np.ndarray, val_share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_indices, val_indices), sorted; every class in both; the same for the same seed."""
    label_ids = np.asarray(label_ids)
    if not 0.0 < float(val_share) < 1.0:
        raise DataError(
            f"The validation share must be between 0 and 1 (got {val_share}): pick for example 0.2."
        )
    if label_ids.size == 0:
        raise DataError("There are no rows to split: load a data set first.")
    classes, inverse, counts = np.unique(label_ids, return_inverse=True, return_counts=True)
    if len(classes) < 2:
        raise DataError("All rows have the same class: a classifier needs at least two classes.")
    too_small = classes[counts < MIN_ROWS_PER_CLASS]
    if too_small.size:
        raise DataError(
            f"Class {too_small[0]} has fewer than {MIN_ROWS_PER_CLASS} rows, so it cannot appear in both "
            "training and validation: add rows or remove that class."
        )
    rng = np.random.default_rng(seed)
    train_parts, val_parts = [], []
    for class_index, count in enumerate(counts):
        members = rng.permutation(np.flatnonzero(inverse == class_index))
        val_count = int(np.clip(round(count * val_share), 1, count - 1))
        val_parts.append(members[:val_count])
        train_parts.append(members[val_count:])
    train = np.sort(np.concatenate(train_parts)).astype(np.int64)
    val = np.sort(np.concatenate(val_parts)).astype(np.int64)
    return train, val


# ---------------------------------------------------------------------------------------------
# Samples


# File stem -> (title, description). The CSV files are generated by tools/make_samples.py (CC0 1.0).
_SAMPLE_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "reviews": (
        "Product reviews (positive / negative)",
        "Short English reviews of gadgets, books, films and meals, each labelled positive or negative; "
        "some mix praise and complaint.",
    ),
    "headlines": (
        "News headlines by topic",
        "Short English headlines labelled sports, technology, food or weather; a few touch two topics.",
    ),
}


def list_samples() -> list[SampleInfo]:
    """The shipped sample data sets, in a fixed order."""
    infos = []
    for name in _SAMPLE_DESCRIPTIONS:
        if not (SAMPLES_DIR / f"{name}.csv").is_file():
            continue
        infos.append(_sample_info(name))
    return infos


def load_sample(name: str) -> Table:
    """A shipped sample as a Table (a fresh copy each time, so callers may change it)."""
    if name not in _SAMPLE_DESCRIPTIONS or not (SAMPLES_DIR / f"{name}.csv").is_file():
        known = ", ".join(_SAMPLE_DESCRIPTIONS) or "none"
        raise DataError(f"There is no sample named '{name}': choose one of {known}.")
    table = _read_sample(name)
    return Table(
        frame=table.frame.copy(), encoding=table.encoding, delimiter=table.delimiter, notes=table.notes
    )


@cache
def _read_sample(name: str) -> Table:
    path = SAMPLES_DIR / f"{name}.csv"
    return read_csv_bytes(path.read_bytes(), path.name)


@cache
def _sample_info(name: str) -> SampleInfo:
    table = _read_sample(name)
    title, description = _SAMPLE_DESCRIPTIONS[name]
    text_column, label_column = guess_columns(table.frame)
    dataset = prepare_dataset(table.frame, text_column, label_column, max_rows=len(table.frame) + 1)
    return SampleInfo(
        name=name,
        title=title,
        description=description,
        text_column=text_column,
        label_column=label_column,
        rows=len(dataset.texts),
        classes=dataset.class_names,
    )


# ---------------------------------------------------------------------------------------------
# Export

# A spreadsheet treats a cell starting with one of these as a formula (or strips it and then does).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def to_safe_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV bytes in which no cell or header can run as a spreadsheet formula."""
    safe = frame.copy()
    safe.columns = [_neutralise(str(column)) for column in frame.columns]
    for position in range(safe.shape[1]):
        column = safe.iloc[:, position]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            safe.isetitem(position, column.map(_neutralise, na_action="ignore"))
    # CRLF as RFC 4180 says; it also makes the writer quote cells holding a bare \r.
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8")
