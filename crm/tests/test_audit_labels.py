"""Every audit action recorded anywhere (the CRM's and the apps built on it) reads in pt-BR on
the audit page: the actions are collected from the sources (every `audit_record(action=...)` of
the product's apps), and each must have a label, the CRM's own (AuditAction) or one an app
registered in crm.audit_labels from its AppConfig.ready(). The apps are read as files and their
modules loaded by name, so the CRM's code still imports none of them."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from crm.audit_labels import audit_action_labels, audit_labels_register, audit_target_labels
from crm.models import AuditAction

APPS = ("crm", "tenants", "campaigns", "loyalty", "warroom", "insights")


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(settings.BASE_DIR).with_suffix("").parts)


def _codes(node: ast.expr, path: Path) -> list[str]:
    """The code(s) an `action=` / `target_type=` argument can take, resolved from the source."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _codes(node.body, path) + _codes(node.orelse, path)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        owner = getattr(importlib.import_module(_module_name(path)), node.value.id)
        return [str(getattr(owner, node.attr))]
    if isinstance(node, ast.Name):
        return [str(getattr(importlib.import_module(_module_name(path)), node.id))]
    raise AssertionError(f"{path}:{node.lineno}: an audit code this test cannot read: {ast.unparse(node)}")


def recorded(argument: str) -> dict[str, str]:
    """{code: where} of every `audit_record(<argument>=...)` in the product's code (not tests)."""
    found: dict[str, str] = {}
    for app in APPS:
        for path in sorted(Path(settings.BASE_DIR, app).rglob("*.py")):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if not isinstance(node, ast.Call):
                    continue
                name = (
                    node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                )
                if name != "audit_record":
                    continue
                for keyword in node.keywords:
                    if keyword.arg == argument:
                        for code in _codes(keyword.value, path):
                            found.setdefault(code, f"{path.relative_to(settings.BASE_DIR)}:{node.lineno}")
    return found


def test_every_action_recorded_anywhere_has_a_portuguese_label():
    actions = recorded("action")
    # The scan reads the apps' writes, not only the CRM's (so it cannot pass by finding nothing).
    assert {"affiliate.created", "message_template.created", "loyalty.adjusted", "loyalty.published"} <= set(
        actions
    )
    assert {"loyalty.reward_deleted", "loyalty.mission_deactivated", "loyalty.budget_changed"} <= set(actions)
    labels = audit_action_labels()
    missing = {code: where for code, where in actions.items() if code not in labels}
    assert missing == {}, f"audit actions without a label (register them in crm.audit_labels): {missing}"

    targets = recorded("target_type")
    target_labels = audit_target_labels()
    missing = {code: where for code, where in targets.items() if code and code not in target_labels}
    assert missing == {}, f"audit targets without a label: {missing}"

    with translation.override("en"):
        english = {code: str(label) for code, label in labels.items()}
    with translation.override("pt-br"):
        untranslated = [code for code, label in labels.items() if str(label) == english[code]]
    assert untranslated == [], untranslated


def test_an_app_cannot_relabel_the_crms_own_codes():
    with pytest.raises(ValueError, match="affiliate.created"):
        audit_labels_register(actions={AuditAction.AFFILIATE_CREATED.value: "x"})
    assert audit_action_labels()[AuditAction.AFFILIATE_CREATED] == AuditAction.AFFILIATE_CREATED.label
