import re

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from tenants.services import handoff_binding_new, handoff_token_create


def test_sign_in_with_email_on_the_shared_space_lists_my_udns(marketer, client_for):
    from tenants.tests.factories import PASSWORD

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


def switch_link(origin, target, path: str) -> str:
    """Run the switcher's hops with `origin` (a client on the origin host, signed in) and `target`
    (a client on the target host); return the hand-off URL path the target host is sent to."""
    first = origin.get(path)
    assert first.status_code == 302
    start = re.match(r"^http://[a-z.]*localhost(:\d+)?(/accounts/handoff/start/\?.+)$", first.url)
    assert start, first.url
    second = target.get(start.group(2))
    assert second.status_code == 302
    back = re.match(r"^http://[a-z.]*localhost(:\d+)?(/switch/.+)$", second.url)
    assert back, second.url
    third = origin.get(back.group(2))
    assert third.status_code == 302
    link = re.match(r"^http://[a-z.]*localhost(:\d+)?(/accounts/handoff/\?token=.+)$", third.url)
    assert link, third.url
    return link.group(2)


def bound_browser(client) -> str:
    """Give `client` (on a target host) a hand-off secret as the start hop does; return its binding."""
    secret, binding = handoff_binding_new()
    client.cookies["udn-handoff"] = secret
    return binding


def test_switching_udn_hands_the_session_over_to_the_other_host(marketer, udn_a, client_for):
    other_host = client_for(udn_a)

    landed = other_host.get(switch_link(client_for(None, marketer), other_host, "/switch/alpha/"))

    assert landed.status_code == 302 and landed.url == "/"
    assert other_host.get("/").status_code == 200


def test_switching_back_to_the_shared_space_works_the_same_way(marketer, udn_a, client_for):
    shared = client_for()

    landed = shared.get(switch_link(client_for(udn_a, marketer), shared, "/switch/shared/"))

    assert landed.status_code == 302 and landed.url == "/"
    assert "UDN Alpha" in shared.get("/").content.decode()


def test_a_handoff_link_signs_in_only_the_browser_that_asked_for_it(marketer, outsider, udn_a, client_for):
    """Login CSRF: someone runs the switcher for their own account, keeps the final link and sends
    it to a colleague. Opening it must not sign the colleague's browser in as someone else."""
    from tenants.services import membership_grant

    membership_grant(user=outsider, udn=udn_a, role="marketer")
    attacker_target = client_for(udn_a)
    link = switch_link(client_for(None, outsider), attacker_target, "/switch/alpha/")

    victim = client_for(udn_a)
    bound_browser(victim)  # even a browser in the middle of a hand-off of its own
    response = victim.get(link, follow=True)

    assert "outro navegador" in response.content.decode()
    assert victim.get("/").status_code == 302  # still anonymous
    assert client_for(udn_a).get(link).url.startswith("/accounts/login/")  # no cookie at all: same


def test_a_handoff_token_is_refused_the_second_time_in_the_same_browser(marketer, udn_a, client_for):
    browser = client_for(udn_a)
    secret, binding = handoff_binding_new()
    token = handoff_token_create(user=marketer, target=udn_a, binding=binding)
    browser.cookies["udn-handoff"] = secret
    assert browser.get(f"/accounts/handoff/?token={token}").url == "/"

    replay = client_for(udn_a)
    replay.cookies["udn-handoff"] = secret
    response = replay.get(f"/accounts/handoff/?token={token}", follow=True)
    assert "já foi usado" in response.content.decode()
    assert replay.get("/").status_code == 302


def test_a_handoff_token_expires_after_a_minute(marketer, udn_a, client_for):
    browser = client_for(udn_a)
    with time_machine.travel("2026-11-20 12:00:00 -0300", tick=False):
        token = handoff_token_create(user=marketer, target=udn_a, binding=bound_browser(browser))
    with time_machine.travel("2026-11-20 12:01:30 -0300", tick=False):
        response = browser.get(f"/accounts/handoff/?token={token}", follow=True)
    assert "expirou" in response.content.decode()


def test_a_handoff_token_for_one_udn_does_not_open_another(marketer, udn_a, udn_b, client_for):
    browser = client_for(udn_b)
    token = handoff_token_create(user=marketer, target=udn_a, binding=bound_browser(browser))

    response = browser.get(f"/accounts/handoff/?token={token}", follow=True)
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


# --- password guessing ------------------------------------------------------------------------------


def sign_in(client, email: str, password: str):
    return client.post("/accounts/login/", {"username": email, "password": password})


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(marketer, client_for):
    from tenants.tests.factories import PASSWORD

    with time_machine.travel("2026-11-20 12:00:00 -0300", tick=False):
        for _attempt in range(5):
            assert sign_in(client_for(), marketer.email, "chute-errado").status_code == 200
        blocked = sign_in(client_for(), marketer.email, PASSWORD)

    assert blocked.status_code == 200  # the form again, not a redirect home
    assert "Muitas tentativas de entrada sem sucesso. Aguarde 15 minutos" in blocked.content.decode()
    with time_machine.travel("2026-11-20 12:14:00 -0300", tick=False):
        assert sign_in(client_for(), marketer.email, PASSWORD).status_code == 200
    with time_machine.travel("2026-11-20 12:15:01 -0300", tick=False):
        assert sign_in(client_for(), marketer.email, PASSWORD).status_code == 302


def test_the_lock_counts_the_account_whatever_case_or_host_the_guesses_use(marketer, udn_a, client_for):
    from tenants.tests.factories import PASSWORD

    for index in range(5):
        client = client_for(udn_a) if index % 2 else client_for()
        sign_in(client, marketer.email.upper() if index % 2 else marketer.email, "chute-errado")

    assert sign_in(client_for(udn_a), marketer.email, PASSWORD).status_code == 200
    assert not client_for().login(username=marketer.email, password=PASSWORD)  # the backend refuses too


def test_one_address_trying_many_accounts_is_stopped(marketer, db, client_for):
    from tenants.tests.factories import PASSWORD

    for index in range(20):
        sign_in(client_for(), f"alguem{index}@alpha.test", "chute-errado")

    blocked = sign_in(client_for(), marketer.email, PASSWORD)
    assert "Aguarde" in blocked.content.decode()
    elsewhere = client_for()
    response = elsewhere.post(
        "/accounts/login/", {"username": marketer.email, "password": PASSWORD}, REMOTE_ADDR="10.1.2.3"
    )
    assert response.status_code == 302  # another address is not blocked


def test_a_good_sign_in_clears_the_account_failures(marketer, client_for):
    from tenants.tests.factories import PASSWORD

    for _attempt in range(4):
        sign_in(client_for(), marketer.email, "chute-errado")
    assert sign_in(client_for(), marketer.email, PASSWORD).status_code == 302
    for _attempt in range(4):
        sign_in(client_for(), marketer.email, "chute-errado")

    assert sign_in(client_for(), marketer.email, PASSWORD).status_code == 302


def test_sign_in_ignores_the_case_of_the_email(marketer, client_for):
    from tenants.tests.factories import PASSWORD

    response = sign_in(client_for(), "  Marina.Marketing@ALPHA.test ", PASSWORD)

    assert response.status_code == 302 and response.url == "/"


def test_new_users_are_stored_lower_case_and_unique_whatever_the_case(db):
    from django.db import IntegrityError, transaction

    from tenants.services import user_create

    user = user_create(email="Nova.Pessoa@Alpha.TEST", password="x-Senha-2026")
    assert user.email == "nova.pessoa@alpha.test"
    with pytest.raises(IntegrityError), transaction.atomic():
        user_create(email="NOVA.pessoa@alpha.test", password="x-Senha-2026")


# --- password reset -------------------------------------------------------------------------------


def test_password_reset_is_limited_per_email_without_telling_whether_it_exists(
    marketer, smtp_server, client_for
):
    answers = []
    for email in [marketer.email.upper()] * 5 + ["ninguem@alpha.test"] * 5:
        response = client_for().post(reverse("password_reset"), {"email": email})
        answers.append((response.status_code, response.url))

    assert len(smtp_server) == 3  # the case of the address does not matter; 3 an hour
    assert all(mail["To"] == marketer.email for mail in smtp_server)
    assert set(answers) == {(302, reverse("password_reset_done"))}  # the same answer every time


def test_password_reset_is_limited_per_address(db, smtp_server, client_for):
    for index in range(10):
        client_for().post(reverse("password_reset"), {"email": f"pessoa{index}@alpha.test"})

    response = client_for().post(reverse("password_reset"), {"email": "outra@alpha.test"})

    assert response.status_code == 200
    assert "Muitos pedidos de nova senha" in response.content.decode()


def test_password_reset_links_use_the_shared_space_host_not_the_request_host(
    marketer, udn_a, smtp_server, client_for, settings
):
    settings.ALLOWED_HOSTS = [".localhost", "localhost"]
    evil = Client(HTTP_HOST="alpha.localhost")
    evil.post(reverse("password_reset"), {"email": marketer.email}, HTTP_HOST="alpha.localhost")

    body = smtp_server[0].get_payload(decode=True).decode()
    assert re.search(r"http://localhost/accounts/reset/\S+/", body), body
    assert "alpha.localhost" not in body


def test_unknown_hosts_get_404_instead_of_the_shared_space(db, client_for):
    response = Client(HTTP_HOST="intruso.localhost").get("/accounts/login/")

    assert response.status_code == 404
    assert (
        Client(HTTP_HOST="intruso.localhost")
        .post("/accounts/password_reset/", {"email": "a@b.c"})
        .status_code
        == 404
    )


# --- password change ------------------------------------------------------------------------------


@pytest.mark.parametrize("on_udn", [False, True])
def test_password_change_works_on_both_hosts(on_udn, marketer, udn_a, client_for):
    from tenants.tests.factories import PASSWORD

    client = client_for(udn_a if on_udn else None, marketer)

    form = client.get("/accounts/password_change/")
    assert form.status_code == 200 and "Trocar a senha" in form.content.decode()
    new_password = "Mais-uma-senha-2026"
    done = client.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password},
        follow=True,
    )
    assert done.status_code == 200 and "Senha salva" in done.content.decode()
    assert client_for().login(username=marketer.email, password=new_password)


def test_a_refused_request_is_logged_as_one_warning_line_without_a_traceback(marketer, udn_b, client_for):
    import io
    import logging

    handler = logging.getLogger("django.request").handlers[0]  # the console handler settings.LOGGING sets
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        response = client_for(udn_b, marketer).get("/affiliates/")
    finally:
        handler.setStream(previous)

    assert response.status_code == 403
    assert stream.getvalue() == "Forbidden (Permission denied): /affiliates/\n"


def test_a_handoff_goes_on_only_to_a_path_on_the_udns_host(marketer, udn_a, client_for):
    # The hand-off's next is chosen by the server, but it is checked like any next: a path on the
    # target host goes through; what a browser reads as another site (//, /\, a tab after the slash,
    # a scheme) becomes the UDN's home.
    for next_path, expected in [
        ("/affiliates/?q=ana", "/affiliates/?q=ana"),
        ("//evil.example/x", "/"),
        ("/\\evil.example/x", "/"),
        ("/\t/evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
    ]:
        browser = client_for(udn_a)
        token = handoff_token_create(
            user=marketer, target=udn_a, binding=bound_browser(browser), next_path=next_path
        )
        assert browser.get(f"/accounts/handoff/?token={token}").url == expected, next_path
