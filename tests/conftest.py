"""Shared fixtures: named users with different rights (after healthchecks' alice, bob
and charlie), and small factories for runs, stages and samples."""

from __future__ import annotations

import pytest

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: a rolled-back test can leave ids that the
    next one reuses (SQLite), and cached run figures are keyed by ids."""
    from django.core.cache import cache

    cache.clear()


def _user(django_user_model, username: str, role: str | None):
    from r1web.accounts.roles import role_grant

    user = django_user_model.objects.create_user(username=username, password=PASSWORD)
    if role:
        role_grant(user=user, role=role)
    return user


@pytest.fixture
def alice(db, django_user_model):
    """An operator: launches, cancels and resumes runs."""
    return _user(django_user_model, "alice", "operator")


@pytest.fixture
def bob(db, django_user_model):
    """A curator: flags samples and curates cold-start data."""
    return _user(django_user_model, "bob", "curator")


@pytest.fixture
def charlie(db, django_user_model):
    """A viewer: reads everything, writes nothing."""
    return _user(django_user_model, "charlie", "viewer")


@pytest.fixture
def operator(client, alice):
    """The test client, signed in as alice (operator)."""
    client.force_login(alice)
    return client


@pytest.fixture
def curator(client, bob):
    """The test client, signed in as bob (curator)."""
    client.force_login(bob)
    return client


@pytest.fixture
def viewer(client, charlie):
    """The test client, signed in as charlie (viewer)."""
    client.force_login(charlie)
    return client


@pytest.fixture(scope="session")
def micro_base(tmp_path_factory) -> str:
    """A ~40k-parameter base built in a couple of seconds: enough to exercise the
    stages end to end, far too small to learn the tasks."""
    from workers.stages.tiny_base import CorpusSpec, ModelSpec, TrainSpec, build_tiny_base

    path = tmp_path_factory.mktemp("micro-base")
    build_tiny_base(
        path, seed=0, corpus=CorpusSpec(),
        model_spec=ModelSpec(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                             num_attention_heads=2, num_key_value_heads=1),
        train=TrainSpec(n_examples=256, batch_size=32),
    )
    return str(path)


@pytest.fixture(scope="session")
def mini_base(tmp_path_factory):
    """A base model like the demo's tiny base, trained on far less (about 15 seconds)."""
    from workers.stages.tiny_base import TrainSpec, build_tiny_base

    out = tmp_path_factory.mktemp("mini-base")
    build_tiny_base(out, train=TrainSpec(n_examples=128, batch_size=32, warmup_steps=1))
    return out


@pytest.fixture
def make_run(db):
    """A run with one GRPO stage, built directly (no worker)."""
    from r1web.runs.models import Recipe, Run, Stage, StageKind

    def make(name: str = "demo run", status: str = "running", **stage_fields) -> Stage:
        run = Run.objects.create(name=name, recipe=Recipe.R1_ZERO, status=status)
        fields = {"position": 0, "name": "GRPO", "kind": StageKind.GRPO, "status": status}
        return Stage.objects.create(run=run, **{**fields, **stage_fields})

    return make


@pytest.fixture
def make_samples(db):
    """Store SampleRecords for a stage through the real write path."""
    from r1domain.base import SampleRecord
    from r1web.traces.services import samples_record

    def make(stage, steps: int = 3, groups: int = 2, per_group: int = 4, **overrides) -> None:
        records = []
        for step in range(1, steps + 1):
            for group in range(groups):
                for index in range(per_group):
                    correct = index % 2 == 0
                    fields = dict(
                        step=step, group=group, index=index,
                        prompt=f"What is the largest of 3, {group}, 7? (step {step})",
                        completion=f"<think>compare {index}. wait, recheck</think><answer>{7 if correct else 3}</answer>",
                        think=f"compare {index}. wait, recheck", answer="7" if correct else "3",
                        reference="7", rewards={"accuracy": float(correct), "format": 1.0},
                        reward=float(correct) + 1.0, advantage=1.0 if correct else -1.0,
                        length_tokens=10 + index + step, correct=correct, format_ok=True,
                        reflection_phrases=["wait", "recheck"] if index == 0 else [],
                        example_key=f"synthetic:{group}",
                    )
                    fields.update(overrides)
                    records.append(SampleRecord(**fields))
        samples_record(stage=stage, records=records)

    return make
