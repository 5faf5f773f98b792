"""The one definition of each long-running process: `./dev up` runs them through the Procfile
(`python -m devtools.processes NAME`) and the tests start the same argv (conftest.py), so a test
never passes on a friendlier variant than users run (a `--pool=solo` worker once hid a deadlock of
the prefork pool).

Two workers, by queue: `worker` takes the short, frequent work (the UDN ticks, webhook and message
sending) and `worker-long` the work that may take minutes (imports, lake exports, quality
snapshots), so one UDN's big import never delays another UDN's ticks.

    python -m devtools.processes worker        # exec the worker, as the Procfile does
"""

from __future__ import annotations

import os
import sys

from crm.queues import DEFAULT_QUEUE, LONG_QUEUE


def _celery(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "crm", *args]


def argv(name: str, *, env: dict[str, str] | os._Environ[str] = os.environ) -> list[str]:
    """The command line of process `name` (web, worker, worker-long, beat, sandbox)."""
    if name == "web":
        host, port = env.get("HOST", "127.0.0.1"), env.get("PORT", "8000")
        reload = [] if env.get("WEB_AUTORELOAD", "0") == "1" else ["--noreload"]
        return [sys.executable, "manage.py", "runserver", f"{host}:{port}", *reload]
    if name == "worker":
        # prefork (Celery's default pool), as production runs it.
        return _celery(
            "worker", "--loglevel=INFO", "--concurrency=2", "-Q", DEFAULT_QUEUE, "-n", f"{DEFAULT_QUEUE}@%h"
        )
    if name == "worker-long":
        return _celery(
            "worker", "--loglevel=INFO", "--concurrency=1", "-Q", LONG_QUEUE, "-n", f"{LONG_QUEUE}@%h"
        )
    if name == "beat":
        return _celery(
            "beat",
            "--loglevel=INFO",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
            "--pidfile=",
        )
    if name == "sandbox":
        # The local messaging sandbox (campaigns/sandbox): SMTP and the providers' HTTP APIs.
        return [sys.executable, "-m", "campaigns.sandbox"]
    raise KeyError(f"unknown process {name!r}; known: {', '.join(NAMES)}")


NAMES = ("web", "worker", "worker-long", "beat", "sandbox")


def main() -> None:
    if len(sys.argv) != 2 or sys.argv[1] not in NAMES:
        sys.exit(f"usage: python -m devtools.processes {{{'|'.join(NAMES)}}}")
    command = argv(sys.argv[1])
    # exec: the process keeps this pid, so honcho's and the tests' signals reach it directly.
    os.execv(command[0], command)  # noqa: S606 - our own fixed argv


if __name__ == "__main__":
    main()
