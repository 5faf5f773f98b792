from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from crm.models import Affiliate


def test_a_row_created_in_udn_a_is_invisible_from_udn_b_through_the_orm(udn_a, udn_b):
    with tenant_context(udn_a):
        Affiliate.objects.create(external_id="A-1", name="Joana da Silva")
        assert Affiliate.objects.count() == 1
    with tenant_context(udn_b):
        assert Affiliate.objects.count() == 0
        assert not Affiliate.objects.filter(external_id="A-1").exists()


def test_a_row_created_in_udn_a_is_invisible_from_udn_b_through_the_ui(udn_a, udn_b, marketer, client_for):
    from tenants.tests.factories import make_user

    with tenant_context(udn_a):
        Affiliate.objects.bulk_create(Affiliate(external_id=f"A-{i}", name=f"Pessoa {i}") for i in range(3))
    both = make_user("duas.udns@test.br", udn=udn_a)
    from tenants.services import membership_grant

    membership_grant(user=both, udn=udn_b, role="marketer")

    page_a = client_for(udn_a, both).get("/").content.decode()
    page_b = client_for(udn_b, both).get("/").content.decode()

    assert '<p class="bignum">3</p>' in page_a
    assert "bignum" not in page_b
    assert "Nenhum afiliado ainda" in page_b


def test_a_member_of_a_gets_403_on_b_not_a_login_loop(udn_b, marketer, client_for):
    response = client_for(udn_b, marketer).get("/")

    assert response.status_code == 403
    body = response.content.decode()
    assert "UDN Beta" in body and "UDN Alpha" in body  # says where they are, offers where they may go


def test_anonymous_visitors_of_a_udn_are_sent_to_sign_in(udn_a, client_for):
    response = client_for(udn_a).get("/")

    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/"


def test_cache_keys_carry_the_schema(udn_a, udn_b):
    with tenant_context(udn_a):
        cache.set("dashboard", "alpha's figures", 30)
    with tenant_context(udn_b):
        assert cache.get("dashboard") is None
        cache.set("dashboard", "beta's figures", 30)
    with tenant_context(udn_a):
        assert cache.get("dashboard") == "alpha's figures"
        cache.delete("dashboard")
    with tenant_context(udn_b):
        cache.delete("dashboard")


def test_back_to_back_requests_to_one_udn_keep_its_search_path_and_another_udn_sets_its_own(
    udn_a, udn_b, marketer, client_for, settings
):
    """A connection that already has a UDN's search_path keeps it for the next request to that
    UDN (no SET); a request to another UDN, or after anything that forgets the path, sets it."""
    from tenants.services import membership_grant
    from tenants.tests.factories import make_user

    with tenant_context(udn_a):
        Affiliate.objects.bulk_create(Affiliate(external_id=f"A-{i}", name=f"Pessoa {i}") for i in range(3))
    both = make_user("duas.udns@test.br", udn=udn_a)
    membership_grant(user=both, udn=udn_b, role="marketer")
    in_a, in_b = client_for(udn_a, both), client_for(udn_b, both)

    def visit(client) -> tuple[str, int]:
        with CaptureQueriesContext(connection) as queries:
            page = client.get("/").content.decode()
        return page, sum(1 for q in queries.captured_queries if q["sql"].startswith("SET search_path"))

    pages = [visit(in_a), visit(in_a), visit(in_b), visit(in_a)]

    sets = [count for _page, count in pages]
    assert sets[1] == 0  # same UDN again: its path is still set
    assert all(count >= 1 for count in (sets[0], sets[2], sets[3]))  # (a page may also visit public)

    # A host lookup (here: no host cache) runs on the public path: the UDN's is set again.
    settings.TENANT_CACHE_SECONDS = 0
    page, sets_after_lookup = visit(in_a)
    assert sets_after_lookup >= 1
    assert '<p class="bignum">3</p>' in page
    assert ['<p class="bignum">3</p>' in page for page, _sets in pages] == [True, True, False, True]
