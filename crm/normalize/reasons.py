"""Why a value (or a row) is refused, the words people read for it, and which reasons make an
import reject a row rather than import it with a warning (see crm.normalize)."""

from __future__ import annotations

from enum import StrEnum

from django.utils.translation import gettext, gettext_noop


class Reason(StrEnum):
    """Why a value (or a row) was rejected. The order here is the order of a row's `_reasons`."""

    ID_MISSING = "id_missing"
    CPF_INVALID = "cpf_invalid"
    NAME_MISSING = "name_missing"
    EMAIL_INVALID = "email_invalid"
    PHONE_NO_DDD = "phone_no_ddd"
    PHONE_INVALID = "phone_invalid"
    PHONE_LANDLINE = "phone_landline"
    PHONE_FOREIGN = "phone_foreign"
    BIRTH_DATE_INVALID = "birth_date_invalid"
    BIRTH_DATE_FUTURE = "birth_date_future"
    STATE_INVALID = "state_invalid"
    AMOUNT_INVALID = "amount_invalid"
    VALUE_TOO_LONG = "value_too_long"


# English msgids; a translator gives them their pt-BR text in locale/. What the users should read:
#   id_missing          "sem código nem CPF"
#   cpf_invalid         "CPF inválido"
#   name_missing        "nome vazio"
#   email_invalid       "e-mail inválido"
#   phone_no_ddd        "telefone sem DDD"
#   phone_invalid       "telefone inválido"
#   phone_landline      "telefone fixo (não é celular)"
#   phone_foreign       "telefone estrangeiro (só celulares do Brasil)"
#   birth_date_invalid  "data de nascimento inválida"
#   birth_date_future   "data de nascimento no futuro ou antes de 1900"
#   state_invalid       "UF inválida"
#   amount_invalid      "valor inválido"
#   value_too_long      "valor longo demais para o campo"
_REASON_MSGIDS: dict[Reason, str] = {
    Reason.ID_MISSING: gettext_noop("no external id and no valid CPF"),
    Reason.CPF_INVALID: gettext_noop("invalid CPF"),
    Reason.NAME_MISSING: gettext_noop("empty name"),
    Reason.EMAIL_INVALID: gettext_noop("invalid e-mail"),
    Reason.PHONE_NO_DDD: gettext_noop("phone without area code (DDD)"),
    Reason.PHONE_INVALID: gettext_noop("invalid phone"),
    Reason.PHONE_LANDLINE: gettext_noop("landline phone (not a mobile)"),
    Reason.PHONE_FOREIGN: gettext_noop("foreign phone (Brazilian mobiles only)"),
    Reason.BIRTH_DATE_INVALID: gettext_noop("invalid birth date"),
    Reason.BIRTH_DATE_FUTURE: gettext_noop("birth date in the future or before 1900"),
    Reason.STATE_INVALID: gettext_noop("invalid state (UF)"),
    Reason.AMOUNT_INVALID: gettext_noop("invalid amount"),
    Reason.VALUE_TOO_LONG: gettext_noop("value too long for the field"),
}


# The reasons an import rejects a row for; any other reason only blanks an optional field (a warning). The CPF is
# identity too: it is how rows without a code, the API and the next files find the affiliate, so a stored blank
# would let the row with the right CPF become a second affiliate. A value longer than its column (no real one is)
# means the row's columns have shifted, and then none of its values can be trusted.
REJECTING_REASONS: frozenset[Reason] = frozenset(
    {Reason.ID_MISSING, Reason.CPF_INVALID, Reason.NAME_MISSING, Reason.VALUE_TOO_LONG}
)


def reason_message(code: Reason | str) -> str:
    """The user-facing (translated) text of a reason code; unknown codes come back as they are."""
    try:
        return gettext(_REASON_MSGIDS[Reason(code)])
    except ValueError:
        return str(code)


class NormalizationError(ValueError):
    """A value that cannot be normalized; `reason` says why."""

    def __init__(self, reason: Reason) -> None:
        self.reason = Reason(reason)
        super().__init__(str(self.reason))
