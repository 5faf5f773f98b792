"""Reads over a UDN's CRM data (run inside the UDN's schema)."""

from __future__ import annotations

from crm.models import Affiliate


def affiliate_count() -> int:
    return Affiliate.objects.count()
