"""The War Room board: columns (a default set, editable), actions with checklists, moves, the
discussion thread with @mentions and attachments, the activity log, and the "CRM Day" template
(the five task groups of the platform-activation CRM Day)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from tenants.models import UDN, User
from warroom.activity import activity_params
from warroom.models import Action, Activity, BoardColumn, ChecklistItem, Comment, JointCampaign
from warroom.services import notify

#: The default columns (names translated when shown); the last one is the done column.
DEFAULT_COLUMNS = (
    gettext_noop("To do"),
    gettext_noop("In progress"),
    gettext_noop("Blocked"),
    gettext_noop("Done"),
)
#: Attachments larger than this are refused (the shared space is not a file store).
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
MENTION_RE = re.compile(r"(?<![\w.])@([\w.+-]+(?:@[\w-]+(?:\.[\w-]+)+)?)")


def _log(*, by: User | None, code: str, action: Action | None = None, **params: object) -> None:
    """Record who did what (warroom.activity's code, translated when shown)."""
    Activity.objects.create(actor=by, code=code, params=activity_params(**params), action=action)


def board_columns_ensure() -> list[BoardColumn]:
    """The board's columns, creating the default set the first time."""
    columns = list(BoardColumn.objects.all())
    if columns:
        return columns
    with transaction.atomic():
        if not BoardColumn.objects.select_for_update().exists():
            BoardColumn.objects.bulk_create(
                [
                    BoardColumn(name=_(name), position=i, is_done=i == len(DEFAULT_COLUMNS) - 1)
                    for i, name in enumerate(DEFAULT_COLUMNS)
                ]
            )
    return list(BoardColumn.objects.all())


@transaction.atomic
def column_save(
    *, name: str, wip_limit: int | None, is_done: bool, by: User, column: BoardColumn | None = None
) -> BoardColumn:
    if not name.strip():
        raise ValidationError({"name": [_("Give the column a name.")]})
    creating = column is None
    if column is None:
        column = BoardColumn(position=(BoardColumn.objects.aggregate(m=Max("position"))["m"] or 0) + 1)
    column.name, column.wip_limit, column.is_done = name.strip(), wip_limit, is_done
    column.save()
    _log(by=by, code="column_added" if creating else "column_changed", name=column.name)
    return column


@transaction.atomic
def column_delete(*, column: BoardColumn, by: User) -> None:
    if column.actions.exists():
        raise ValidationError(_("Move this column's actions elsewhere before removing it."))
    name = column.name
    column.delete()
    _log(by=by, code="column_removed", name=name)


@transaction.atomic
def column_shift(*, column: BoardColumn, step: int, by: User) -> None:
    """Move a column one place left (-1) or right (+1)."""
    columns = list(BoardColumn.objects.select_for_update())
    i = next(n for n, c in enumerate(columns) if c.pk == column.pk)
    j = i + step
    if 0 <= j < len(columns):
        columns[i], columns[j] = columns[j], columns[i]
        for position, c in enumerate(columns):
            BoardColumn.objects.filter(pk=c.pk).update(position=position)
        _log(by=by, code="columns_reordered")


@dataclass(frozen=True, kw_only=True)
class ActionDraft:
    title: str
    description: str = ""
    team: str = ""
    udns: list[UDN]
    owner: User | None = None
    deadline: date | None = None
    campaign: JointCampaign | None = None
    column: BoardColumn | None = None
    checklist: list[str] | None = None


@transaction.atomic
def action_save(*, draft: ActionDraft, by: User | None, action: Action | None = None) -> Action:
    if not draft.title.strip():
        raise ValidationError({"title": [_("Give the action a title.")]})
    creating = action is None
    columns = board_columns_ensure()
    previous_owner = None
    if action is None:
        column = draft.column or columns[0]
        top = Action.objects.filter(column=column).aggregate(m=Max("position"))["m"]
        action = Action(created_by=by, column=column, position=(top or 0) + 1)
    else:
        previous_owner = action.owner_id
        if draft.column is not None:
            action.column = draft.column
    action.title = draft.title.strip()
    action.description = draft.description
    action.team = draft.team.strip()
    action.owner = draft.owner
    action.deadline = draft.deadline
    action.campaign = draft.campaign
    action.save()
    action.udns.set(draft.udns)
    if draft.checklist:
        ChecklistItem.objects.bulk_create(
            [
                ChecklistItem(action=action, text=text, position=i)
                for i, text in enumerate(draft.checklist)
                if text.strip()
            ]
        )
    _log(by=by, action=action, code="action_created" if creating else "action_changed")
    if action.owner is not None and action.owner_id != previous_owner:
        _log(by=by, action=action, code="action_assigned", owner=str(action.owner))
        notify.notify_assigned(action=action, owner=action.owner, by=by)
    return action


@transaction.atomic
def action_move(*, action: Action, column: BoardColumn, position: int | None, by: User) -> Action:
    """Put `action` in `column` at `position` (0-based; the end when None), renumbering the column."""
    action = Action.objects.select_for_update().get(pk=action.pk)
    old = action.column
    others = list(
        Action.objects.select_for_update()
        .filter(column=column)
        .exclude(pk=action.pk)
        .order_by("position", "pk")
    )
    place = len(others) if position is None else max(0, min(position, len(others)))
    others.insert(place, action)
    action.column = column
    action.save(update_fields=["column", "updated_at"])
    for i, item in enumerate(others):
        Action.objects.filter(pk=item.pk).update(position=i)
    if old.pk != column.pk:
        _log(by=by, action=action, code="action_moved", old=old.name, new=column.name)
    return action


@transaction.atomic
def action_deadline_set(*, action: Action, deadline: date, by: User) -> Action:
    Action.objects.filter(pk=action.pk).update(deadline=deadline)
    action.deadline = deadline
    _log(by=by, action=action, code="deadline_set", day=deadline)
    return action


@transaction.atomic
def checklist_add(*, action: Action, text: str, by: User) -> ChecklistItem:
    if not text.strip():
        raise ValidationError({"text": [_("Write the item.")]})
    top = action.checklist.aggregate(m=Max("position"))["m"]
    item = ChecklistItem.objects.create(action=action, text=text.strip(), position=(top or 0) + 1)
    _log(by=by, action=action, code="checklist_added", item=item.text)
    return item


@transaction.atomic
def checklist_toggle(*, item: ChecklistItem, by: User) -> ChecklistItem:
    item.done = not item.done
    item.save(update_fields=["done"])
    _log(
        by=by,
        action=item.action,
        code="checklist_ticked" if item.done else "checklist_unticked",
        item=item.text,
    )
    return item


def mentioned_users(*, text: str, action: Action) -> list[User]:
    """The people `text` mentions (@name, the part of their e-mail before the @, or the whole
    e-mail) who may see the action: coordinators and members of the UDNs it involves."""
    handles = {m.group(1).lower().rstrip(".") for m in MENTION_RE.finditer(text)}
    if not handles:
        return []
    by_handle = Q()
    for handle in handles:
        by_handle |= Q(email__iexact=handle) if "@" in handle else Q(email__istartswith=f"{handle}@")
    involved = list(action.udns.values_list("pk", flat=True))
    may_see = Q(is_coordinator=True) | Q(is_superuser=True) | Q(memberships__udn_id__in=involved)
    return list(User.objects.filter(by_handle).filter(may_see, is_active=True).distinct())


@transaction.atomic
def comment_add(*, action: Action, body: str, by: User, attachment: UploadedFile | None = None) -> Comment:
    if not body.strip():
        raise ValidationError({"body": [_("Write a comment.")]})
    if attachment is not None and attachment.size and attachment.size > ATTACHMENT_MAX_BYTES:
        raise ValidationError({"attachment": [_("Attachments are limited to 10 MB.")]})
    comment = Comment.objects.create(action=action, author=by, body=body.strip(), attachment=attachment or "")
    users = mentioned_users(text=body, action=action)
    comment.mentions.set(users)
    _log(by=by, action=action, code="commented")
    notify.notify_mentioned(action=action, users=users, by=by, text=comment.body)
    return comment


def _add_month(day: date) -> date:
    month = day.month % 12 + 1
    year = day.year + (day.month == 12)
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


# The five task groups of the platform-activation CRM Day (seed 000): team, actions, and the
# deadline as weeks after the start (None: one month).
CRM_DAY: tuple[tuple[str, str, tuple[str, ...], int | None], ...] = (
    (
        "Redução do Tempo de Download e Ativação do App",
        "Equipe de Produto e Tecnologia",
        (
            "Revisar o fluxo de download e ativação para identificar gargalos que estejam retardando a ativação do app.",
            "Implementar melhorias na performance e usabilidade do processo de ativação.",
            "Oferecer tutoriais em vídeo ou guias dentro do app para ajudar os usuários a completarem a ativação rapidamente.",
        ),
        3,
    ),
    (
        "Otimização do Atendimento ao Usuário para Acessos ao App",
        "Equipe de Suporte ao Cliente",
        (
            "Mapear os principais motivos que levam os usuários a buscar suporte para acessar o app.",
            "Criar uma seção de perguntas frequentes (FAQ) ou um assistente virtual dentro do app para solucionar problemas comuns.",
            "Treinar a equipe de suporte para que as questões mais frequentes sejam resolvidas rapidamente e automatizar respostas para dúvidas simples.",
        ),
        2,
    ),
    (
        "Campanha de Incentivo ao Uso de Cashback e Cash In",
        "Equipe de Marketing e Produto",
        (
            "Desenvolver uma campanha focada em aumentar a consciência sobre as vantagens do cashback, utilizando email e WhatsApp como canais principais.",
            "Oferecer recompensas ou incentivos adicionais para os usuários que completarem o cash in no app.",
            "Acompanhar os resultados da campanha para ajustar estratégias em tempo real, baseando-se nas respostas dos usuários.",
        ),
        None,
    ),
    (
        "Campanha de Boas-vindas com Janela de 24 horas",
        "Equipe de Marketing",
        (
            "Desenvolver uma mensagem de boas-vindas enviada por email e WhatsApp para novos afiliados, com uma janela de 24 horas para baixar o app e receber um incentivo especial.",
            "Integrar essa campanha com o fluxo de onboarding de novos usuários, garantindo que a mensagem seja enviada automaticamente assim que o usuário for registrado.",
        ),
        2,
    ),
    (
        "Aumento da Consciência sobre Cashout",
        "Equipe de Marketing e Educação",
        (
            "Criar tutoriais simples e diretos (vídeos ou guias passo a passo) explicando como realizar cashout e os benefícios dessa funcionalidade.",
            "Incluir essas explicações na sequência de email marketing e nas mensagens de WhatsApp, incentivando o uso do cashout.",
            "Monitorar o número de usuários que completam o cashout como métrica de sucesso da campanha.",
        ),
        3,
    ),
)


@transaction.atomic
def crm_day_create(
    *, start: date, udns: list[UDN], by: User, owners: dict[str, User | None] | None = None
) -> list[Action]:
    """The CRM Day's five task groups as actions: each with its responsible team, its owner (by
    team, when given), its checklist and its deadline after `start` (3 weeks, 2 weeks, 1 month,
    2 weeks, 3 weeks)."""
    owners = owners or {}
    created = []
    for title, team, items, weeks in CRM_DAY:
        deadline = _add_month(start) if weeks is None else start + timedelta(weeks=weeks)
        created.append(
            action_save(
                draft=ActionDraft(
                    title=title,
                    team=team,
                    udns=udns,
                    owner=owners.get(team),
                    deadline=deadline,
                    checklist=list(items),
                ),
                by=by,
            )
        )
    return created


def board_version() -> int:
    """Changes on the board so far (the newest activity's id): pages poll it and refresh only
    when it moved."""
    return int(Activity.objects.aggregate(m=Max("pk"))["m"] or 0)
