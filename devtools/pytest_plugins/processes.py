"""Real processes for the tests that need them: the Celery workers of both queues, the web server
and the messaging sandbox, started from the same definition as `./dev up` (devtools/processes.py),
on the test database."""

from __future__ import annotations

import functools
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from devtools.pytest_plugins import ARTIFACTS, ROOT


def _test_database_url() -> str:
    """DATABASE_URL, pointed at the test database pytest-django created."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


@dataclass(frozen=True)
class Ports:
    web: int
    sandbox_smtp: int
    sandbox_http: int


@functools.cache
def ports() -> Ports:
    """The run's ports, chosen once, so every process agrees whichever starts first: the workers
    send to the sandbox, the sandbox calls statuses back to the web server."""
    return Ports(web=free_port(), sandbox_smtp=free_port(), sandbox_http=free_port())


# Seconds between a sandbox message's statuses (sent, delivered, read) in tests.
SANDBOX_STATUS_DELAY = "0.3"


def sandbox_settings() -> dict[str, object]:
    return {
        "SANDBOX_HOST": "127.0.0.1",
        "SANDBOX_SMTP_PORT": ports().sandbox_smtp,
        "SANDBOX_HTTP_PORT": ports().sandbox_http,
        "SANDBOX_CALLBACK_URL": f"http://127.0.0.1:{ports().web}",
        "SANDBOX_STATUS_DELAY_SECONDS": float(SANDBOX_STATUS_DELAY),
    }


def _process_env(name: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PGAPPNAME"] = name  # shows in pg_stat_activity
    env["MEDIA_ROOT"] = str(ARTIFACTS / "media")  # uploads the web server stores and the worker reads
    env.update({key: str(value) for key, value in sandbox_settings().items()})
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def web_server(django_db_setup, django_db_blocker) -> Iterator[str]:
    """A real web server process on the test database; yields its port as a string."""
    port = str(ports().web)
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


def _listening(port: int) -> Callable[[subprocess.Popen], bool]:
    def check(_proc: subprocess.Popen) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    return check


@pytest.fixture(scope="session")
def sandbox_process(django_db_setup, django_db_blocker) -> Iterator[subprocess.Popen]:
    """The messaging sandbox (SMTP + the providers' HTTP APIs) on the run's ports, writing to the
    test database and calling statuses back to the test web server's port; this process's settings
    point the sandbox providers at it for the session."""
    from django.test import override_settings

    smtp_up = _listening(ports().sandbox_smtp)
    http_up = _listening(ports().sandbox_http)
    proc = _start(
        "sandbox",
        env=_process_env("test-sandbox"),
        ready=lambda p: smtp_up(p) and http_up(p),
        django_db_blocker=django_db_blocker,
    )
    override = override_settings(**sandbox_settings())
    override.enable()
    yield proc
    override.disable()
    with django_db_blocker.unblock():
        _stop(proc)
    proc.log.close()  # type: ignore[attr-defined]
