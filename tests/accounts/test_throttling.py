"""Sign-in throttling: a password guesser is stopped after a few tries, with a page that
says why, while the owner of the account can still get in."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client: Client, password: str, username: str = "charlie", ip: str = "10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def fail(client: Client, times: int, **kwargs):
    """Send ``times`` wrong passwords; the last response."""
    for _ in range(times):
        response = sign_in(client, "wrong guess", **kwargs)
    return response


def is_signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def test_four_wrong_passwords_get_the_form_again_and_the_fifth_the_lockout(client, charlie):
    assert fail(client, 4).status_code == 200
    assert fail(client, 1).status_code == 429


def test_after_five_wrong_passwords_even_the_right_one_is_refused(client, charlie):
    fail(client, 5)
    response = sign_in(client, PASSWORD)
    assert response.status_code == 429
    assert not is_signed_in(client)


def test_the_lockout_is_a_page_that_says_why_and_how_long(client, charlie):
    fail(client, 5)
    response = sign_in(client, PASSWORD)
    assert "registration/locked_out.html" in [t.name for t in response.templates]
    text = response.content.decode()
    assert "Too many failed sign-ins" in text
    assert "After 5 wrong passwords" in text and "<strong>charlie</strong>" in text
    assert "Try again in 15 minutes" in text


def test_a_successful_sign_in_clears_the_count(client, charlie):
    fail(client, 4)
    assert sign_in(client, PASSWORD).status_code == 302
    client.post(reverse("logout"))
    assert fail(client, 4).status_code == 200  # 8 failures in all, never 5 in a row
    assert sign_in(client, PASSWORD).status_code == 302
    assert is_signed_in(client)
    client.post(reverse("logout"))
    assert fail(client, 5).status_code == 429  # counted afresh from the last success


def test_a_guesser_elsewhere_does_not_lock_the_owner_out(client, charlie):
    fail(client, 6, ip="203.0.113.9")
    assert sign_in(client, PASSWORD, ip="203.0.113.9").status_code == 429
    assert sign_in(client, PASSWORD, ip="10.0.0.1").status_code == 302


def test_a_locked_username_leaves_other_accounts_at_that_address_alone(client, bob, charlie):
    assert fail(client, 5, username="charlie").status_code == 429
    assert sign_in(client, PASSWORD, username="bob").status_code == 302


def test_a_lockout_ends_after_the_cool_off(client, charlie):
    from datetime import timedelta

    from axes.models import AccessAttempt

    assert fail(client, 5).status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time
                                 - timedelta(minutes=16))
    assert sign_in(client, PASSWORD).status_code == 302


def test_signing_in_from_code_still_works_while_the_web_sign_in_is_locked(client, charlie):
    assert fail(client, 5).status_code == 429
    # Management commands and the test client's login() check passwords with no request.
    assert Client().login(username="charlie", password=PASSWORD)
    assert not Client().login(username="charlie", password="wrong")
    # And a session made without a password (the browser tests' sign-in) still works.
    client.force_login(charlie)
    assert client.get(reverse("runs:list")).status_code == 200



@pytest.fixture
def address_limit(settings) -> int:
    """A small per-address limit, above the per-username one (every wrong password costs
    a password hash: a test of twenty would take seconds)."""
    settings.R1WEB_LOGIN_ADDRESS_FAILURE_LIMIT = 7
    return 7


def test_one_address_trying_many_usernames_is_stopped(client, charlie, address_limit):
    # Issue 23: one wrong password each for 30 usernames was never slowed down.
    for number in range(address_limit - 1):
        assert fail(client, 1, username=f"user{number}").status_code == 200
    response = fail(client, 1, username="someone")
    assert response.status_code == 429
    assert f"After {address_limit} wrong passwords, signing in" in response.content.decode()
    assert sign_in(client, PASSWORD).status_code == 429  # from this address, for now


def test_many_usernames_tried_from_one_address_leave_other_addresses_alone(
    client, charlie, address_limit
):
    for number in range(address_limit + 1):
        fail(client, 1, username=f"user{number}", ip="203.0.113.9")
    assert sign_in(client, PASSWORD, ip="10.0.0.1").status_code == 302


def test_a_sign_in_of_ones_own_does_not_clear_the_addresss_count(
    client, bob, charlie, address_limit
):
    for number in range(address_limit - 1):
        fail(client, 1, username=f"user{number}")
    assert sign_in(client, PASSWORD, username="bob").status_code == 302
    client.post(reverse("logout"))
    assert fail(client, 1, username="another").status_code == 429
