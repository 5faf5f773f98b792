"""The project's pytest plugins, one per concern; the root conftest.py lists them in `pytest_plugins`.

- database: the test database with the two reused UDNs (alpha, beta), `udn_a`/`udn_b`, `committed`
- people: the personas (marketer, analyst, coordinator, outsider), `client_for`, sign-in throttles
- processes: the real Celery workers and web server, started as `./dev up` starts them
- mail: a real SMTP server (`smtp_server`)
- browser: Debian's chromium through Playwright (`browser`, `page`), screenshots on failure

Tests use these as fixtures; shared helpers live beside the tests (tenants/tests/factories.py,
crm/tests/factories.py, crm/tests/helpers.py). The product never imports devtools.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
