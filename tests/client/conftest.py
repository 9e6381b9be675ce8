"""A real r1web for the client to talk to: gunicorn on the test database, started and
stopped at will (an outage), and a tiny model to train."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import database_url

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Server:
    """gunicorn serving r1web on the test database, as in production (two workers)."""

    def __init__(self, env: dict) -> None:
        self.env, self.port = env, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = ROOT / "var" / "log" / f"gunicorn-test-{self.port}.log"

    def start(self) -> Server:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "r1web.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "120",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while not port_open(self.port):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"gunicorn did not start; see {self.log}")
            time.sleep(0.2)
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: requests in flight die with it."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        while port_open(self.port):
            time.sleep(0.1)


@pytest.fixture
def r1web_server(transactional_db):
    env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1"}
    server = Server(env).start()
    yield server
    server.kill()


@pytest.fixture
def operator_token(transactional_db, django_user_model) -> str:
    from r1web.accounts.roles import role_grant
    from r1web.ingest.services import token_create

    user = django_user_model.objects.create_user(username="trainer")
    role_grant(user=user, role="operator")
    return token_create(user=user, name="tests")[1]
