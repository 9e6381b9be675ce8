from __future__ import annotations

import pytest

from workers.stages.tiny_base import CorpusSpec, ModelSpec, TrainSpec, build_tiny_base


@pytest.fixture(scope="session")
def micro_base(tmp_path_factory) -> str:
    """A ~40k-parameter base built in a couple of seconds: enough to exercise the
    stages end to end, far too small to learn the tasks."""
    path = tmp_path_factory.mktemp("micro-base")
    build_tiny_base(
        path, seed=0, corpus=CorpusSpec(),
        model_spec=ModelSpec(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                             num_attention_heads=2, num_key_value_heads=1),
        train=TrainSpec(n_examples=256, batch_size=32),
    )
    return str(path)


@pytest.fixture
def leaving(monkeypatch):
    """This process's shutdown (``workers.shutdown``), for the test to begin: as a worker
    sent SIGTERM, but its deadline exits nothing."""
    from workers import shutdown

    current = shutdown.Shutdown(exit=lambda code: None)
    monkeypatch.setattr(shutdown, "current", current)
    return current
