from __future__ import annotations

import pytest
from sre_helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
