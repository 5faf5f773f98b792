"""The test database: the public tenant, the template schema and two UDNs (alpha, beta), set up
once a session and reused by every test; fixtures for those UDNs and for committed data."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.db import connection, connections

from tenants.models import UDN


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, django_db_keepdb, django_db_createdb,
                    django_db_modify_db_settings):  # fmt: skip
    """The test database, then the public tenant, the template schema and two UDNs, committed once
    and reused by every test.

    Unlike pytest-django's own fixture this always sets up the default database: worker and browser
    tests use no `db` fixture (their data must be committed) but must never reach the real database."""
    from django.test.utils import setup_databases, teardown_databases

    from tenants.selectors import udn_list
    from tenants.services import public_tenant_ensure, udn_provision, udn_template_ensure

    keepdb = django_db_keepdb and not django_db_createdb
    # The test Redis database is the run's own: what an earlier run left there (queued tasks of a
    # dropped database, locks, throttle counters) must not reach this one's workers and pages.
    from django_redis import get_redis_connection

    get_redis_connection("default").flushdb()
    with django_db_blocker.unblock():
        db_cfg = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            aliases={"default"},  # type: ignore[arg-type]
            keepdb=keepdb,
        )
        public_tenant_ensure(domains=["localhost", "testserver", "127.0.0.1"])
        udn_template_ensure()
        for name, slug in (("UDN Alpha", "alpha"), ("UDN Beta", "beta")):
            if not udn_list().filter(slug=slug).exists():
                udn_provision(name=name, slug=slug)
        connection.set_schema_to_public()  # type: ignore[attr-defined]
    yield
    if not keepdb:
        with django_db_blocker.unblock():
            connections.close_all()
            teardown_databases(db_cfg, verbosity=request.config.option.verbose)


@pytest.fixture(autouse=True)
def _back_to_public() -> Iterator[None]:
    from django.conf import settings
    from django.utils import translation

    from tenants.middleware import tenant_cache_clear

    # Each test starts in the product's language: a request in English (Accept-Language: en) leaves
    # English active in this thread, and what the next test reads would depend on the order.
    translation.activate(settings.LANGUAGE_CODE)
    yield
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    tenant_cache_clear()  # UDNs a test created (and rolled back) must not outlive it


@pytest.fixture
def udn_a(db) -> UDN:
    return UDN.objects.get(slug="alpha")


@pytest.fixture
def udn_b(db) -> UDN:
    return UDN.objects.get(slug="beta")


@pytest.fixture
def committed(django_db_blocker) -> Iterator[list[Callable[[], None]]]:
    """For tests whose data another process must see: writes commit at once;
    append a cleanup callable for each thing created, run at teardown."""
    cleanups: list[Callable[[], None]] = []
    with django_db_blocker.unblock():
        yield cleanups
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        for cleanup in reversed(cleanups):
            cleanup()
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        # Code running beside Playwright's event loop gets a connection of its own
        # context; close it here, or it outlives the run and blocks dropping the test DB.
        connections.close_all()
