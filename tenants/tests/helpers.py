"""Helpers test modules of several apps share (not a test module: nothing here is collected)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], object], timeout: float = 30.0) -> bool:
    """Poll another process's effect (a real worker's), up to `timeout` seconds: the wall clock,
    since that process does not follow the test's clock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False
