"""Settings read from the environment: each documented variable changes what it says it changes."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings


def settings_value(expression: str, **environ: str) -> str:
    """`expression` evaluated against crm.settings freshly imported in a process with `environ`."""
    env = {**os.environ, **environ}
    code = f"import crm.settings as s; print({expression})"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_database_health_checks_are_on_by_default_and_can_be_switched_off():
    expression = "s.DATABASES['default']['CONN_HEALTH_CHECKS']"

    assert settings_value(expression, DB_CONN_HEALTH_CHECKS="") == "True"
    assert settings_value(expression, DB_CONN_HEALTH_CHECKS="0") == "False"
    assert settings_value(expression, DB_CONN_HEALTH_CHECKS="1") == "True"
