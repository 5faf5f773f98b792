"""UDNs (tenants), their host names, users and memberships. All in the public schema."""

from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin

TIME_ZONE_CHOICES = [
    (name, name) for name in sorted(zoneinfo.available_timezones()) if name.startswith(("America/", "UTC"))
]

slug_validator = RegexValidator(
    r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$",
    _("Use 3 to 32 lowercase letters, digits or hyphens, starting with a letter."),
)


class UDN(TenantMixin):
    """A business unit (Unidade de Negócio): one PostgreSQL schema of its own."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=32, unique=True, validators=[slug_validator])
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="America/Sao_Paulo", choices=TIME_ZONE_CHOICES
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Set by the per-UDN beat tick; the UI and /healthz show its age.
    last_tick_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        verbose_name = _("UDN")
        verbose_name_plural = _("UDNs")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        return self.schema_name == "public"


class Domain(DomainMixin):
    class Meta:
        verbose_name = _("domain")
        verbose_name_plural = _("domains")

    def __str__(self) -> str:
        return self.domain


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str | None) -> User:
        # E-mail addresses are stored lower-case (and unique regardless of case): whatever case
        # a person types at sign-in finds their account.
        return self.get(email__iexact=(username or "").strip())

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create(email, password, **extra)


class User(AbstractUser):
    """A person who signs in. Lives once, in the public schema; reaches UDNs through memberships."""

    username = None  # type: ignore[assignment]
    email = models.EmailField(_("e-mail"), unique=True)
    is_coordinator = models.BooleanField(
        _("coordinator"),
        default=False,
        help_text=_("May use the shared space: calendar, joint campaigns, War Room."),
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []  # type: ignore[misc]  # e-mail and password only

    objects = UserManager()  # type: ignore[assignment,misc]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["email"]
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]

    def __str__(self) -> str:
        return self.get_full_name() or self.email


class Role(models.TextChoices):
    MARKETER = "marketer", _("Marketer")
    ANALYST = "analyst", _("Analyst (read-only)")


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    udn = models.ForeignKey(UDN, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MARKETER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "udn"], name="membership_user_udn_unique")]
        ordering = ["udn__name"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.udn} ({self.get_role_display()})"

    @property
    def can_write(self) -> bool:
        return self.role == Role.MARKETER
