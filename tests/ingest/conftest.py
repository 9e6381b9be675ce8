"""API tokens for the named users, and a small client for the ingestion API."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse


@pytest.fixture
def token_of(db):
    """``token_of(user)``: a new API token's secret for ``user``."""
    from r1web.ingest.services import token_create

    def make(user) -> str:
        return token_create(user=user, name=f"{user.username}'s script")[1]

    return make


class Api:
    """POSTs JSON bodies to the ingestion API with a bearer token, like r1web_client."""

    def __init__(self, client, secret: str) -> None:
        self.client, self.secret = client, secret

    def post(self, url: str, body, *, raw: bytes | None = None):
        data = raw if raw is not None else json.dumps(body)
        return self.client.generic(
            "POST",
            url,
            data,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {self.secret}",
        )

    def open(self, key: str = "run-1", **fields):
        return self.post(reverse("ingest:api_runs"), {"key": key, "name": "my TRL run", **fields})

    def records(self, key: str = "run-1", **body):
        return self.post(reverse("ingest:api_records", args=[key]), body)

    def finish(self, key: str = "run-1", **body):
        return self.post(reverse("ingest:api_finish", args=[key]), body)


@pytest.fixture
def api(client, alice, token_of) -> Api:
    """The ingestion API as alice (operator), through her token."""
    return Api(client, token_of(alice))


@pytest.fixture
def api_as(client, token_of):
    return lambda user: Api(client, token_of(user))


def completion(step: int, group: int, index: int, **fields) -> dict:
    """One completion as r1web_client sends it."""
    correct = index % 2 == 0
    return {
        "step": step,
        "group": group,
        "index": index,
        "prompt": f"What is {group} + 7? (step {step})",
        "completion": f"<think>add them. wait, recheck</think> <answer>{group + 7 if correct else 0}</answer>",
        "rewards": {"accuracy_reward": float(correct), "format_reward": 1.0},
        "reward": float(correct) + 1.0,
        "advantage": 1.0 if correct else -1.0,
        "length_tokens": 12 + index,
        "reference": str(group + 7),
        **fields,
    }


def batch(steps=(1,), groups: int = 2, per_group: int = 4) -> list[dict]:
    return [completion(s, g, i) for s in steps for g in range(groups) for i in range(per_group)]
