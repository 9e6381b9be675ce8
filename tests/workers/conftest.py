from __future__ import annotations

import pytest


@pytest.fixture
def leaving(monkeypatch):
    """This process's shutdown (``workers.shutdown``), for the test to begin: as a worker
    sent SIGTERM, but its deadline exits nothing."""
    from workers import shutdown

    current = shutdown.Shutdown(exit=lambda code: None)
    monkeypatch.setattr(shutdown, "current", current)
    return current
