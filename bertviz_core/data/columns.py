"""Which column holds the texts and which the labels: the longest free text, and a few-valued column."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bertviz_core.data.guards import word_count
from bertviz_core.data.limits import MAX_CLASSES
from bertviz_core.errors import DataError

# Column statistics look at a sample of each column: at most _STATS_ROWS cells, and fewer when there
# are many columns (200 columns get 1,000 each), since they cost time per cell (a few microseconds).
_STATS_ROWS = 10_000
_STATS_CELLS = 200_000


_LETTER = r"[^\W\d_]"
# Column names that say "this is the label".
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
    sample_size = max(1, min(_STATS_ROWS, _STATS_CELLS // max(1, frame.shape[1])))
    for position, name in enumerate(frame.columns):
        values = frame.iloc[:, position].astype(str).str.strip()
        values = values[values != ""]
        if len(values) > sample_size:
            sample = values.sample(n=sample_size, random_state=0)
        else:
            sample = values
        count = len(sample)
        if count:
            numeric_share = float(pd.to_numeric(sample, errors="coerce").notna().mean())
            letter_share = float(sample.str.contains(_LETTER, regex=True).mean())
            mean_words = float(sample.map(word_count).mean())  # no list of every word at once
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
