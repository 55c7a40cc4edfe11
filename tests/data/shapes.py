"""CSV files built to be slow to read or tokenise, ordinary ones of the same size to time them
against, and the clocks to do it (fastest of a few runs, tracemalloc's peak).

Every file is generated in memory: the hostile ones are megabytes, too large to keep in the
repository.
"""

from __future__ import annotations

import contextlib
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from bertviz_core.errors import DataError

# Review-like words: what an ordinary upload is made of.
REVIEW_WORDS = np.array(
    ["the", "a", "this", "film", "kettle", "book", "meal", "was", "is", "really", "quite", "very",
     "good", "great", "bad", "awful", "sturdy", "cheap", "slow", "loud", "lovely", "boring",
     "wonderful", "and", "but", "not", "again", "never", "would", "buy"]
)  # fmt: skip


def review_csv(size: int, seed: int = 0) -> bytes:
    """An ordinary text,label file of about ``size`` bytes: reviews of 8 to 24 words, three classes."""
    rng = np.random.default_rng(seed)
    lines = []
    for index in range(500):
        text = " ".join(REVIEW_WORDS[rng.integers(0, REVIEW_WORDS.size, size=rng.integers(8, 25))])
        lines.append(f'"{text}, fine",{("pos", "neg", "neutral")[index % 3]}\n')
    block = "".join(lines)
    return ("text,label\n" + block * max(1, size // len(block))).encode()


def vocabulary_words(count: int, seed: int) -> list[str]:
    """``count`` words drawn from a vocabulary of 5,000 ("w0" to "w4999"), about 6 characters each
    with the space after them."""
    rng = np.random.default_rng(seed)
    return [f"w{number}" for number in rng.integers(0, 5000, size=count)]


def wide_csv(columns: int = 100_000, rows: int = 20) -> bytes:
    """A header and ``rows`` rows of ``columns`` one- and two-digit cells (100,000 x 20: 5.7 MB)."""
    header = ",".join(f"c{position}" for position in range(columns))
    row = ",".join("1" if position % 2 else "12" for position in range(columns))
    return "\n".join([header] + [row] * rows).encode() + b"\n"


def big_cell_csv(cell_bytes: int = 20_000_000) -> bytes:
    """One quoted cell of ``cell_bytes`` of "word word ...", then a few ordinary rows."""
    normal = "".join(
        f"an ordinary short text number {index},{('pos', 'neg')[index % 2]}\n" for index in range(10)
    )
    return ('text,label\n"' + "word " * (cell_bytes // 5) + '",pos\n' + normal).encode()


def long_lines_csv(lines: int = 300, words: int = 10_000, seed: int = 0) -> bytes:
    """``lines`` rows of ``words`` words each and a label (300 x 10,000: about 17 MB)."""
    distinct = [" ".join(vocabulary_words(words, seed + index)) for index in range(10)]
    rows = [f"{distinct[index % 10]},{('pos', 'neg')[index % 2]}" for index in range(lines)]
    return ("text,label\n" + "\n".join(rows) + "\n").encode()


def no_spaces_csv(rows: int = 20_000, chars: int = 1_000) -> bytes:
    """``rows`` texts of ``chars`` letters without a space: few words, many characters (20 MB)."""
    rng = np.random.default_rng(2)
    texts = ["".join(rng.choice(list("abcdefghij"), size=chars)) for _ in range(50)]
    lines = [f"{texts[index % 50]},{('pos', 'neg')[index % 2]}\n" for index in range(rows)]
    return ("text,label\n" + "".join(lines)).encode()


def fastest(call: Callable[[], object], repeats: int) -> float:
    """Seconds of the fastest of ``repeats`` runs; a run that ends in ``DataError`` counts as done."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        with contextlib.suppress(DataError):
            call()
        best = min(best, time.perf_counter() - start)
    return best


def traced_peak(call: Callable[[], object]) -> int:
    """Peak bytes allocated through Python's allocators (numpy's included) while ``call`` runs."""
    tracemalloc.start()
    try:
        with contextlib.suppress(DataError):
            call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
