"""The Portuguese catalog is complete: every message has a translation, none is a fuzzy guess."""

from pathlib import Path

import polib
from django.conf import settings
from django.utils import translation

CATALOG = Path(settings.BASE_DIR) / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"


def test_every_message_is_translated_to_portuguese():
    catalog = polib.pofile(str(CATALOG))

    assert [entry.msgid for entry in catalog.untranslated_entries()] == []
    assert [entry.msgid for entry in catalog.fuzzy_entries()] == []


def test_the_compiled_catalog_is_the_one_in_use():
    catalog = polib.pofile(str(CATALOG))
    with translation.override("pt-br"):
        for entry in catalog.translated_entries()[:50]:
            if not entry.msgid_plural and not entry.msgctxt:
                assert translation.gettext(entry.msgid) == entry.msgstr, entry.msgid
