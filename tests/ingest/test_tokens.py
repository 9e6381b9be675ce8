"""API tokens: made in the browser (shown once, stored hashed), revocable, audited; and
what a token may do: nothing without one, nothing once revoked, no writes for a viewer."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import reverse

from r1web.audit.models import AuditEvent
from r1web.ingest.models import ApiToken
from r1web.runs.models import Run
from r1web.traces.models import Sample
from tests.ingest.conftest import Api, batch

TOKEN = re.compile(r"r1w_[A-Za-z0-9_-]{43}")


def test_a_new_token_is_shown_once_and_only_its_hash_is_kept(client, alice):
    client.force_login(alice)
    response = client.post(reverse("ingest:token_new"), {"name": "cluster A"})
    secret = TOKEN.search(response.content.decode()).group(0)
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get()
    assert token.user == alice and token.name == "cluster A"
    assert secret not in {token.digest, token.prefix, token.name}
    assert secret.startswith(token.prefix)
    later = client.get(reverse("ingest:tokens")).content.decode()
    assert secret not in later and f"{token.prefix}…" in later


def test_only_operators_make_tokens(client, bob, charlie):
    for user in (bob, charlie):
        client.force_login(user)
        assert "Make a token" not in client.get(reverse("ingest:tokens")).content.decode()
        response = client.post(reverse("ingest:token_new"), {"name": "mine"})
        assert response.status_code == 403
    assert not ApiToken.objects.exists()


def test_making_and_revoking_a_token_leaves_audit_rows(client, alice):
    client.force_login(alice)
    client.post(reverse("ingest:token_new"), {"name": "laptop"})
    token = ApiToken.objects.get()
    client.post(reverse("ingest:revoke", args=[token.pk]))
    token.refresh_from_db()
    assert not token.is_active()
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor__username"))
    assert actions == [("token.create", "alice"), ("token.revoke", "alice")]


def test_nobody_revokes_someone_elses_token(client, alice, token_of, django_user_model):
    from r1web.accounts.roles import role_grant

    token_of(alice)
    dave = django_user_model.objects.create_user(username="dave")
    role_grant(user=dave, role="operator")
    client.force_login(dave)
    response = client.post(reverse("ingest:revoke", args=[ApiToken.objects.get().pk]))
    assert response.status_code == 404
    assert ApiToken.objects.get().is_active()


def test_a_revoked_token_gets_401_and_writes_nothing(client, alice, api):
    api.open()
    client.force_login(alice)
    client.post(reverse("ingest:revoke", args=[ApiToken.objects.get().pk]))
    client.logout()
    response = api.records(samples=batch())
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert api.open(key="another").status_code == 401
    assert not Sample.objects.exists() and Run.objects.count() == 1


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer r1w_" + "x" * 43,
        "Basic YWxpY2U6cGFzcw==",
        "Bearer " + "r1w_" * 200,
        "Bearer r1w_\x00",
    ],
)
def test_a_missing_or_unknown_token_gets_401_and_writes_nothing(client, alice, header):
    response = client.generic(
        "POST",
        reverse("ingest:api_runs"),
        '{"key": "k"}',
        content_type="application/json",
        HTTP_AUTHORIZATION=header,
    )
    assert response.status_code == 401
    assert not Run.objects.exists()


def test_a_signed_in_session_without_a_token_cannot_use_the_api(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("ingest:api_runs"), {"key": "k"}, content_type="application/json"
    )
    assert response.status_code == 401
    assert not Run.objects.exists()


@pytest.mark.parametrize("user", ["charlie", "bob"])
def test_a_token_below_operator_cannot_write(request, api_as, user):
    api = api_as(request.getfixturevalue(user))
    assert api.open().status_code == 403
    assert api.records(samples=batch()).status_code == 403
    assert not Run.objects.exists()


def test_a_token_follows_its_users_role(api, alice):
    from r1web.accounts.roles import role_grant

    assert api.open().status_code == 201
    role_grant(user=alice, role="viewer")
    assert api.records(samples=batch()).status_code == 403
    assert not Sample.objects.exists()


def test_a_deactivated_users_token_gets_401(api, alice):
    alice.is_active = False
    alice.save()
    assert api.open().status_code == 401


def test_create_token_prints_a_working_token_as_its_last_line(client, alice, capsys):
    call_command("create_token", "alice")
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert TOKEN.fullmatch(secret)
    assert Api(client, secret).open().status_code == 201


def test_create_token_refuses_an_unknown_user(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no user 'nobody'"):
        call_command("create_token", "nobody")


def test_wrong_tokens_from_one_address_are_paused_with_retry_after(client, alice, api, settings):
    # Issue 23: 30 bad tokens in a row were never slowed down.
    settings.R1WEB_API_TOKEN_FAILURE_LIMIT = 5
    for number in range(5):
        response = Api(client, f"r1w_guess{number}").open()
        assert response.status_code == 401
    response = Api(client, "r1w_guess5").open()
    assert response.status_code == 429 and 0 < int(response["Retry-After"]) <= 15 * 60
    assert "too many wrong tokens" in response.json()["error"]
    assert api.open().status_code == 429  # even a good token, from this address
    assert not Run.objects.exists()


def test_wrong_tokens_from_one_address_leave_other_addresses_alone(client, alice, api, settings):
    settings.R1WEB_API_TOKEN_FAILURE_LIMIT = 5
    for number in range(10):
        client.post("/api/v1/runs/", {}, HTTP_AUTHORIZATION=f"Bearer r1w_{number}",
                    REMOTE_ADDR="203.0.113.9", content_type="application/json")
    assert api.open().status_code == 201  # the test client's own address, 127.0.0.1


def test_a_good_token_is_never_counted_against_its_address(api, settings):
    settings.R1WEB_API_TOKEN_FAILURE_LIMIT = 2
    for number in range(5):
        assert api.open(key=f"k{number}").status_code == 201
