"""`./dev bench [NAME...]`: run benchmarks (all, or those named). One JSON object a line on stdout,
progress on stderr. Not a management command: the product never imports devtools."""

from __future__ import annotations

import os
import sys


def main(names: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from devtools.benchmarks import REGISTRY, load_all
    from tenants.services import public_tenant_ensure, udn_template_ensure

    load_all()
    names = names or list(REGISTRY)
    unknown = [name for name in names if name not in REGISTRY]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(REGISTRY)}", file=sys.stderr)
        return 2
    print(f"==> preparing {settings.DATABASES['default']['NAME']}", file=sys.stderr)
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    public_tenant_ensure(domains=[settings.BASE_DOMAIN, "127.0.0.1"])
    udn_template_ensure()
    # Production-like: DEBUG off serves hashed static files from collectstatic's manifest.
    call_command("collectstatic", interactive=False, verbosity=0)
    for name in names:
        print(f"==> {name}", file=sys.stderr, flush=True)
        for result in REGISTRY[name]():
            sys.stdout.write(result.as_json() + "\n")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
