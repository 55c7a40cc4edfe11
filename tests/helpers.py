"""Small helpers more than one test module uses (import as ``from tests.helpers import ...``)."""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import psutil
import pytest

from bertviz_core.budget import DEFAULT_BUDGET_MB
from bertviz_core.data.rows import Dataset
from bertviz_core.data.table import Table
from bertviz_core.errors import UserError
from bertviz_core.text import MIB

ROWS = [
    ("Café crème was lovely, really", "positive"),
    ('She said "never again"; awful', "negative"),
    ("Zürich | Genève: naïve fun", "positive"),
    ("Cold soup, slow service", "negative"),
]


def csv_text(rows=ROWS, delimiter: str = ",", line_end: str = "\n", header=("text", "label")) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_end, quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def refusal(error_type: type[UserError], call, *args, **kwargs) -> str:
    """The refusal's message, checked to be one sentence for a person."""
    with pytest.raises(error_type) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert isinstance(caught.value, UserError)
    assert "\n" not in message and message[0].isupper() and message.endswith("."), message
    assert "Traceback" not in message and "Error" not in message.split(":")[0], message
    return message


def table_rows(table: Table) -> list[tuple[str, ...]]:
    return [tuple(row) for row in table.frame.itertuples(index=False)]


def separable_dataset(rows: int = 160, seed: int = 0) -> Dataset:
    """Two classes told apart by one sentiment word among neutral filler."""
    rng = np.random.default_rng(seed)
    filler = ["the", "a", "of", "film", "this", "and", "it", "was", "is", "very", "really", "quite"]
    cue = {
        "neg": ["bad", "awful", "hate", "terrible", "boring"],
        "pos": ["good", "great", "love", "excellent", "wonderful"],
    }
    names = ("neg", "pos")
    texts, labels = [], []
    for i in range(rows):
        label = names[i % 2]
        tokens = [*rng.choice(filler, 5), rng.choice(cue[label])]
        rng.shuffle(tokens)
        texts.append(" ".join(tokens))
        labels.append(label)
    ids = np.array([names.index(label) for label in labels], dtype=np.int64)
    return Dataset(texts=tuple(texts), labels=tuple(labels), class_names=names, label_ids=ids, notes=())


def train_on_page(app, timeout: float = 300, kind: str = "train") -> None:
    """Click Train (or Pretrain, ``kind``) on the training page (AppTest), wait for the job the page
    submitted to end, then run the page once more to show it (AppTest does not follow fragments'
    timers). Waiting on the job itself, not by running the page again and again, leaves the CPU to
    the worker that trains."""
    from bertviz_ui.jobs import _visitors

    app.button(key=f"{kind}_start").click().run()
    if not any(button.key == f"{kind}_stop" for button in app.button) and app.error:
        raise AssertionError(f"the {kind} job did not start: {[element.value for element in app.error]}")
    job = _visitors().job(app.session_state["visitor_key"], kind)
    if job is not None and not job.wait(timeout).is_over:
        raise AssertionError(f"the {kind} job did not finish in {timeout} s")
    app.run()
    if any(button.key == f"{kind}_stop" for button in app.button):
        raise AssertionError(f"the {kind} job is still shown as running after it ended")


def rerun_until(app, found, timeout: float = 240):
    """Run the page again (AppTest does not follow fragments' timers, which is how a page follows a
    job) until ``found(app)`` is truthy; return it."""
    deadline = time.monotonic() + timeout
    while not (result := found(app)):
        assert time.monotonic() < deadline, "what the page waited for never arrived"
        time.sleep(1.0)
        app.run()
        assert not app.exception, [element.value for element in app.exception]
    return result


def finished_run_folder(app):
    """The folder of the visitor's newest finished run (the page's run store, shared in-process)."""
    from bertviz_ui.jobs import store

    return store().runs(app.session_state["visitor_key"])[0].folder


def result_zip(app) -> bytes:
    """The newest run's model zip, as the page's download button gives it."""
    from bertviz_core.model.bundle import zip_folder

    return zip_folder(finished_run_folder(app))


def until(condition, timeout: float = 60) -> None:
    """Wait until ``condition()`` holds, polling; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        time.sleep(0.05)


@contextmanager
def budget_as_on_a_server() -> Iterator[None]:
    """AppTest runs a page inside this pytest process, which may by then hold TensorFlow and the
    models earlier tests built; a Streamlit server holds neither. The job pool counts the server
    process against the memory budget, so a page tested here gets the budget it would have
    (``BERTVIZ_MEMORY_BUDGET_MB`` or the default) plus what this process holds."""
    raw = os.environ.get("BERTVIZ_MEMORY_BUDGET_MB", "").strip()
    budget = int(raw) if raw.isdigit() else DEFAULT_BUDGET_MB
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BERTVIZ_MEMORY_BUDGET_MB", str(budget + psutil.Process().memory_info().rss // MIB))
        yield
