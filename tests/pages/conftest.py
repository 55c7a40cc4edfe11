"""Every page test runs with the memory budget a real server would have (see the helper)."""

from __future__ import annotations

import pytest

from tests.helpers import budget_as_on_a_server


@pytest.fixture(autouse=True)
def _budget_as_on_a_server():
    with budget_as_on_a_server():
        yield
