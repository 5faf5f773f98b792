"""Project-wide test fixtures, as pytest plugins by concern (devtools/pytest_plugins/): the test
database and its two reused UDNs, the personas and their clients, the real worker and web
processes, a real SMTP server, and the browser. Helpers tests import live beside them
(tenants/tests/factories.py, crm/tests/factories.py, crm/tests/helpers.py), never here."""

pytest_plugins = [
    "devtools.pytest_plugins.database",
    "devtools.pytest_plugins.people",
    "devtools.pytest_plugins.processes",
    "devtools.pytest_plugins.mail",
    "devtools.pytest_plugins.browser",
]
