from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from r1web.traces.models import Flag, Sample
from tests.conftest import PASSWORD


@pytest.fixture
def flagged_sample(make_run, make_samples, bob):
    stage = make_run()
    make_samples(stage, steps=1, groups=1, per_group=1)
    sample = Sample.objects.get()
    flag = Flag.objects.create(sample=sample, run=sample.run, step=1, label="reflection", created_by=bob)
    return sample, flag


def _write_urls(sample, flag) -> list[str]:
    run_pk = sample.run_id
    return [
        reverse("runs:launch", args=["r1-zero"]),
        reverse("runs:cancel", args=[run_pk]),
        reverse("runs:resume", args=[run_pk]),
        reverse("traces:flag", args=[sample.pk]),
        reverse("traces:unflag", args=[flag.pk]),
    ]


def test_a_viewer_gets_403_on_every_write(client, charlie, flagged_sample):
    client.force_login(charlie)
    for url in _write_urls(*flagged_sample):
        response = client.post(url, {"label": "aha", "recipe": "r1-zero"})
        assert response.status_code == 403, url
    assert Flag.objects.count() == 1


def test_a_curator_cannot_launch_cancel_or_resume_runs(client, bob, flagged_sample):
    client.force_login(bob)
    for url in _write_urls(*flagged_sample)[:3]:
        assert client.post(url).status_code == 403, url


def test_a_post_without_a_csrf_token_is_refused(alice, flagged_sample):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    for url in _write_urls(*flagged_sample):
        assert client.post(url, {"label": "aha"}).status_code == 403, url
    assert Flag.objects.count() == 1


def test_a_post_with_the_csrf_token_goes_through(bob, flagged_sample):
    sample, _ = flagged_sample
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    page = client.get(reverse("traces:sample", args=[sample.pk]))
    token = page.cookies["csrftoken"].value
    response = client.post(reverse("traces:flag", args=[sample.pk]), {"label": "aha"}, headers={"X-CSRFToken": token})
    assert response.status_code == 302
    assert Flag.objects.filter(label="aha").exists()


@pytest.mark.parametrize("name", ["runs:list", "traces:list"])
def test_every_page_needs_sign_in(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_signing_in_leads_to_the_runs(client, charlie):
    response = client.post(reverse("login"), {"username": "charlie", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("runs:list")
    assert b"charlie" in response.content


def test_create_user_prints_a_login_that_works(db, capsys):
    call_command("create_user", "dora", "--role", "curator", "--password", "s3cret-pass")
    out = capsys.readouterr().out
    assert "login: dora  password: s3cret-pass" in out
    assert Client().login(username="dora", password="s3cret-pass")
    from django.contrib.auth import get_user_model

    from r1web.accounts.roles import role_of

    assert role_of(get_user_model().objects.get(username="dora")) == "curator"


def test_create_user_makes_up_a_password_when_none_is_given(db, capsys):
    call_command("create_user", "erin", "--role", "operator")
    password = capsys.readouterr().out.split("password: ")[1].strip()
    assert Client().login(username="erin", password=password)
