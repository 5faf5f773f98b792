"""./dev's commands. Each one starts the embedded services it needs first."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

from devtools import services

ROOT = services.ROOT
PYTHON = sys.executable
TEST_REDIS_DB = 2  # tests share the embedded Redis with `up` but never its databases


def service_env(*, redis_db: int = 0, debug: bool = True) -> dict[str, str]:
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = services.ensure_postgres()
    if not env.get("REDIS_URL"):
        services.ensure_redis()
        env["REDIS_URL"] = services.redis_url(redis_db)
    if debug:
        env.setdefault("DEBUG", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    # Procfile entries and subprocesses find the venv's python, celery, ruff...
    env["PATH"] = os.path.dirname(PYTHON) + os.pathsep + env.get("PATH", "")
    return env


def manage(args: list[str], env: dict[str, str]) -> int:
    return subprocess.call([PYTHON, "manage.py", *args], cwd=ROOT, env=env)


def cmd_up(ns: argparse.Namespace) -> int:
    started_here = not (services.PG_DATA / "postmaster.pid").exists()
    t0 = time.monotonic()
    env = service_env()
    port = env.setdefault("PORT", "8000")
    # The messaging sandbox calls delivery statuses back to the web server (honcho gives each
    # process a PORT of its own, so the sandbox is told the web server's).
    env.setdefault("SANDBOX_CALLBACK_URL", f"http://127.0.0.1:{port}")
    if manage(["bootstrap", "--demo"], env) != 0:
        print("bootstrap failed; see the messages above", file=sys.stderr)
        return 1
    print(
        f"==> ready in {time.monotonic() - t0:.1f}s; starting web (port {port}), workers, beat and the messaging sandbox."
        " Ctrl-C stops all."
    )
    # honcho runs in a session of its own and hears every stop signal from here: Ctrl-C, a SIGTERM
    # from a process manager, or a closed terminal all stop web, worker and beat the same way.
    honcho = subprocess.Popen(
        [os.path.join(os.path.dirname(PYTHON), "honcho"), "start", "-f", "Procfile", "-p", port],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )

    def forward(signum: int, _frame: object) -> None:
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGINT)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        return honcho.wait()
    finally:
        try:
            honcho.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
        if started_here and not os.environ.get("DATABASE_URL"):
            services.stop_redis()
            services.stop_postgres()


# What the browser tests need from Debian: the chromium Playwright drives, and fonts for its pages.
BROWSER_PACKAGES = ("chromium", "fonts-liberation")
BROWSER_INSTALL_HINT = (
    "The browser tests need Debian's chromium. Install it as root, then run ./dev test again:\n"
    f"    apt-get update && apt-get install -y --no-install-recommends {' '.join(BROWSER_PACKAGES)}"
)


def browser_install_commands() -> list[list[str]] | None:
    """The apt-get commands that install the browser tests' packages: as root, or through sudo when
    there is one; None when neither (or no apt-get) can."""
    if shutil.which("apt-get") is None:
        return None
    if os.geteuid() == 0:
        prefix: list[str] = []
    elif shutil.which("sudo") is not None:
        prefix = ["sudo"]
    else:
        return None
    return [
        [*prefix, "apt-get", "update"],
        [*prefix, "apt-get", "install", "-y", "--no-install-recommends", *BROWSER_PACKAGES],
    ]


def browser_ensure() -> bool:
    """Debian's chromium installed for the browser tests, installing it when it is missing.
    False (with the command to run by hand on stderr) when it is missing and cannot be installed."""
    if shutil.which("chromium") is not None:
        return True
    commands = browser_install_commands()
    if commands is None:
        print(BROWSER_INSTALL_HINT, file=sys.stderr)
        return False
    print("==> installing chromium for the browser tests", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in commands:
        print("    " + " ".join(argv), flush=True)
        if subprocess.call(argv, env=env) != 0:
            print(f"`{' '.join(argv)}` failed.\n{BROWSER_INSTALL_HINT}", file=sys.stderr)
            return False
    if shutil.which("chromium") is None:
        print(f"chromium is still missing after apt-get.\n{BROWSER_INSTALL_HINT}", file=sys.stderr)
        return False
    return True


def cmd_test(ns: argparse.Namespace) -> int:
    # The whole suite includes the browser tests: without chromium it cannot pass, so stop before
    # spending minutes on it. A run of chosen tests goes on (the browser tests among them say why).
    if not browser_ensure() and not ns.pytest_args:
        return 1
    env = service_env(redis_db=TEST_REDIS_DB, debug=False)
    env["DJANGO_TEST"] = "1"
    bindir = os.path.dirname(PYTHON)
    steps = [
        ("ruff", [os.path.join(bindir, "ruff"), "check", "."]),
        ("ruff format", [os.path.join(bindir, "ruff"), "format", "--check", "."]),
        (
            "mypy",
            [
                os.path.join(bindir, "mypy"),
                "crm",
                "tenants",
                "campaigns",
                "warroom",
                "loyalty",
                "insights",
                "devtools",
            ],
        ),
        # DESIGN.md's "who may import whom", as the contracts in pyproject.toml write it.
        ("import contracts", [os.path.join(bindir, "lint-imports")]),
    ]
    if not ns.pytest_args:
        for label, argv in steps:
            print(f"==> {label}", flush=True)
            if subprocess.call(argv, cwd=ROOT, env=env) != 0:
                print(f"{label} failed", file=sys.stderr)
                return 1
    print("==> pytest", flush=True)
    return subprocess.call([PYTHON, "-m", "pytest", *ns.pytest_args], cwd=ROOT, env=env)


def cmd_manage(ns: argparse.Namespace) -> int:
    return manage(ns.args, service_env())


def cmd_bench(ns: argparse.Namespace) -> int:
    env = service_env(debug=False)
    # Production's settings, whatever the shell exports: DEBUG or DJANGO_TEST left set for `manage`
    # or mypy would time debug-mode or test settings (unhashed static files, test hashers...).
    env.pop("DEBUG", None)
    env.pop("DJANGO_TEST", None)
    # A database of its own for each run (two runs at once never share one), so figures never depend
    # on what `up` or another run left behind; dropped when the run ends, however it ends.
    bench_url = services.fresh_database(env["DATABASE_URL"], suffix=f"_bench_{os.getpid()}")
    env["DATABASE_URL"] = bench_url
    env.setdefault("SECRET_KEY", "bench-only-not-secret")
    # A fixed Fernet key for the channels' secrets (benchmarks run with DEBUG off, like production).
    env.setdefault("CHANNEL_SECRETS_KEY", "YmVuY2gtb25seS1ub3Qtc2VjcmV0LWZlcm5ldC1rZXk=")
    env.setdefault("SECURE_SSL_REDIRECT", "0")  # benchmarks speak plain HTTP on loopback
    # A SIGTERM (a process manager, a CI timeout) unwinds like Ctrl-C, through the `finally`.
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        return subprocess.call([PYTHON, "-m", "devtools.bench", *ns.names], cwd=ROOT, env=env)
    finally:
        signal.signal(signal.SIGTERM, previous)
        services.drop_database(bench_url)


def _raise_keyboard_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def cmd_down(ns: argparse.Namespace) -> int:
    redis = services.stop_redis()
    pg = services.stop_postgres()
    print(
        f"embedded Redis {'stopped' if redis else 'was not running'}; "
        f"embedded PostgreSQL {'stopped' if pg else 'was not running'}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./dev", description="UDN CRM developer front door")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="migrate, load the demo, run web + worker + beat").set_defaults(func=cmd_up)
    p = sub.add_parser("test", help="lint, type-check and run the whole test suite")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="only run pytest, with these arguments")
    p.set_defaults(func=cmd_test)
    p = sub.add_parser("manage", help="run manage.py against the same services as up")
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_manage)
    p = sub.add_parser("bench", help="run benchmarks (all, or those named); one JSON object a line")
    p.add_argument("names", nargs="*")
    p.set_defaults(func=cmd_bench)
    sub.add_parser("down", help="stop the embedded PostgreSQL and Redis").set_defaults(func=cmd_down)
    ns, unknown = parser.parse_known_args(argv)
    if unknown and ns.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if unknown:  # `./dev test -x -k name`: options before any path go to pytest too
        ns.pytest_args = [*unknown, *ns.pytest_args]
    return ns.func(ns)


if __name__ == "__main__":
    sys.exit(main())
