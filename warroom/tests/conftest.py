from __future__ import annotations

from collections.abc import Iterator

import pytest


def _forget_udn_entries() -> None:
    from django_redis import get_redis_connection

    redis = get_redis_connection("default")
    for key in redis.scan_iter(match="*warroom:*"):
        redis.delete(key)


@pytest.fixture(autouse=True)
def _no_cached_udn_entries() -> Iterator[None]:
    """UDN entries are cached (warroom/udns.py) in each UDN schema's keys, outside the test
    transaction: start each test without what an earlier one cached, whatever the schema."""
    _forget_udn_entries()
    yield
    _forget_udn_entries()
