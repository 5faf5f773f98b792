import re

import pytest
import time_machine
from django.urls import reverse

from tenants.services import handoff_token_create


def test_sign_in_with_email_on_the_shared_space_lists_my_udns(marketer, client_for):
    from conftest import PASSWORD

    client = client_for()
    response = client.post("/accounts/login/", {"username": marketer.email, "password": PASSWORD})

    assert response.status_code == 302 and response.url == "/"
    home = client.get("/").content.decode()
    assert "UDN Alpha" in home and "UDN Beta" not in home


def test_wrong_password_says_so_in_portuguese(marketer, client_for):
    response = client_for().post("/accounts/login/", {"username": marketer.email, "password": "errada"})

    assert response.status_code == 200
    assert "e-mail" in response.content.decode().lower()
    assert "corretos" in response.content.decode()


def test_switching_udn_hands_the_session_over_to_the_other_host(marketer, udn_a, client_for):
    response = client_for(None, marketer).get("/switch/alpha/")

    assert response.status_code == 302
    match = re.match(r"^http://alpha\.localhost(:\d+)?/accounts/handoff/\?token=(.+)$", response.url)
    assert match, response.url
    other_host = client_for(udn_a)
    landed = other_host.get(f"/accounts/handoff/?token={match.group(2)}")
    assert landed.status_code == 302 and landed.url == "/"
    assert other_host.get("/").status_code == 200


def test_a_handoff_token_works_once(marketer, udn_a, client_for):
    token = handoff_token_create(user=marketer, target=udn_a)

    assert client_for(udn_a).get(f"/accounts/handoff/?token={token}").url == "/"
    replay = client_for(udn_a)
    response = replay.get(f"/accounts/handoff/?token={token}", follow=True)
    assert "já foi usado" in response.content.decode()
    assert replay.get("/").status_code == 302  # still anonymous


def test_a_handoff_token_expires_after_a_minute(marketer, udn_a, client_for):
    with time_machine.travel("2026-11-20 12:00:00 -0300", tick=False):
        token = handoff_token_create(user=marketer, target=udn_a)
    with time_machine.travel("2026-11-20 12:01:30 -0300", tick=False):
        response = client_for(udn_a).get(f"/accounts/handoff/?token={token}", follow=True)
    assert "expirou" in response.content.decode()


def test_a_handoff_token_for_one_udn_does_not_open_another(marketer, udn_a, udn_b, client_for):
    token = handoff_token_create(user=marketer, target=udn_a)

    response = client_for(udn_b).get(f"/accounts/handoff/?token={token}", follow=True)
    assert "outro espaço" in response.content.decode()


def test_switching_to_a_udn_i_do_not_belong_to_is_403(marketer, udn_b, client_for):
    assert client_for(None, marketer).get("/switch/beta/").status_code == 403


def test_analysts_are_read_only(analyst, marketer, udn_a, client_for):
    assert client_for(udn_a, analyst).get("/").status_code == 200
    assert client_for(udn_a, analyst).post("/heartbeat/ping/").status_code == 403
    assert client_for(udn_a, marketer).post("/heartbeat/ping/").status_code == 200


def test_password_reset_mail_goes_out_over_smtp_and_its_link_works(marketer, smtp_server, client_for):
    client = client_for()
    response = client.post(reverse("password_reset"), {"email": marketer.email})
    assert response.status_code == 302

    assert len(smtp_server) == 1
    mail = smtp_server[0]
    assert mail["To"] == marketer.email
    body = mail.get_payload(decode=True).decode()
    link = re.search(r"http://localhost(/accounts/reset/\S+/)", body)
    assert link, body
    form = client.get(link.group(1), follow=True)
    new_password = "Outra-senha-forte-2026"
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password}
    )
    assert done.status_code == 302
    assert client_for().login(username=marketer.email, password=new_password)


@pytest.mark.parametrize(("language", "text"), [("pt-BR", "Entrar"), ("en", "Sign in")])
def test_the_ui_speaks_portuguese_by_default_and_english_on_request(language, text, db, client_for):
    response = client_for().get("/accounts/login/", HTTP_ACCEPT_LANGUAGE=language)
    assert f"<h1>{text}</h1>" in response.content.decode()


def test_healthz_reports_database_redis_and_worker_age(db, client_for, udn_a):
    from django.utils import timezone

    udn_a.last_tick_at = timezone.now()
    udn_a.save(update_fields=["last_tick_at"])

    response = client_for().get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert body["worker"]["ok"] and body["worker"]["heartbeat_age_seconds"] < 5
    assert body["status"] == "ok"


def test_coordinators_see_every_udn_on_the_shared_home_and_enter_only_their_own(
    coordinator, udn_a, udn_b, client_for
):
    from tenants.services import membership_grant

    membership_grant(user=coordinator, udn=udn_a, role="analyst")

    home = client_for(None, coordinator).get("/").content.decode()

    assert "UDN Alpha" in home and "UDN Beta" in home
    assert "/switch/alpha/" in home and "/switch/beta/" not in home
