"""./dev's commands: `test` installs the browser it needs, `bench` runs on a database of its own."""

from __future__ import annotations

import argparse
import os
import subprocess

import pytest

from devtools import cli, services


def database_exists(url: str) -> bool:
    name = url.rsplit("/", 1)[1]
    with services._maintenance_connection(url) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


class Machine:
    """A machine without chromium, as far as ./dev test can tell: `which` finds only `present`, and
    each command ./dev would run is recorded instead of run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, present: set[str], euid: int) -> None:
        self.present = present
        self.commands: list[list[str]] = []
        self.pytest_ran = False
        monkeypatch.setattr(cli.shutil, "which", lambda name: f"/usr/bin/{name}" if name in present else None)
        monkeypatch.setattr(cli.os, "geteuid", lambda: euid)
        monkeypatch.setattr(cli.subprocess, "call", self.call)
        monkeypatch.setattr(cli, "service_env", lambda **kwargs: dict(os.environ))

    def call(self, argv: list[str], **kwargs: object) -> int:
        if argv[:3] == [cli.PYTHON, "-m", "pytest"]:
            self.pytest_ran = True
            return 0
        self.commands.append(list(argv))
        if "install" in argv:
            self.present.add("chromium")  # what apt-get install would have done
        return 0


def test_dev_test_installs_chromium_as_root_when_it_is_missing(monkeypatch):
    machine = Machine(monkeypatch, present={"apt-get"}, euid=0)

    assert cli.cmd_test(argparse.Namespace(pytest_args=["-k", "browser"])) == 0

    assert machine.commands == [
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "chromium", "fonts-liberation"],
    ]
    assert machine.pytest_ran


def test_dev_test_installs_chromium_through_sudo_when_not_root(monkeypatch):
    machine = Machine(monkeypatch, present={"apt-get", "sudo"}, euid=1000)

    assert cli.cmd_test(argparse.Namespace(pytest_args=["-k", "browser"])) == 0

    assert machine.commands == [
        ["sudo", "apt-get", "update"],
        ["sudo", "apt-get", "install", "-y", "--no-install-recommends", "chromium", "fonts-liberation"],
    ]


def test_dev_test_says_what_to_run_and_stops_when_it_cannot_install_chromium(monkeypatch, capsys):
    machine = Machine(monkeypatch, present={"apt-get"}, euid=1000)

    assert cli.cmd_test(argparse.Namespace(pytest_args=[])) == 1

    assert machine.commands == []
    assert not machine.pytest_ran
    assert "apt-get install -y --no-install-recommends chromium fonts-liberation" in capsys.readouterr().err


def test_dev_test_leaves_apt_alone_when_chromium_is_there(monkeypatch):
    machine = Machine(monkeypatch, present={"apt-get", "sudo", "chromium"}, euid=0)

    assert cli.cmd_test(argparse.Namespace(pytest_args=["-k", "browser"])) == 0

    assert machine.commands == []
    assert machine.pytest_ran


def test_each_bench_run_has_a_database_of_its_own_dropped_when_it_fails(monkeypatch):
    real_call = subprocess.call
    seen: list[tuple[str, bool]] = []

    def watching_call(argv, **kwargs):
        url = kwargs["env"]["DATABASE_URL"]
        seen.append((url, database_exists(url)))
        return real_call(argv, **kwargs)

    monkeypatch.setattr(cli.subprocess, "call", watching_call)

    # An unknown benchmark: the run fails (exit 2) after the database was made for it.
    assert cli.cmd_bench(argparse.Namespace(names=["no-such-benchmark"])) == 2

    [(url, existed)] = seen
    assert url.endswith(f"_bench_{os.getpid()}")
    assert existed
    assert not database_exists(url)


def test_a_bench_run_stopped_midway_drops_its_database(monkeypatch):
    seen: list[str] = []

    def interrupted(argv, **kwargs):
        seen.append(kwargs["env"]["DATABASE_URL"])
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.subprocess, "call", interrupted)

    with pytest.raises(KeyboardInterrupt):
        cli.cmd_bench(argparse.Namespace(names=[]))

    [url] = seen
    assert not database_exists(url)
