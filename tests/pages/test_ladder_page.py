"""The training page's size ladder, run headless with Streamlit's AppTest: the plan before it starts,
the sizes trained in the pool, the chart and table after, and every size one of the visitor's runs."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.helpers import rerun_until
from tests.pages.test_train_page import GOOD_CSV, TIMEOUT_S, upload

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:You are saving your model as an HDF5 file:UserWarning"),
]


def test_a_ladder_plans_climbs_and_opens_every_size_as_a_run(repo_root):
    page = AppTest.from_file(str(repo_root / "app_pages" / "train.py"), default_timeout=TIMEOUT_S)
    page.run()
    upload(page, "reviews.csv", GOOD_CSV)
    page.number_input(key="train_epochs").set_value(2).run()
    # The plan needs this machine's measured rate: the page shows it once the measurement is in.
    rerun_until(page, lambda app: any(button.key == "ladder_start" for button in app.button))
    page.slider(key="ladder_budget_minutes").set_value(1).run()
    plan = next(caption.value for caption in page.caption if " sizes from " in caption.value)
    planned = int(plan.split(":material/timer: ")[1].split(" sizes")[0])
    assert 2 <= planned <= 8
    table = page.dataframe[-1].value
    assert len(table) == planned and list(table["size"])[0] == "L1 H8 A1 F16"

    page.button(key="ladder_start").click().run()
    assert not page.exception
    rerun_until(
        page, lambda app: any("Your last ladder" in block.value for block in app.markdown), timeout=400
    )
    assert not page.exception and not page.error
    chart = next(json.loads(chart.proto.spec) for chart in page.get("plotly_chart")
                 if "against size" in json.loads(chart.proto.spec)["layout"]["title"]["text"])  # fmt: skip
    points = next(trace for trace in chart["data"] if trace["name"] == "fp32 model")
    assert len(points["x"]) == planned and chart["layout"]["xaxis"]["type"] == "log"
    assert all(len(point) == 1 for point in points["customdata"])  # each opens its run
    sizes = next(frame.value for frame in page.dataframe if "int8 file (predicted)" in frame.value.columns)
    assert len(sizes) == planned and "★" in set(sizes["front"])
    assert any("smallest size within one point" in block.value for block in page.success)
    # Every size is a run of the visitor's: the results can pick it, and download its int8 model.
    picker = next(box for box in page.selectbox if box.label == "Run")
    assert sum("ladder size" in option for option in picker.options) == planned  # the labels as shown
    assert any(button.label == "int8 model (zip)" for button in page.get("download_button"))
    # Against the saved files' bytes, the int8 files are points of their own.
    page.radio(key="ladder_axis").set_value("model_bytes").run()
    chart = next(json.loads(chart.proto.spec) for chart in page.get("plotly_chart")
                 if "against size" in json.loads(chart.proto.spec)["layout"]["title"]["text"])  # fmt: skip
    assert any(
        trace["name"] == "int8 (TensorFlow Lite)" and len(trace["x"]) == planned for trace in chart["data"]
    )
