"""Project-wide test fixtures: two reused UDNs (real schemas), personas, clients,
and real processes (Celery worker, web server) for the tests that need them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection, connections
from django.test import Client

from tenants.models import UDN, Role, User

ROOT = Path(__file__).resolve().parent
ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "s3nha-de-teste-2026"


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
    with django_db_blocker.unblock():
        db_cfg = setup_databases(
            verbosity=request.config.option.verbose, interactive=False, aliases={"default"}, keepdb=keepdb
        )
        public_tenant_ensure(domains=["localhost", "testserver", "127.0.0.1"])
        udn_template_ensure()
        for name, slug in (("UDN Alpha", "alpha"), ("UDN Beta", "beta")):
            if not udn_list().filter(slug=slug).exists():
                udn_provision(name=name, slug=slug)
        connection.set_schema_to_public()
    yield
    if not keepdb:
        with django_db_blocker.unblock():
            connections.close_all()
            teardown_databases(db_cfg, verbosity=request.config.option.verbose)


@pytest.fixture(autouse=True)
def _back_to_public() -> Iterator[None]:
    from tenants.middleware import tenant_cache_clear

    yield
    connection.set_schema_to_public()
    tenant_cache_clear()  # UDNs a test created (and rolled back) must not outlive it


@pytest.fixture(autouse=True)
def _fresh_sign_in_throttles() -> Iterator[None]:
    """Sign-in and reset throttles live in Redis, outside the test transaction, and all test
    clients share one address: start each test with none counted."""
    from django.core.cache import caches

    caches["global"].delete_pattern("throttle:*")
    yield


@pytest.fixture
def udn_a(db) -> UDN:
    return UDN.objects.get(slug="alpha")


@pytest.fixture
def udn_b(db) -> UDN:
    return UDN.objects.get(slug="beta")


def make_user(email: str, *, udn: UDN | None = None, role: str = Role.MARKETER, **extra) -> User:
    from tenants.services import membership_grant, user_create

    user = user_create(email=email, password=PASSWORD, **extra)
    if udn is not None:
        membership_grant(user=user, udn=udn, role=role)
    return user


@pytest.fixture
def marketer(udn_a) -> User:
    """A marketer of UDN A."""
    return make_user("marina.marketing@alpha.test", udn=udn_a, first_name="Marina")


@pytest.fixture
def analyst(udn_a) -> User:
    """A read-only analyst of UDN A."""
    return make_user("andre.analista@alpha.test", udn=udn_a, role=Role.ANALYST, first_name="André")


@pytest.fixture
def coordinator(db) -> User:
    return make_user("carla.coord@shared.test", is_coordinator=True, first_name="Carla")


@pytest.fixture
def outsider(udn_b) -> User:
    """A member of UDN B only."""
    return make_user("otto.fora@beta.test", udn=udn_b, first_name="Otto")


def host_of(udn: UDN) -> str:
    return udn.get_primary_domain().domain  # type: ignore[union-attr]


@pytest.fixture
def client_for() -> Callable[..., Client]:
    """A test client on `udn`'s host (or the shared space's), signed in as `user` if given."""

    def make(udn: UDN | None = None, user: User | None = None) -> Client:
        client = Client(HTTP_HOST=host_of(udn) if udn is not None else "localhost")
        if user is not None:
            client.force_login(user)
        return client

    return make


# --- real processes -------------------------------------------------------------------------------


def _test_database_url() -> str:
    """DATABASE_URL, pointed at the test database pytest-django created."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def _process_env(name: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PGAPPNAME"] = name  # shows in pg_stat_activity
    env["MEDIA_ROOT"] = str(ARTIFACTS / "media")  # uploads the web server stores and the worker reads
    env.update(
        {"DATABASE_URL": _test_database_url(), "DJANGO_TEST": "1", "DEBUG": "0", "PYTHONUNBUFFERED": "1"}
    )
    return env


def _stop(proc: subprocess.Popen) -> None:
    """Stop a helper process and wait until its database sessions are gone, so the
    test database can be dropped at the end of the run."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                break
            time.sleep(0.1)


def _start(name: str, *, env: dict[str, str], ready: Callable[[subprocess.Popen], bool], django_db_blocker):
    """Start process `name` exactly as `./dev up` does (devtools/processes.py), logging to
    test-artifacts/<name>.log; wait until `ready`."""
    from devtools.processes import argv

    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(argv(name, env=env), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log = log  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while not ready(proc):
        if proc.poll() is not None or time.monotonic() > deadline:
            with django_db_blocker.unblock():
                _stop(proc)
            raise RuntimeError(f"{name} did not start; see {ARTIFACTS / (name + '.log')}")
        time.sleep(0.2)
    return proc


@pytest.fixture(scope="session")
def celery_workers(django_db_setup, django_db_blocker) -> Iterator[dict[str, subprocess.Popen]]:
    """The real Celery workers of both queues (prefork pools, the argv of `./dev up`) on the test
    database and the test Redis, by process name (`worker`, `worker-long`)."""
    from crm.celery import app
    from crm.queues import DEFAULT_QUEUE, LONG_QUEUE

    def answering(queue: str) -> Callable[[subprocess.Popen], bool]:
        return lambda _proc: any(
            f"{queue}@" in name for reply in app.control.ping(timeout=0.5) for name in reply
        )

    workers = {
        name: _start(
            name,
            env=_process_env(f"test-{name}"),
            ready=answering(queue),
            django_db_blocker=django_db_blocker,
        )
        for name, queue in (("worker", DEFAULT_QUEUE), ("worker-long", LONG_QUEUE))
    }
    yield workers
    for proc in workers.values():
        proc.terminate()  # all at once: _stop then waits for every database session to end
    with django_db_blocker.unblock():
        for proc in workers.values():
            _stop(proc)
            proc.log.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def celery_worker_process(celery_workers) -> subprocess.Popen:
    """The workers are running; this is the default queue's."""
    return celery_workers["worker"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def web_server(django_db_setup, django_db_blocker) -> Iterator[str]:
    """A real web server process on the test database; yields its port as a string."""
    port = str(_free_port())
    env = {**_process_env("test-web"), "HOST": "127.0.0.1", "PORT": port}

    def listening(_proc: subprocess.Popen) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", int(port)), timeout=0.5):
                return True
        except OSError:
            return False

    proc = _start("web", env=env, ready=listening, django_db_blocker=django_db_blocker)
    yield port
    with django_db_blocker.unblock():
        _stop(proc)
    proc.log.close()  # type: ignore[attr-defined]


@pytest.fixture
def committed(django_db_blocker) -> Iterator[list[Callable[[], None]]]:
    """For tests whose data another process must see: writes commit at once;
    append a cleanup callable for each thing created, run at teardown."""
    cleanups: list[Callable[[], None]] = []
    with django_db_blocker.unblock():
        yield cleanups
        connection.set_schema_to_public()
        for cleanup in reversed(cleanups):
            cleanup()
        connection.set_schema_to_public()
        # Code running beside Playwright's event loop gets a connection of its own
        # context; close it here, or it outlives the run and blocks dropping the test DB.
        connections.close_all()


@pytest.fixture
def smtp_server(settings) -> Iterator[list]:
    """A real SMTP server (aiosmtpd) on loopback; Django sends to it. Yields received messages."""
    from email import message_from_bytes

    from aiosmtpd.controller import Controller

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            received.append(message_from_bytes(envelope.content))
            return "250 Message accepted for delivery"

    controller = Controller(Handler(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield received
    controller.stop()


# --- the browser -----------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def browser(django_db_setup):
    """Chromium, started after the test database exists: Playwright's event loop gives code after it
    a context of its own, where Django would otherwise still see the non-test database name."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    # Playwright's sync API runs an event loop in this thread; our ORM calls here are plain sync code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(locale="pt-BR", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures (the browser's screenshot) see failures."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
