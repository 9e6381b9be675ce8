"""The deployment files a user runs: docker-compose.yml, the images, the CI script."""

from __future__ import annotations

from pathlib import Path

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
