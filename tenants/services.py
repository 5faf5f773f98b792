"""State changes for UDNs, users and sign-in hand-offs."""

from __future__ import annotations

import hashlib
import json
import secrets
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_tenants.utils import get_public_schema_name, schema_exists

from tenants.models import UDN, Domain, Membership, User, slug_validator
from tenants.schemas import current_schema, use_public_schema
from tenants.throttle import Limit, throttle_hit, throttle_reset, throttle_wait_seconds
from tenants.urlhelpers import local_path

TICK_TASK = "tenants.udn_tick"
HANDOFF_SALT = "tenants.handoff"


class ProvisioningError(Exception):
    """A UDN cannot be provisioned as asked; the message says why, for a person."""


def schema_name_for(slug: str) -> str:
    return slug.replace("-", "_")


def udn_template_ensure(*, verbosity: int = 0) -> None:
    """Create (or bring up to date) the migrated, empty schema new UDNs are cloned from."""
    template = settings.TENANT_BASE_SCHEMA
    if not schema_exists(template):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{template}"')
    call_command("migrate_schemas", schema_name=template, tenant=True, interactive=False, verbosity=verbosity)
    use_public_schema()


def public_tenant_ensure(*, domains: list[str]) -> UDN:
    """The public schema's tenant row and its host names (the shared space)."""
    public, _created = UDN.objects.get_or_create(
        schema_name=get_public_schema_name(),
        defaults={"name": "Espaço compartilhado", "slug": "shared"},
    )
    for index, name in enumerate(domains):
        Domain.objects.get_or_create(domain=name, defaults={"tenant": public, "is_primary": index == 0})
    return public


def _validate_provisioning(*, name: str, slug: str, domain: str, time_zone: str) -> None:
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors.setdefault("name", []).append(_("Give the UDN a name."))
    try:
        slug_validator(slug)
    except ValidationError as exc:
        errors.setdefault("slug", []).extend(exc.messages)
    if time_zone not in zoneinfo.available_timezones():
        errors.setdefault("time_zone", []).append(_("Unknown time zone: %(tz)s.") % {"tz": time_zone})
    if errors:
        raise ValidationError(errors)
    if UDN.objects.filter(slug=slug).exists() or schema_exists(schema_name_for(slug)):
        raise ProvisioningError(_("A UDN with the slug “%(slug)s” already exists.") % {"slug": slug})
    if Domain.objects.filter(domain=domain).exists():
        raise ProvisioningError(_("The domain “%(domain)s” is already in use.") % {"domain": domain})


def udn_provision(
    *, name: str, slug: str, domain: str | None = None, time_zone: str = "America/Sao_Paulo"
) -> UDN:
    """Create a UDN: its schema (cloned from the template), its host name and its beat tick.

    Raises ValidationError for malformed input and ProvisioningError when the
    slug or domain is taken. A failure half-way drops the new schema again.
    """
    slug = slug.strip().lower()
    domain = (domain or f"{slug}.{settings.BASE_DOMAIN}").strip().lower()
    _validate_provisioning(name=name, slug=slug, domain=domain, time_zone=time_zone)

    # django-tenants creates the schema in save() and drops it again if that fails.
    udn = UDN(schema_name=schema_name_for(slug), name=name.strip(), slug=slug, time_zone=time_zone)
    udn.save(verbosity=0)
    try:
        with transaction.atomic():
            Domain.objects.create(domain=domain, tenant=udn, is_primary=True)
            udn_schedules_ensure(udn=udn)
    except Exception:
        udn.delete(force_drop=True)
        raise
    return udn


@dataclass(frozen=True)
class UDNPeriodicTask:
    """A task every UDN runs on a schedule: beat sends it as `<prefix>@<schema>`."""

    prefix: str
    task: str
    description: str
    every_seconds: int | None = None
    crontab: str | None = None  # "minute hour day_of_month month day_of_week", in the UDN's time zone


UDN_PERIODIC_TASKS: dict[str, UDNPeriodicTask] = {}


def udn_periodic_task_register(spec: UDNPeriodicTask) -> None:
    """Apps declare their per-UDN periodic work here (from AppConfig.ready)."""
    UDN_PERIODIC_TASKS[spec.prefix] = spec


udn_periodic_task_register(
    UDNPeriodicTask(
        prefix="udn-tick",
        task=TICK_TASK,
        description="Heartbeat / journey tick",
        every_seconds=settings.UDN_TICK_SECONDS,
    )
)


def _schedule_for(spec: UDNPeriodicTask, udn: UDN) -> dict[str, object]:
    if spec.every_seconds is not None:
        interval, _created = IntervalSchedule.objects.get_or_create(
            every=spec.every_seconds, period=IntervalSchedule.SECONDS
        )
        return {"interval": interval, "crontab": None}
    assert spec.crontab is not None, f"{spec.prefix}: give every_seconds or crontab"
    minute, hour, day_of_month, month, day_of_week = spec.crontab.split()
    crontab, _created = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month,
        day_of_week=day_of_week,
        timezone=zoneinfo.ZoneInfo(udn.time_zone),
    )
    return {"interval": None, "crontab": crontab}


def udn_schedules_ensure(*, udn: UDN) -> list[PeriodicTask]:
    """Create or refresh every registered periodic task of `udn` in django-celery-beat."""
    tasks = []
    for spec in UDN_PERIODIC_TASKS.values():
        task, _created = PeriodicTask.objects.update_or_create(
            name=f"{spec.prefix}@{udn.schema_name}",
            defaults={
                "task": spec.task,
                **_schedule_for(spec, udn),
                # tenant-schemas-celery reads the schema from this header.
                "headers": json.dumps({"_schema_name": udn.schema_name}),
                "description": f"{spec.description} — {udn.name}",
                "enabled": True,
            },
        )
        tasks.append(task)
    return tasks


# What the UDN apps report about a UDN on each tick (e.g. crm: how many affiliates): each a callable
# run inside the UDN's schema, returning figures by name. Tenancy knows no UDN app; they register here.
UDN_FIGURES: list[Callable[[], dict[str, object]]] = []


def udn_figures_register(figures: Callable[[], dict[str, object]]) -> None:
    """Apps add what a tick reports about a UDN (from AppConfig.ready)."""
    if figures not in UDN_FIGURES:
        UDN_FIGURES.append(figures)


def udn_heartbeat_record() -> dict[str, object]:
    """Record that a worker ran inside the current UDN's schema; return what it saw there."""
    schema = current_schema()
    UDN.objects.filter(schema_name=schema).update(last_tick_at=timezone.now())
    seen: dict[str, object] = {"schema": schema}
    for figures in UDN_FIGURES:
        seen.update(figures())
    return seen


def udn_tick_request() -> None:
    """Ask a worker for a tick of the current UDN now (queued once this transaction commits)."""
    from tenants.tasks import udn_tick

    transaction.on_commit(udn_tick.delay)


def user_create(
    *,
    email: str,
    password: str | None,
    first_name: str = "",
    last_name: str = "",
    is_coordinator: bool = False,
) -> User:
    return get_user_model().objects.create_user(
        email=email,
        password=password,
        first_name=first_name,
        last_name=last_name,
        is_coordinator=is_coordinator,
    )


def membership_grant(*, user: User, udn: UDN, role: str) -> Membership:
    membership, _created = Membership.objects.update_or_create(user=user, udn=udn, defaults={"role": role})
    return membership


@dataclass(frozen=True)
class Handoff:
    user: User
    next_path: str


def handoff_binding_new() -> tuple[str, str]:
    """A fresh browser secret for a hand-off and its binding: (secret, SHA-256 of it in hex).
    The target host keeps the secret in a cookie; the token carries only the hash."""
    secret = secrets.token_urlsafe(32)
    return secret, hashlib.sha256(secret.encode()).hexdigest()


def handoff_token_create(*, user: User, target: UDN, binding: str, next_path: str = "/") -> str:
    """A signed token that signs `user` in on `target`'s host, valid HANDOFF_MAX_AGE seconds, once,
    and only in the browser holding the secret whose hash is `binding` (see tenants.views.switch)."""
    payload = {
        "u": user.pk,
        "s": target.schema_name,
        "h": user.get_session_auth_hash(),
        "b": binding,
        "n": secrets.token_urlsafe(12),
        "next": local_path(next_path),
    }
    return signing.dumps(payload, salt=HANDOFF_SALT, compress=True)


def handoff_token_redeem(*, token: str, browser_secret: str) -> Handoff:
    """Check a hand-off token for the current schema and for this browser (`browser_secret`, from
    the cookie the target host set); raises PermissionError if it is not good."""
    try:
        payload = signing.loads(token, salt=HANDOFF_SALT, max_age=settings.HANDOFF_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise PermissionError(_("This sign-in link has expired. Sign in again.")) from exc
    except signing.BadSignature as exc:
        raise PermissionError(_("This sign-in link is not valid.")) from exc
    if payload.get("s") != current_schema():
        raise PermissionError(_("This sign-in link is for another space."))
    # Login CSRF: a link someone else asked for (for their own account) must not sign this
    # browser in; only the browser that started the hand-off holds the secret.
    secret_hash = hashlib.sha256(browser_secret.encode()).hexdigest()
    if not browser_secret or not secrets.compare_digest(secret_hash, str(payload.get("b", ""))):
        raise PermissionError(_("This sign-in link was started in another browser. Sign in here."))
    # Single use: the nonce is remembered a little longer than the token lives.
    if not cache.add(f"handoff:{payload['n']}", 1, timeout=settings.HANDOFF_MAX_AGE * 2):
        raise PermissionError(_("This sign-in link was already used."))
    user = get_user_model().objects.filter(pk=payload["u"], is_active=True).first()
    if user is None or not secrets.compare_digest(user.get_session_auth_hash(), payload["h"]):
        raise PermissionError(_("This sign-in link is not valid."))
    return Handoff(user=user, next_path=payload["next"])


# --- sign-in and password-reset throttling ---------------------------------------------------------


def _login_limits() -> tuple[Limit, Limit]:
    window = settings.LOGIN_FAILURE_WINDOW
    return (
        Limit("login-account", settings.LOGIN_FAILURES_PER_ACCOUNT, window),
        Limit("login-address", settings.LOGIN_FAILURES_PER_ADDRESS, window),
    )


def _account_identity(email: str) -> str:
    return email.strip().lower()


def login_wait_seconds(*, email: str, address: str) -> int:
    """Seconds before `email` may try to sign in from `address` again (0: now). Failures count
    per account (a slow guess from many addresses) and per address (one address trying many
    accounts); either limit blocks, whatever password comes next."""
    per_account, per_address = _login_limits()
    wait = throttle_wait_seconds(limit=per_account, identity=_account_identity(email))
    if address:
        wait = max(wait, throttle_wait_seconds(limit=per_address, identity=address))
    return wait


def login_attempt_record(*, email: str, address: str, succeeded: bool) -> None:
    """Count a failed sign-in against the account and the address; a success clears the
    account's failures (not the address's: one good account must not launder guesses at others)."""
    per_account, per_address = _login_limits()
    if succeeded:
        throttle_reset(limit=per_account, identity=_account_identity(email))
        return
    throttle_hit(limit=per_account, identity=_account_identity(email))
    if address:
        throttle_hit(limit=per_address, identity=address)


class PasswordResetThrottled(Exception):
    """Too many reset requests from this address; the message says so, for a person."""


def password_reset_request_check(*, email: str, address: str) -> bool:
    """Count a password-reset request; True when its mail may go out.

    Raises PasswordResetThrottled when the address asked too often (that says nothing about any
    account). Past the per-e-mail limit it returns False and the caller answers exactly as if a
    mail went out, so the answer never tells whether the account exists."""
    hour = 60 * 60
    per_address = Limit("reset-address", settings.PASSWORD_RESETS_PER_ADDRESS, hour)
    per_email = Limit("reset-email", settings.PASSWORD_RESETS_PER_EMAIL, hour)
    if address:
        if throttle_wait_seconds(limit=per_address, identity=address):
            raise PasswordResetThrottled(_("Too many password-reset requests. Wait an hour and try again."))
        throttle_hit(limit=per_address, identity=address)
    return throttle_hit(limit=per_email, identity=_account_identity(email)) <= per_email.count
