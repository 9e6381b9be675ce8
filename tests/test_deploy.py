"""The deployment files a user runs: docker-compose.yml, the images, the CI script."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_the_database_broker_web_and_both_workers():
    services = compose()["services"]
    assert {"postgres", "redis", "web", "worker", "gpu-worker"} <= set(services)
    assert "gunicorn" in services["web"]["command"]
    assert services["worker"]["command"][services["worker"]["command"].index("-Q") + 1] == "cpu"


def test_the_gpu_worker_reserves_an_nvidia_device_and_runs_one_stage_at_a_time():
    gpu = compose()["services"]["gpu-worker"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    command = gpu["command"]
    assert command[command.index("-Q") + 1] == "gpu"
    assert command[command.index("--concurrency") + 1] == "1"
    dockerfile = ROOT / gpu["build"]["dockerfile"]
    assert "requirements-gpu.txt" in dockerfile.read_text()
    assert "vllm" in (ROOT / "requirements-gpu.txt").read_text()


def test_docker_lets_a_stopping_worker_hand_its_stage_back_before_it_kills_it(settings):
    # docker stop sends SIGTERM, then SIGKILL after stop_grace_period (10 s by default).
    for name in ("worker", "gpu-worker"):
        grace = compose()["services"][name]["stop_grace_period"]
        assert int(grace.removesuffix("s")) > settings.R1WEB_SHUTDOWN_SECONDS


def test_every_app_service_points_at_postgres_and_redis_and_keeps_its_data_in_volumes():
    data = compose()
    for name in ("web", "worker", "gpu-worker"):
        service = data["services"][name]
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["CELERY_BROKER_URL"].startswith("redis://")
        mounted = {volume.split(":")[0] for volume in service["volumes"]}
        assert {"models", "runs", "datasets"} <= mounted <= set(data["volumes"])
        assert (ROOT / service["build"]["dockerfile"]).is_file()
    assert "pgdata" in data["volumes"]


def test_ci_runs_the_readme_test_command_against_postgres_and_redis():
    script = (ROOT / ".ci" / "run").read_text()
    assert "make test" in script and "make test" in (ROOT / "README.md").read_text()
    assert "DATABASE_URL" in script and "CELERY_BROKER_URL" in script


# `manage.py check --deploy` under the web service's environment ---------------------

REALISTIC = {
    "SECRET_KEY": "Zx8rT2qLw9vN4mB7kJ3hG6fD1sA5pO0iU8yT2rE6wQ9zX3cV7bN4mK1jH5gF8dS2aL",
    "ALLOWED_HOSTS": "r1web.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://r1web.example.org",
}
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, as compose reads them.
VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: str, given: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        if name in given and (given[name] or not op.startswith(":")):
            return given[name]
        if op.endswith("?"):
            raise AssertionError(f"compose needs {name}: {arg}")
        return arg
    return VARIABLE.sub(replace, str(value).replace("$$", "\0")).replace("\0", "$")


def web_environment(given: dict[str, str]) -> dict[str, str]:
    env = compose()["services"]["web"]["environment"]
    return {name: interpolate(value, given) for name, value in env.items()}


def test_interpolation_reads_compose_variables_as_compose_does():
    given = {"A": "a", "EMPTY": ""}
    assert interpolate("${A}/${B:-b}/${EMPTY:-e}/${EMPTY-e}/$${A}", given) == "a/b/e//${A}"
    with pytest.raises(AssertionError, match="needs B"):
        interpolate("${B:?set B}", given)


def test_the_web_service_runs_behind_tls_with_secure_cookies_and_hsts():
    env = web_environment(REALISTIC)
    for name in ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT",
                 "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD"):
        assert env[name] == "true", name
    assert int(env["SECURE_HSTS_SECONDS"]) >= 31536000
    assert env["SECURE_PROXY_SSL_HEADER"] == "X-Forwarded-Proto: https"
    with pytest.raises(AssertionError, match="needs SECRET_KEY"):
        web_environment({})  # never the embedded key: compose stops without one


def test_check_deploy_passes_without_a_warning_under_the_web_services_environment(tmp_path):
    env = web_environment(REALISTIC) | {
        "R1WEB_VAR_DIR": str(tmp_path),  # instead of the container's /data
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
    }
    process = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    assert "System check identified no issues" in process.stdout



def test_the_gpu_worker_takes_its_gpu_count_from_the_environment():
    gpu = compose()["services"]["gpu-worker"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["count"] == "${R1WEB_GPUS:-1}"
    assert gpu["environment"]["R1WEB_GPUS"] == "${R1WEB_GPUS:-1}"  # a stage checks against it


def test_workers_of_one_host_share_the_folder_they_size_their_threads_by():
    services = compose()["services"]
    for name in ("worker", "gpu-worker"):
        service = services[name]
        folder = service["environment"]["R1WEB_TRAINERS_DIR"]
        assert any(volume.endswith(f":{folder}") for volume in service["volumes"]), name
