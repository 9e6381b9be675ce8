"""Real worker processes for integration tests.

The test process and the worker share the test database (committed data, so tests use
``transaction=True``) and the broker the settings name: Redis in CI, the file broker in
the embedded mode. Each test session uses its own queue, so tasks left in a broker by
an earlier session can never reach these workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
QUEUE = f"test-{uuid.uuid4().hex[:8]}"


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    def __init__(self, env: dict) -> None:
        self.env = env
        self.process: subprocess.Popen | None = None
        self.log = ROOT / "var" / "log" / f"worker-{QUEUE}.log"

    def start(self) -> Worker:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "celery", "-A", "r1web", "worker", "-Q", QUEUE,
                   "--pool", "solo", "--concurrency", "1", "--loglevel", "INFO",
                   "--hostname", f"{QUEUE}-{uuid.uuid4().hex[:4]}@%h", "--without-mingle",
                   "--without-gossip"]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        """SIGKILL: the worker gets no chance to clean up, like an OOM kill."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def queue() -> str:
    return QUEUE


@pytest.fixture
def worker_env(transactional_db, settings) -> dict:
    settings.R1WEB_STALE_AFTER_SECONDS = 8
    settings.R1WEB_QUEUES = ["cpu", "gpu", QUEUE]
    env = {
        **os.environ,
        "R1WEB_QUEUES": f"cpu,gpu,{QUEUE}",
        "DATABASE_URL": database_url(),
        "R1WEB_HEARTBEAT_SECONDS": "1",
        "R1WEB_STALE_AFTER_SECONDS": "8",
        "PYTHONUNBUFFERED": "1",
    }
    return env


@pytest.fixture
def start_worker(worker_env):
    workers: list[Worker] = []

    def start() -> Worker:
        worker = Worker(worker_env).start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture(scope="session")
def tiny_base() -> Path:
    """The demo's tiny base, built once (a few minutes) and kept under var/."""
    from workers.stages.tiny_base import build_tiny_base

    path = Path(settings.TINY_BASE_DIR)
    if not (path / "config.json").is_file():
        build_tiny_base(path, seed=0)
    return path


def wait_for(predicate, timeout: float, what: str, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def assert_every_completion_stored_once(stage) -> None:
    """A finished GRPO stage holds steps x completions per step training samples, one
    for each step, group and index: what a resume must keep after any interruption."""
    from django.db.models import Count

    from r1web.traces.models import Sample

    steps, per_step = stage.result["steps"], stage.result["completions_per_step"]
    trained = stage.samples.filter(probe=False)
    assert trained.count() == steps * per_step
    duplicates = (
        Sample.objects.filter(stage=stage).values("step", "group", "index", "probe")
        .annotate(n=Count("id")).filter(n__gt=1)
    )
    assert not duplicates.exists()
    assert set(trained.values_list("step", flat=True)) == set(range(1, steps + 1))
