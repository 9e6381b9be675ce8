"""The ingestion API under hostile input (issue 23): every bad request gets a 4xx JSON
error that names the field, and changes nothing; never a 500, never an HTML page."""

from __future__ import annotations

import pytest

from r1web.audit.models import Action, AuditEvent
from r1web.runs.models import MetricPoint, Run
from r1web.runs.services import run_cancel
from r1web.traces.models import Sample
from tests.ingest.conftest import batch, completion

RECORDS = "/api/v1/runs/run-1/records/"


def _refused(response, status: int, message: str) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert message in response.json()["error"]


def _nothing_stored() -> None:
    assert not Sample.objects.exists() and not MetricPoint.objects.exists()


# --- lone surrogates (6) ---------------------------------------------------------

SURROGATE_BODIES = [
    (RECORDS, (rb'{"samples": [{"step": 1, "group": 0, "index": 0, "prompt": "p", '
              rb'"completion": "\ud800"}]}'), "samples[0].completion"),
    (RECORDS, rb'{"metrics": [{"step": 1, "values": {"\udfff": 1}}]}', "metrics[0].values"),
    (RECORDS, (rb'{"samples": [{"step": 1, "group": 0, "index": 0, "prompt": "p", '
              rb'"completion": "c", "rewards": {"\ud800x": 1}}]}'), "samples[0].rewards"),
    ("/api/v1/runs/run-1/finish/", rb'{"status": "failed", "error": "\ud800"}', "error"),
]


@pytest.mark.parametrize("url, body, field", SURROGATE_BODIES)
def test_a_lone_surrogate_in_a_body_is_refused_naming_its_field(api, url, body, field):
    api.open()
    response = api.post(url, None, raw=body)
    _refused(response, 400, field)
    assert "not valid Unicode" in response.json()["error"]
    assert response.json()["field"].startswith(field)
    _nothing_stored()
    assert Run.objects.get().status == "running"


@pytest.mark.parametrize("body, field", [
    (rb'{"key": "k", "name": "a\ud800"}', "name"),
    (rb'{"key": "k", "config": {"lr": {"\udc00": 1}}}', "config.lr"),
])
def test_a_lone_surrogate_in_a_new_run_is_refused_and_no_run_is_made(api, body, field):
    _refused(api.post("/api/v1/runs/", None, raw=body), 400, field)
    assert not Run.objects.exists()


def test_a_surrogate_pair_is_ordinary_text(api):
    api.open()
    body = (rb'{"samples": [{"step": 1, "group": 0, "index": 0, "prompt": "p", '
            rb'"completion": "\ud83d\ude00"}]}')
    assert api.post(RECORDS, None, raw=body).status_code == 200
    assert Sample.objects.get().completion == "\U0001f600"


# --- NUL bytes (7) ------------------------------------------------------------------


def test_a_nul_in_a_metric_key_is_refused_naming_it(api):
    api.open()
    response = api.records(metrics=[{"step": 1, "values": {"lo\x00ss": 1.0}}])
    _refused(response, 400, "metrics[0].values")
    _nothing_stored()


def test_a_nul_in_the_run_key_of_the_url_is_refused_naming_it(api):
    api.open()
    for url in ("/api/v1/runs/run%00-1/records/", "/api/v1/runs/run%00-1/finish/"):
        _refused(api.post(url, {"samples": batch()}), 400, "key")
    _nothing_stored()


# --- huge and non-finite numbers (4, 8) -------------------------------------------


def test_rewards_whose_sum_overflows_are_refused(api):
    api.open()
    sample = completion(1, 0, 0, rewards={"a": 1e308, "b": 1e308})
    del sample["reward"]  # the sum of the rewards stands in for it
    _refused(api.records(samples=[sample]), 400, "samples[0]")
    _nothing_stored()


def test_a_sum_of_rewards_within_bounds_part_by_part_but_not_in_total_is_refused(api):
    api.open()
    sample = completion(1, 0, 0, rewards={f"r{i}": 9e99 for i in range(64)})
    del sample["reward"]
    _refused(api.records(samples=[sample]), 400, "samples[0].reward")
    _nothing_stored()


def test_rewards_whose_step_mean_would_overflow_are_refused(api):
    # Each fits a float, their mean over the step does not (PostgreSQL: "value out of
    # range: overflow", a 500).
    api.open()
    samples = [completion(1, 0, i, reward=1e308) for i in range(2)]
    _refused(api.records(samples=samples), 400, "samples[0].reward")
    samples = [completion(1, 0, 0, advantage=1e200), completion(1, 0, 1, advantage=-1e200)]
    _refused(api.records(samples=samples), 400, "samples[0].advantage")
    _nothing_stored()


def test_an_integer_past_a_float_is_refused_as_a_metric(api):
    api.open()
    _refused(api.records(metrics=[{"step": 1, "values": {"loss": 10**400}}]), 400,
             "metrics[0].values.loss")
    _nothing_stored()


# --- JSON errors, always (12) --------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/runs/", RECORDS, "/api/v1/runs/run-1/finish/"])
def test_a_get_to_the_api_gets_a_json_405(client, url):
    response = client.get(url)
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json()["error"]


@pytest.mark.parametrize("url", ["/api/v1/nothing/", "/api/v2/runs/", "/api/v1/runs/k/"])
def test_an_unknown_api_path_gets_a_json_404(api, url):
    _refused(api.post(url, {}), 404, "no API endpoint")


def test_an_unexpected_error_in_the_api_gets_a_json_500(api, client, monkeypatch):
    api.open()

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("r1web.ingest.views.external_records_store", broken)
    client.raise_request_exception = False
    response = api.records(samples=batch())
    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    assert "a bug" not in response.json()["error"]


def test_a_token_without_the_role_gets_a_json_403(api_as, charlie):
    _refused(api_as(charlie).open(), 403, "operator")


def test_a_body_over_the_limit_gets_a_json_413(api, settings):
    api.open()
    settings.R1WEB_INGEST_MAX_BYTES = 100
    _refused(api.records(samples=batch()), 413, "100 bytes")


def test_pages_outside_the_api_keep_their_html_404(client, charlie):
    client.force_login(charlie)
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and "Page not found" in response.content.decode()


# --- finished runs (17), re-opening (15) ---------------------------------------------


def test_records_for_a_finished_run_are_refused_with_409(api):
    api.open()
    api.finish(status="succeeded")
    _refused(api.records(samples=batch()), 409, "succeeded")
    _nothing_stored()


def test_records_after_a_cancel_still_arrive_until_the_script_finishes(api, alice):
    api.open()
    run_cancel(run=Run.objects.get(), acting_user=alice)
    assert api.records(samples=batch()).json()["stop"] is True
    api.finish(status="cancelled")
    assert api.records(samples=batch(steps=(2,))).status_code == 409
    assert Sample.objects.filter(step=2).count() == 0


def test_reopening_a_cancelled_run_leaves_an_audit_row_naming_who(api, alice):
    api.open()
    run_cancel(run=Run.objects.get(), acting_user=alice)
    api.finish(status="succeeded")  # the script ends: the run is cancelled
    assert api.open().status_code == 200
    run = Run.objects.get()
    assert run.status == "running"
    event = AuditEvent.objects.filter(action=Action.RUN_RESUME).get()
    assert event.actor == alice and event.target_id == run.pk
    assert event.detail["was"] == "cancelled"


def test_reopening_a_running_run_writes_no_audit_row(api):
    api.open()
    api.open()
    assert not AuditEvent.objects.filter(action=Action.RUN_RESUME).exists()


# --- secrets in a run's config (14) --------------------------------------------------


def test_secrets_in_a_runs_config_are_stored_masked(api, client, charlie):
    config = {
        "hub_token": "hf_live_secret", "wandb_api_key": "k-123", "db_password": "pw1",
        "client_secret": "s3", "nested": {"openai_key": "sk-9", "list": [{"my_token": "t"}]},
        "learning_rate": 1e-6, "pad_token": None, "hub_model_id": "me/model",
    }
    api.open(config=config)
    stored = Run.objects.get().config
    text = str(stored) + str(Run.objects.get().stages.get().trl_config)
    for secret in ("hf_live_secret", "k-123", "pw1", "s3", "sk-9", "'t'"):
        assert secret not in text
    assert stored["learning_rate"] == 1e-6 and stored["hub_model_id"] == "me/model"
    assert stored["hub_token"] == stored["nested"]["openai_key"] == "***"
    assert stored["pad_token"] is None  # nothing set: nothing to hide
    client.force_login(charlie)
    page = client.get(Run.objects.get().get_absolute_url()).content.decode()
    assert "hf_live_secret" not in page

