"""The training page's size ladder, run headless with Streamlit's AppTest: the plan a budget buys,
before anything runs (the climb is the browser journey's, ``tests/browser/test_ladder_journey.py``)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import rerun_until
from tests.pages.test_train_page import GOOD_CSV, TIMEOUT_S, upload

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file:UserWarning"),
]


def test_the_plan_says_which_sizes_a_budget_buys_before_anything_runs(repo_root):
    page = AppTest.from_file(str(repo_root / "app_pages" / "train.py"), default_timeout=TIMEOUT_S)
    page.run()
    upload(page, "reviews.csv", GOOD_CSV)
    page.number_input(key="train_epochs").set_value(2).run()
    # The plan needs this machine's measured rate: the page shows it once the measurement is in.
    rerun_until(page, lambda app: any(button.key == "ladder_start" for button in app.button))

    def planned() -> int:
        plan = next(caption.value for caption in page.caption if " sizes from " in caption.value)
        return int(plan.split(":material/timer: ")[1].split(" sizes")[0])

    five_minutes = planned()
    page.slider(key="ladder_budget_minutes").set_value(1).run()
    assert 2 <= planned() <= five_minutes <= 8
    table = page.dataframe[-1].value
    assert len(table) == planned() and list(table["size"])[0] == "L1 H8 A1 F16"
    assert set(table["learning rate"]) == {"0.001"}  # a new model's sizes, at the page's rate
    assert any("Larger sizes are left out" in caption.value for caption in page.caption)

    # The climb itself, its chart and its runs: tests/browser/test_ladder_journey.py, in a real browser.
