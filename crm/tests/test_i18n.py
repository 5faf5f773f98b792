"""The Portuguese catalog is complete: every message has a translation, none is a fuzzy guess."""

import shutil
from pathlib import Path

import polib
from django.conf import settings
from django.core.management import call_command
from django.utils import translation

CATALOG = Path(settings.BASE_DIR) / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"


def test_every_message_is_translated_to_portuguese():
    # A message defined twice makes msgfmt refuse the catalog (and the second translation is lost).
    catalog = polib.pofile(str(CATALOG), check_for_duplicates=True)

    assert [entry.msgid for entry in catalog.untranslated_entries()] == []
    assert [entry.msgid for entry in catalog.fuzzy_entries()] == []


def test_the_compiled_catalog_is_the_one_in_use():
    catalog = polib.pofile(str(CATALOG))
    with translation.override("pt-br"):
        for entry in catalog.translated_entries()[:50]:
            if not entry.msgid_plural and not entry.msgctxt:
                assert translation.gettext(entry.msgid) == entry.msgstr, entry.msgid


def test_the_admin_speaks_portuguese_under_the_products_name(client_for, db):
    from tenants.tests.factories import make_user

    root = make_user("raiz@admin.test")
    root.is_staff = root.is_superuser = True
    root.save()
    client = client_for(None, root)

    index = client.get("/admin/").content.decode()
    tasks = client.get("/admin/django_celery_beat/periodictask/").content.decode()
    udns = client.get("/admin/tenants/udn/").content.decode()

    assert "<title>Administração | UDN CRM — administração</title>" in index
    assert "UDN CRM — administração" in index and "Django" not in index
    assert "Tarefas periódicas" in index and "Periodic Tasks" not in index
    assert "Ativar as tarefas selecionadas" in tasks and "Última execução" in tasks
    assert "Schema name" not in udns and ">Schema<" in udns


def test_api_key_scopes_and_webhook_events_are_offered_in_portuguese_with_the_identifiers_as_values(
    udn_a, marketer, client_for
):
    client = client_for(udn_a, marketer)

    keys = client.get("/api-keys/").content.decode()
    hooks = client.get("/webhooks/").content.decode()

    assert 'value="affiliates:read"' in keys and "Ler afiliados" in keys
    assert 'value="webhooks:manage"' in keys and "Gerenciar webhooks" in keys
    assert 'value="affiliate.stage_changed"' in hooks and "Afiliado mudou de estágio" in hooks


def test_every_string_marked_for_translation_is_in_the_portuguese_catalog(tmp_path, settings, monkeypatch):
    """makemessages over the code and templates (into a copy of the locale directory: the real
    catalog is never rewritten) finds no message the catalog lacks or has only as a fuzzy guess."""
    root = Path(settings.BASE_DIR)
    ignored = {".venv", "var", "test-artifacts", "static", "locale"}
    for entry in root.iterdir():
        if entry.name not in ignored and not entry.name.startswith("."):
            (tmp_path / entry.name).symlink_to(entry)
    shutil.copytree(root / "locale", tmp_path / "locale")
    monkeypatch.chdir(tmp_path)
    settings.LOCALE_PATHS = [tmp_path / "locale"]

    call_command(
        "makemessages",
        locale=["pt_BR"],
        extensions=["html", "txt", "py"],
        ignore_patterns=[".venv", "var", "test-artifacts", "static"],
        symlinks=True,
        verbosity=0,
    )

    extracted = polib.pofile(str(tmp_path / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"))
    catalog = polib.pofile(str(CATALOG))
    translated = {
        (entry.msgctxt, entry.msgid) for entry in catalog if entry.translated() and not entry.obsolete
    }
    found = [(entry.msgctxt, entry.msgid) for entry in extracted if not entry.obsolete]
    assert len(found) > 300  # the extraction did run over the code and the templates
    assert [key for key in found if key not in translated] == []
