"""Issue 24 in real Chromium with real Celery workers: a run's page says why it waits (no
worker on its queue, then a worker busy with an older run), shows a stage whose worker was
SIGKILLed as lost with Resume, without a reload and with no worker running, and Resume
with a new worker finishes the run with every completion stored once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from r1web.runs.models import Stage, StageKind
from r1web.runs.recipes import launch
from r1web.runs.services import run_cancel
from tests.browser.conftest import assert_no_serious_axe_violations
from tests.integration.conftest import assert_every_completion_stored_once, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TINY = {"max_steps": 8, "eval_k": 1, "eval_limit": 2,
        "grpo_config": {"per_device_train_batch_size": 8, "num_generations": 4,
                        "max_completion_length": 32, "save_steps": 2}}
POLL_SECONDS = 3  # the stages fragment's hx-trigger


@pytest.mark.slow
def test_a_run_page_says_why_it_waits_and_resumes_a_stage_whose_worker_was_killed(
    page, sign_in, alice, tiny_base, start_worker, queue
):
    from playwright.sync_api import expect

    sign_in(alice)
    run = launch("r1-zero", TINY, queue=queue, user=alice)
    page.goto(run.get_absolute_url())
    expect(page.locator("#waiting")).to_contain_text(
        f"evaluate base is queued: no worker is listening on queue {queue}: start one")

    worker = start_worker()
    grpo = run.stages.get(kind=StageKind.GRPO)
    wait_for(lambda: Stage.objects.filter(pk=grpo.pk, status="running").exists(), 300,
             "GRPO to start")
    later = launch("r1-zero", TINY, queue=queue, user=alice)
    page.goto(later.get_absolute_url())
    expect(page.locator("#waiting")).to_contain_text(
        f"the worker on queue {queue} is busy with run #{run.pk}")

    page.goto(run.get_absolute_url())
    wait_for(lambda: grpo.samples.filter(step__gte=3).exists(), 300, "GRPO to reach step 3")
    worker.kill()
    run_cancel(run=later, acting_user=alice)  # it would only wait behind the resumed run

    # No reload: the polled fragment turns the stage lost once its heartbeat is older
    # than the limit, and offers Resume, while no worker runs.
    limit = settings.R1WEB_STALE_AFTER_SECONDS + POLL_SECONDS + 2
    expect(page.locator(f"#stage-{grpo.pk} .status-lost")).to_have_text(
        "lost", timeout=limit * 1000)
    expect(page.locator(f"#notice-{grpo.pk}")).to_contain_text("GRPO lost its worker")
    page.locator("#waiting").get_by_role("button", name="Resume").click()
    expect(page.locator(".messages")).to_contain_text("resumes at stage GRPO")

    start_worker()
    expect(page.locator("#stages .badge")).to_have_text("succeeded", timeout=400_000)
    grpo.refresh_from_db()
    assert grpo.attempt == 2
    assert_every_completion_stored_once(grpo)


def test_a_lost_stage_s_notice_and_resume_pass_axe(page, sign_in, alice, make_run):
    from playwright.sync_api import expect

    lost = make_run(status="running", worker="gpu-host", step=6, total_steps=20,
                    heartbeat_at=timezone.now() - timedelta(minutes=10))
    sign_in(alice)
    for url in (lost.run.get_absolute_url(), lost.get_absolute_url()):
        page.goto(url)
        expect(page.locator(f"#notice-{lost.pk}")).to_contain_text("GRPO lost its worker gpu-host")
        expect(page.locator("#waiting").get_by_role("button", name="Resume")).to_be_visible()
        assert_no_serious_axe_violations(page)
