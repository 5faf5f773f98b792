"""Ready-made journeys from the seeds (issue 12): templates a UDN copies into a draft of its own
(campaigns.services.journeys.journey_from_preset), with the message templates they use (created
where the UDN has no template of that code), to edit and publish."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class PresetTemplate:
    slug: str
    channel: str
    name: str
    body_text: str
    subject: str = ""
    title: str = ""
    wa_template_name: str = ""
    wa_parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Preset:
    key: str
    name: Promise
    description: Promise
    graph: dict[str, Any]
    goal_event: str = ""
    reentry: str = "never"
    reentry_days: int = 0
    holdout_percent: int = 0
    templates: tuple[PresetTemplate, ...] = field(default_factory=tuple)


def _wa(slug: str, name: str, text: str) -> PresetTemplate:
    """A WhatsApp template message (approved name, first name as its parameter): it may go out of
    the 24-hour window, unlike free text."""
    return PresetTemplate(
        slug=slug,
        channel="whatsapp",
        name=name,
        body_text=text,
        wa_template_name=slug.replace("-", "_"),
        wa_parameters=("{{ primeiro_nome }}",),
    )


def _email(slug: str, name: str, subject: str, text: str) -> PresetTemplate:
    return PresetTemplate(slug=slug, channel="email", name=name, subject=subject, body_text=text)


def _sms(slug: str, name: str, text: str) -> PresetTemplate:
    return PresetTemplate(slug=slug, channel="sms", name=name, body_text=text)


def _send(
    step_id: str, templates: dict[str, str], next_step: str | None, *, mode: str = "chain"
) -> dict[str, Any]:
    return {
        "id": step_id,
        "type": "send",
        "channels": list(templates),
        "templates": templates,
        "mode": mode,
        "next": next_step,
    }


PRESETS: dict[str, Preset] = {}


def _register(preset: Preset) -> None:
    PRESETS[preset.key] = preset


# 1. Welcome with a 24-hour window (seed 000).
_register(
    Preset(
        key="welcome-24h",
        name=_("Welcome with a 24-hour window"),
        description=_(
            "On account opened: WhatsApp and e-mail; wait up to 24 hours for the app download; "
            "downloaded: the cashback incentive; not: a reminder by SMS."
        ),
        goal_event="",
        templates=(
            _wa("jornada-boas-vindas-wa", "Boas-vindas (WhatsApp)", "Olá {{ primeiro_nome }}, boas-vindas!"),
            _email(
                "jornada-boas-vindas-email",
                "Boas-vindas (e-mail)",
                "Boas-vindas, {{ primeiro_nome }}!",
                "Baixe o app em até 24 horas e ganhe cashback: {{ link_app }}",
            ),
            _wa("jornada-cashback-wa", "Incentivo de cashback (WhatsApp)", "Seu cashback está liberado!"),
            _email(
                "jornada-cashback-email",
                "Incentivo de cashback (e-mail)",
                "Seu cashback está liberado",
                "{{ primeiro_nome }}, faça seu primeiro cash in e receba cashback.",
            ),
            _sms(
                "jornada-lembrete-app-sms",
                "Lembrete do app (SMS)",
                "{{ primeiro_nome }}, baixe o app: {{ link_app }}",
            ),
        ),
        graph={
            "triggers": [{"type": "event", "event": "account_opened", "start": "welcome"}],
            "steps": [
                _send(
                    "welcome",
                    {"whatsapp": "jornada-boas-vindas-wa", "email": "jornada-boas-vindas-email"},
                    "wait-app",
                    mode="all",
                ),
                {
                    "id": "wait-app",
                    "type": "wait_event",
                    "event": "app_downloaded",
                    "hours": 24,
                    "yes": "cashback",
                    "no": "reminder",
                },
                _send(
                    "cashback", {"whatsapp": "jornada-cashback-wa", "email": "jornada-cashback-email"}, None
                ),
                _send("reminder", {"sms": "jornada-lembrete-app-sms"}, None),
            ],
        },
    )
)

# 2. Registration fallback chain (seed 002).
_register(
    Preset(
        key="registration-chain",
        name=_("Registration fallback chain"),
        description=_(
            "Started registration but did not open the account: a free video course; ignored, a "
            "webinar invitation; ignored, the marathon. Stops as soon as the account is opened."
        ),
        goal_event="account_opened",
        templates=(
            _email(
                "jornada-curso-video",
                "Curso em vídeo gratuito",
                "Seu curso gratuito",
                "Assista: {{ link_app }}",
            ),
            _email(
                "jornada-webinar", "Convite para o webinar", "Webinar ao vivo", "Inscreva-se: {{ link_app }}"
            ),
            _email("jornada-maratona", "Convite para a maratona", "Maratona", "Participe: {{ link_app }}"),
        ),
        graph={
            "triggers": [
                {"type": "event", "event": "registration_started", "start": "grace"},
                {"type": "manual", "start": "grace"},
            ],
            "steps": [
                {"id": "grace", "type": "wait", "days": 1, "next": "course"},
                _send("course", {"email": "jornada-curso-video"}, "wait-course"),
                {
                    "id": "wait-course",
                    "type": "wait_event",
                    "event": "message_clicked",
                    "days": 3,
                    "yes": None,
                    "no": "webinar",
                },
                _send("webinar", {"email": "jornada-webinar"}, "wait-webinar"),
                {
                    "id": "wait-webinar",
                    "type": "wait_event",
                    "event": "message_clicked",
                    "days": 3,
                    "yes": None,
                    "no": "marathon",
                },
                _send("marathon", {"email": "jornada-maratona"}, None),
            ],
        },
    )
)

# 3. First cash in (seeds 000, 001 epic 3).
_register(
    Preset(
        key="first-cash-in",
        name=_("First cash in"),
        description=_("Activated the app but no cash in within 3 days: the cash-in incentive."),
        goal_event="cash_in",
        templates=(
            _wa("jornada-cash-in-wa", "Incentivo de cash in (WhatsApp)", "Faça seu primeiro cash in!"),
            _email(
                "jornada-cash-in-email",
                "Incentivo de cash in (e-mail)",
                "Seu primeiro cash in",
                "Deposite e ganhe.",
            ),
        ),
        graph={
            "triggers": [{"type": "event", "event": "app_activated", "start": "wait-cash-in"}],
            "steps": [
                {
                    "id": "wait-cash-in",
                    "type": "wait_event",
                    "event": "cash_in",
                    "days": 3,
                    "yes": None,
                    "no": "incentive",
                },
                _send(
                    "incentive", {"whatsapp": "jornada-cash-in-wa", "email": "jornada-cash-in-email"}, None
                ),
            ],
        },
    )
)

# 4. Cashout awareness (seed 000).
_register(
    Preset(
        key="cashout-awareness",
        name=_("Cashout awareness"),
        description=_("Did cash in but never a cashout: a tutorial sequence. Goal: the first cashout."),
        goal_event="cashout",
        templates=(
            _email("jornada-tutorial-cashout-1", "Tutorial de cashout 1", "Como sacar", "Passo 1."),
            _email("jornada-tutorial-cashout-2", "Tutorial de cashout 2", "Saque em 2 minutos", "Passo 2."),
            _email(
                "jornada-tutorial-cashout-3", "Tutorial de cashout 3", "Dúvidas sobre o saque?", "Passo 3."
            ),
        ),
        graph={
            "triggers": [{"type": "event", "event": "cash_in", "start": "never-cashout"}],
            "steps": [
                {
                    "id": "never-cashout",
                    "type": "branch",
                    "label": "never did cashout",
                    # A segment definition, as the segment builder makes it.
                    "condition": {
                        "version": 1,
                        "root": {
                            "kind": "group",
                            "op": "and",
                            "conditions": [
                                {
                                    "kind": "event",
                                    "type": "cashout",
                                    "measure": "count",
                                    "operator": "eq",
                                    "value": 0,
                                }
                            ],
                        },
                    },
                    "yes": "tutorial-1",
                    "no": None,
                },
                _send("tutorial-1", {"email": "jornada-tutorial-cashout-1"}, "pause-1"),
                {"id": "pause-1", "type": "wait", "days": 2, "next": "tutorial-2"},
                _send("tutorial-2", {"email": "jornada-tutorial-cashout-2"}, "pause-2"),
                {"id": "pause-2", "type": "wait", "days": 2, "next": "tutorial-3"},
                _send("tutorial-3", {"email": "jornada-tutorial-cashout-3"}, None),
            ],
        },
    )
)

# 5. Consultation reminder (seed 001 epic 4).
_register(
    Preset(
        key="consultation-reminder",
        name=_("Consultation reminder"),
        description=_(
            "No consultation scheduled in the 90 days after the last one: a reminder naming its specialty."
        ),
        reentry="after_days",
        reentry_days=0,
        templates=(
            _email(
                "jornada-lembrete-consulta",
                "Lembrete de consulta",
                "Hora de cuidar da saúde",
                "{{ primeiro_nome }}, que tal agendar sua consulta de {{ evento.specialty }}?",
            ),
        ),
        graph={
            "triggers": [{"type": "event", "event": "consultation_scheduled", "start": "wait-next"}],
            "steps": [
                {
                    "id": "wait-next",
                    "type": "wait_event",
                    "event": "consultation_scheduled",
                    "days": 90,
                    "yes": None,
                    "no": "reminder",
                },
                _send("reminder", {"email": "jornada-lembrete-consulta"}, None),
            ],
        },
    )
)

# 6. Subscription renewal and recovery (seed 004).
_register(
    Preset(
        key="subscription",
        name=_("Subscription renewal and recovery"),
        description=_(
            "A reminder 7 days before the plan's renewal date (attribute renewal_date); on a failed "
            "payment, a dunning sequence; on a cancellation, a win-back after 30 days. Goal: renewed."
        ),
        goal_event="subscription_renewed",
        reentry="after_days",
        reentry_days=0,
        templates=(
            _email(
                "jornada-renovacao",
                "Lembrete de renovação",
                "Seu plano renova em 7 dias",
                "Plano {{ plano }}.",
            ),
            _email("jornada-cobranca-1", "Cobrança 1", "Não conseguimos cobrar", "Atualize seu cartão."),
            _email("jornada-cobranca-2", "Cobrança 2", "Seu plano está em risco", "Atualize seu cartão."),
            _sms("jornada-cobranca-3", "Cobrança 3 (SMS)", "{{ primeiro_nome }}, seu plano será suspenso."),
            _email("jornada-reconquista", "Reconquista", "Sentimos sua falta", "Volte com 30% de desconto."),
        ),
        graph={
            "triggers": [
                {"type": "date", "field": "attributes.renewal_date", "offset_days": -7, "start": "renewal"},
                {"type": "event", "event": "payment_failed", "start": "dunning-1"},
                {"type": "event", "event": "subscription_cancelled", "start": "cooldown"},
            ],
            "steps": [
                _send("renewal", {"email": "jornada-renovacao"}, None),
                _send("dunning-1", {"email": "jornada-cobranca-1"}, "dunning-wait-1"),
                {"id": "dunning-wait-1", "type": "wait", "days": 2, "next": "dunning-2"},
                _send("dunning-2", {"email": "jornada-cobranca-2"}, "dunning-wait-2"),
                {"id": "dunning-wait-2", "type": "wait", "days": 3, "next": "dunning-3"},
                _send("dunning-3", {"sms": "jornada-cobranca-3", "email": "jornada-cobranca-2"}, None),
                {"id": "cooldown", "type": "wait", "days": 30, "next": "winback"},
                _send("winback", {"email": "jornada-reconquista"}, None),
            ],
        },
    )
)
