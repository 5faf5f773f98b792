"""The War Room board: columns, moves (drag and the keyboard form), WIP counts, filters, the
thread with @mentions and attachments, the activity log, e-mail through a real SMTP server
(mentions, assignment, the daily digest), the CRM Day template, and who may do what."""

from __future__ import annotations

from datetime import date, timedelta
from email.header import decode_header, make_header

import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from tenants.tests.factories import make_user
from warroom.models import Action, Activity, BoardColumn, Comment
from warroom.services.board import (
    ActionDraft,
    action_save,
    board_columns_ensure,
    board_version,
    crm_day_create,
)
from warroom.services.notify import notify_due


def _action(by, *, title="Revisar fluxo", udns=(), owner=None, deadline=None, column=None) -> Action:
    return action_save(
        draft=ActionDraft(
            title=title,
            team="Equipe de Marketing",
            udns=list(udns),
            owner=owner,
            deadline=deadline,
            column=column,
        ),
        by=by,
    )


def test_default_columns_and_moves_with_wip_counts(coordinator, client_for, udn_a):
    columns = board_columns_ensure()
    assert [c.name for c in columns] == ["A fazer", "Em andamento", "Bloqueada", "Concluída"]
    assert columns[-1].is_done
    first, second = (
        _action(coordinator, title="Um", udns=[udn_a]),
        _action(coordinator, title="Dois", udns=[udn_a]),
    )
    client = client_for(user=coordinator)
    before = board_version()
    # Drag (the JavaScript's POST) to the top of "Em andamento".
    answer = client.post(
        f"/warroom/actions/{second.pk}/move/",
        {"column": columns[1].pk, "position": "0"},
        HTTP_ACCEPT="application/json",
    ).json()
    assert answer["saved"] and answer["version"] > before
    # The keyboard form: a select and a button, no position (the end of the column).
    assert client.post(f"/warroom/actions/{first.pk}/move/", {"column": columns[1].pk}).status_code == 302
    assert list(
        Action.objects.filter(column=columns[1]).order_by("position").values_list("title", flat=True)
    ) == ["Dois", "Um"]
    BoardColumn.objects.filter(pk=columns[1].pk).update(wip_limit=1)
    page = client.get("/warroom/board/").content.decode()
    assert "2/1" in page and "wr-over" in page
    moved = Activity.objects.get(action=first, code="action_moved")
    assert moved.params["new"] == "Em andamento" and "Em andamento" in moved.text


def test_board_fragment_answers_204_until_something_changes(coordinator, client_for, udn_a):
    _action(coordinator, udns=[udn_a])
    client = client_for(user=coordinator)
    version = board_version()
    assert client.get(f"/warroom/board/fragment/?v={version}").status_code == 204
    _action(coordinator, title="Nova ação", udns=[udn_a])
    response = client.get(f"/warroom/board/fragment/?v={version}")
    assert response.status_code == 200 and "Nova ação" in response.content.decode()


def test_filters_mine_udn_overdue(coordinator, marketer, client_for, udn_a, udn_b):
    today = date.today()
    _action(
        coordinator,
        title="Minha atrasada",
        udns=[udn_a],
        owner=coordinator,
        deadline=today - timedelta(days=2),
    )
    _action(coordinator, title="Da beta", udns=[udn_b], deadline=today + timedelta(days=5))
    client = client_for(user=coordinator)
    mine = client.get("/warroom/board/?mine=1").content.decode()
    assert "Minha atrasada" in mine and "Da beta" not in mine
    overdue = client.get("/warroom/board/?overdue=1").content.decode()
    assert "Minha atrasada" in overdue and "Da beta" not in overdue
    beta = client.get(f"/warroom/board/?udn={udn_b.pk}").content.decode()
    assert "Da beta" in beta and "Minha atrasada" not in beta
    # A marketer of UDN A sees only what involves A.
    page = client_for(user=marketer).get("/warroom/board/").content.decode()
    assert "Minha atrasada" in page and "Da beta" not in page


def test_mentions_and_assignment_send_mail_through_smtp(
    coordinator, marketer, outsider, client_for, udn_a, smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        action = _action(
            coordinator, title="Campanha cashback", udns=[udn_a], owner=marketer, deadline=date.today()
        )
    assert [m["To"] for m in smtp_server] == [marketer.email]
    subject = str(make_header(decode_header(smtp_server[0]["Subject"])))
    assert subject == "Você é responsável por “Campanha cashback”"
    smtp_server.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(user=coordinator).post(
            f"/warroom/actions/{action.pk}/comments/",
            {
                "body": "@marina.marketing pode revisar? @otto.fora também",
                "attachment": SimpleUploadedFile("plano.txt", b"plano"),
            },
        )
    assert response.status_code == 302
    comment = Comment.objects.get(action=action)
    assert comment.attachment.name.endswith(".txt")
    # Otto is not involved (UDN B): not mentioned, no mail.
    assert list(comment.mentions.all()) == [marketer]
    assert [m["To"] for m in smtp_server] == [marketer.email]
    download = client_for(user=marketer).get(
        f"/warroom/actions/{action.pk}/comments/{comment.pk}/attachment/"
    )
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"plano"
    assert (
        client_for(user=outsider)
        .get(f"/warroom/actions/{action.pk}/comments/{comment.pk}/attachment/")
        .status_code
        == 403
    )


def test_daily_digest_of_actions_due_tomorrow_or_overdue(coordinator, marketer, udn_a, smtp_server):
    done = board_columns_ensure()[-1]
    with time_machine.travel("2026-05-10 09:00 -03:00", tick=False):
        today = date(2026, 5, 10)
        _action(
            coordinator,
            title="Vence amanhã",
            udns=[udn_a],
            owner=marketer,
            deadline=today + timedelta(days=1),
        )
        _action(
            coordinator, title="Atrasada", udns=[udn_a], owner=marketer, deadline=today - timedelta(days=3)
        )
        _action(
            coordinator,
            title="Daqui a uma semana",
            udns=[udn_a],
            owner=marketer,
            deadline=today + timedelta(days=7),
        )
        _action(
            coordinator,
            title="Feita",
            udns=[udn_a],
            owner=marketer,
            deadline=today - timedelta(days=3),
            column=done,
        )
        assert notify_due() == 1
    assert len(smtp_server) == 1
    body = smtp_server[0].get_payload(decode=True).decode()
    assert "Vence amanhã" in body and "Atrasada" in body
    assert "Daqui a uma semana" not in body and "Feita" not in body


def test_crm_day_template_creates_the_five_groups(coordinator, client_for, udn_a):
    start = date(2026, 1, 31)
    actions = crm_day_create(start=start, udns=[udn_a], by=coordinator)
    assert [(a.team, a.deadline) for a in actions] == [
        ("Equipe de Produto e Tecnologia", start + timedelta(weeks=3)),
        ("Equipe de Suporte ao Cliente", start + timedelta(weeks=2)),
        ("Equipe de Marketing e Produto", date(2026, 2, 28)),
        ("Equipe de Marketing", start + timedelta(weeks=2)),
        ("Equipe de Marketing e Educação", start + timedelta(weeks=3)),
    ]
    assert all(a.checklist.count() >= 2 for a in actions)
    response = client_for(user=coordinator).post(
        "/warroom/board/crm-day/", {"start": "2026-03-02", "udns": [udn_a.pk]}
    )
    assert response.status_code == 302 and Action.objects.count() == 10


def test_who_may_do_what_on_the_board(coordinator, marketer, analyst, outsider, client_for, udn_a):
    action = _action(coordinator, udns=[udn_a])
    columns = board_columns_ensure()
    for user in (marketer, analyst):
        client = client_for(user=user)
        assert client.get(f"/warroom/actions/{action.pk}/").status_code == 200
        assert (
            client.post(f"/warroom/actions/{action.pk}/move/", {"column": columns[1].pk}).status_code == 403
        )
        assert client.post("/warroom/actions/new/", {"title": "x"}).status_code == 403
        assert client.post(f"/warroom/actions/{action.pk}/edit/", {"title": "x"}).status_code == 403
        assert client.post(f"/warroom/actions/{action.pk}/checklist/", {"text": "x"}).status_code == 403
        assert client.post("/warroom/board/columns/", {"op": "add", "name": "x"}).status_code == 403
        assert client.post("/warroom/board/crm-day/", {"start": "2026-03-02"}).status_code == 403
    # Marketers of an involved UDN comment; analysts only read; outsiders see nothing.
    assert (
        client_for(user=marketer).post(f"/warroom/actions/{action.pk}/comments/", {"body": "Ok"}).status_code
        == 302
    )
    assert (
        client_for(user=analyst).post(f"/warroom/actions/{action.pk}/comments/", {"body": "Ok"}).status_code
        == 403
    )
    assert client_for(user=outsider).get(f"/warroom/actions/{action.pk}/").status_code == 403
    assert (
        client_for(user=outsider).post(f"/warroom/actions/{action.pk}/comments/", {"body": "Ok"}).status_code
        == 403
    )
    assert Comment.objects.filter(action=action).count() == 1
    action.refresh_from_db()
    assert action.column == columns[0]
    # The coordinator edits the columns.
    client = client_for(user=coordinator)
    assert (
        client.post(
            "/warroom/board/columns/", {"op": "add", "name": "Em revisão", "wip_limit": "3"}
        ).status_code
        == 302
    )
    assert BoardColumn.objects.filter(name="Em revisão", wip_limit=3).exists()
    helper = make_user("sem.papel@fora.test")
    assert client_for(user=helper).get(f"/warroom/actions/{action.pk}/").status_code == 403


def test_activity_is_stored_as_a_code_and_read_in_the_readers_language(coordinator, client_for, udn_a):
    from datetime import date

    from warroom.services.board import ActionDraft, action_deadline_set, action_save

    action = action_save(draft=ActionDraft(title="Revisar fluxo", udns=[udn_a]), by=coordinator)
    action_deadline_set(action=action, deadline=date(2026, 3, 10), by=coordinator)
    row = Activity.objects.get(action=action, code="deadline_set")
    assert (row.verb, row.params) == ("", {"day": "2026-03-10"})  # nothing translated in the row
    client = client_for(user=coordinator)
    portuguese = client.get(f"/warroom/actions/{action.pk}/", HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    english = client.get(f"/warroom/actions/{action.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "definiu o prazo para 10/03/2026" in portuguese and "criou a ação" in portuguese
    assert "set the deadline to 03/10/2026" in english and "created the action" in english
    assert "definiu o prazo" not in english


def test_the_migration_converts_translated_rows_and_keeps_unknown_text(coordinator):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("warroom.migrations.0002_activity_untranslated")
    old = [
        Activity.objects.create(actor=coordinator, verb="definiu o prazo para 10/03/2026"),
        Activity.objects.create(actor=coordinator, verb="declined for UDN Beta: sem verba"),
        Activity.objects.create(actor=coordinator, verb="fez algo que ninguém conhece"),
    ]
    migration.forwards(apps, None)
    deadline, declined, unknown = (Activity.objects.get(pk=a.pk) for a in old)
    assert (deadline.code, deadline.params, deadline.verb) == ("deadline_set", {"day": "2026-03-10"}, "")
    assert (declined.code, declined.params) == (
        "source_declined",
        {"udn": "UDN Beta", "comment": "sem verba"},
    )
    assert declined.text == "recusou por UDN Beta: sem verba"
    assert (unknown.code, unknown.text) == ("", "fez algo que ninguém conhece")
