"""Text to a table: the delimiter sniffed, every cell kept as text, headers and ragged rows sorted out.

Reading is forgiving (delimiters, ragged rows, odd headers, Excel's ``sep=`` line) and refuses
what cannot work with one sentence (``DataError``). Nothing in a file is ever executed: bytes are
decoded to a string and parsed by pandas' C tokenizer, every cell kept as text. Lines and columns
are bounded before the parse and cells after it (``guards``), so no file under the upload limit can
make reading slow.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bertviz_core.data.decode import decode, refuse_other_text_formats
from bertviz_core.data.guards import refuse_long_cells, refuse_long_lines, refuse_wide_records
from bertviz_core.data.limits import MAX_CLASSES, MAX_LINE_CHARS, MAX_READ_ROWS, MAX_ROWS, MAX_UPLOAD_MB
from bertviz_core.errors import DataError
from bertviz_core.text import MIB, plural, short

DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes (|)"}

# Rows with more fields than the header are skipped while they stay this rare; beyond it the
# columns cannot be trusted and the file is refused.
RAGGED_ROW_SHARE = 0.10


_SNIFF_CHARS = 64 * 1024
_SNIFF_RECORDS = 200


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
# Lines pandas skips (empty, or spaces and tabs only): its columns come from the first other line.
_BLANK_LINES = re.compile(r"(?:[ \t]*(?:\r\n|\r|\n))*")


@dataclass(frozen=True)
class Table:
    """A user's table as read: every cell a string, header from the file, empty rows dropped."""

    frame: pd.DataFrame
    encoding: str
    delimiter: str
    notes: tuple[str, ...]


def read_csv_bytes(data: bytes, name: str = "upload.csv", *, texts_only: bool = False) -> Table:
    """Decode and parse an uploaded CSV file; ``DataError`` says what is wrong and what to do.

    A table needs a text column and a label column, unless ``texts_only`` (pretraining reads one
    column of texts, so a file of texts alone will do).
    """
    file_name = short(Path(name).name, limit=80)
    display_name = f"The file {file_name}" if file_name else "The file"
    size_mb = len(data) / MIB
    if size_mb > MAX_UPLOAD_MB:
        raise DataError(
            f"{display_name} is {size_mb:,.1f} MB, more than the {MAX_UPLOAD_MB} MB limit: "
            "upload a smaller file (a sample of its rows is enough)."
        )
    text, encoding, notes = decode(data, display_name)
    if not text or text.isspace():
        raise DataError(f"{display_name} is empty: upload a CSV file with a header row and data rows.")
    refuse_other_text_formats(text, display_name)

    # Excel may write a first line "sep=;" that names the delimiter.
    excel_hint = re.match(r"sep=([,;\t|])[ \t]*(\r\n|\n|\r)", text)
    if excel_hint:
        delimiter, text = excel_hint.group(1), text[excel_hint.end() :]
    else:
        delimiter = _sniff_delimiter(text)
    refuse_long_lines(text, display_name, first_line=2 if excel_hint else 1)
    refuse_wide_records(_first_record_widths(text, delimiter), display_name)
    raw = _parse(text, delimiter, display_name)
    refuse_wide_records([raw.shape[1]], display_name)
    try:
        header_fields = next(iter(_record_widths(text[:_SNIFF_CHARS], delimiter, 1)), 1)
    except csv.Error:  # a header field longer than the csv module's limit
        header_fields = 1
    frame, table_notes = _shape_table(raw, delimiter, display_name, header_fields, texts_only)
    refuse_long_cells(frame, display_name)
    if delimiter != ",":
        notes.append(f"Columns are separated by {DELIMITER_NAMES[delimiter]}.")
    notes.extend(table_notes)
    return Table(frame=frame, encoding=encoding, delimiter=delimiter, notes=tuple(notes))


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


def _first_record_widths(text: str, delimiter: str) -> list[int]:
    """Field counts of the first records, before pandas parses anything: its time grows with the
    columns (a minute for 100,000), which it takes from its first non-blank line.

    Only that line must be whole in the sample: a wider row further down makes pandas stop and
    ``_parse`` count again before parsing a second time."""
    start = _BLANK_LINES.match(text).end()
    head = text[start : start + MAX_LINE_CHARS + 2]  # the line scan has bounded the first line
    try:
        records = csv.reader(_lines(head), delimiter=delimiter, skipinitialspace=True)
        return [len(record) for record in itertools.islice(records, _SNIFF_RECORDS)]
    except csv.Error:  # a field over the csv module's 131,072 characters (a long header name)
        return [_fields_outside_quotes(next(_lines(head), ""), delimiter)]


def _fields_outside_quotes(line: str, delimiter: str) -> int:
    """Fields of one line as standard CSV quoting splits it: only delimiters outside double quotes
    count (a doubled quote inside a quoted field opens and closes at once)."""
    return 1 + sum(part.count(delimiter) for part in line.split('"')[::2])


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
            widths = _record_widths(text, delimiter, MAX_READ_ROWS + 2)
        except csv.Error:
            widths = [0]
        widest = max(widths, default=1)
        if widest < 1:
            raise DataError(
                f"{display_name} could not be read as CSV: check that fields containing the delimiter, "
                "quotes or line breaks are wrapped in double quotes."
            )
        refuse_wide_records(widths, display_name)  # before pandas makes a column of every field
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
    raw: pd.DataFrame, delimiter: str, display_name: str, header_fields: int, texts_only: bool = False
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
        notes.append(f"Dropped {plural(empty_rows, 'empty row')}.")
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
        # Not for a column of texts alone: there a one-name header over wider rows means texts
        # with unquoted delimiters, which would be cut into pieces.
        lone_texts = texts_only and header_width == 1
        if common_width > width and (data_widths == common_width).mean() >= 0.5 and not lone_texts:
            notes.append(
                f"The header has {plural(header_width, 'field')} but most rows have "
                f"{common_width}: the unnamed columns are called column_N."
            )
            width = common_width
            too_wide = data_widths > width
        else:
            share = too_wide.mean()
            raise DataError(
                f"{display_name} has rows with more fields than its header ({share:.0%} of rows): wrap text "
                f"containing {DELIMITER_NAMES[delimiter]} in double quotes, or check the header, and "
                "upload again."
            )
    skipped = int(too_wide.sum())
    if skipped:
        first = int(np.flatnonzero(too_wide)[0]) + 1
        notes.append(
            f"Skipped {plural(skipped, 'row')} with more fields than the header "
            f"(the first is data row {first:,}); quote text that contains {DELIMITER_NAMES[delimiter]}."
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

    if frame.shape[1] < 2 and not texts_only:
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
