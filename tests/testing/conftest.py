from __future__ import annotations

from collections.abc import Iterator

import pytest
import urllib3


@pytest.fixture
def pool() -> Iterator[urllib3.PoolManager]:
    """A plain urllib3 pool: no retries, so every fault reaches the test as it happened."""
    with urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=5)) as pool:
        yield pool
