"""CSV downloads: safe to open in a spreadsheet, and they read back."""

from __future__ import annotations

import csv
import io

import pandas as pd

from bertviz_core.data.export import to_safe_csv
from bertviz_core.data.table import read_csv_bytes
from tests.helpers import ROWS
from tests.helpers import csv_text as _csv_text
from tests.helpers import table_rows as _table_rows

# ---------------------------------------------------------------------------------------------
# Export


def test_to_safe_csv_neutralises_formulas() -> None:
    frame = pd.DataFrame(
        {
            "=HEADER": ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tTab", "\rReturn", "plain", "a=b"],
            "count": [1, -2, 3, 4, 5, 6, 7, 8],
        }
    )
    exported = to_safe_csv(frame)
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8"), newline="")))
    assert rows[0] == ["'=HEADER", "count"]
    assert [row[0] for row in rows[1:]] == [
        "'=1+1",
        "'+SUM(A1)",
        "'-2",
        "'@cmd",
        "'\tTab",
        "'\rReturn",
        "plain",
        "a=b",
    ]
    assert [row[1] for row in rows[1:]] == ["1", "-2", "3", "4", "5", "6", "7", "8"]
    assert frame.columns[0] == "=HEADER" and frame.iloc[0, 0] == "=1+1"  # the input is left alone


def test_to_safe_csv_reads_back() -> None:
    table = read_csv_bytes(_csv_text().encode())
    assert _table_rows(read_csv_bytes(to_safe_csv(table.frame))) == ROWS
