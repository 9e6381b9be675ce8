"""The web process never loads the ML stack: a gunicorn worker that imported torch would
carry 350 MiB more and hold the import lock for seconds on its first launch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ML_STACK = ("torch", "transformers", "trl", "datasets", "accelerate", "vllm")

# Runs in a fresh interpreter: this test process has long imported torch for other tests.
SCRIPT = r"""
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.conf import settings
from django.test import Client
from django.urls import reverse
from r1web.accounts.roles import role_grant
from django.contrib.auth.models import User
from r1web.datasets.services import dataset_version_create
from r1web.runs.recipes import RECIPES

user = User.objects.create_user("alice", password="pw-alice-123")
role_grant(user=user, role="operator")
for name in ("cold", "general"):
    dataset_version_create(name=name, kind="sft", source="test", records=[
        {"prompt": "Find the largest of 1 2", "answer": "2",
         "completion": "|special_token|2 > 1|special_token|2"}])
dataset_version_create(name="pairs", kind="preference", source="test", records=[
    {"prompt": "Find the largest of 1 2", "completion": "|special_token|2 > 1|special_token|2",
     "rejected": "|special_token|no|special_token|1"}])
client = Client()
client.force_login(user)
statuses = {}
for name in RECIPES:
    url = reverse("runs:launch", args=[name])
    client.get(url)
    data = {"queue": "cpu", "max_steps": "3"}
    if name == "cold-start-sft":
        data["dataset"] = "cold"
    if name == "mix":
        data.update(sources="cold,general", proportions="0.75,0.25")
    if name == "rejection-sampling":
        data["model"] = "tiny-base"
    if name == "reward-model":
        data["preferences"] = "pairs"
    statuses[name] = client.post(url, data).status_code
for page in ("runs:list", "runs:new", "datasets:list", "traces:list"):
    client.get(reverse(page))
loaded = sorted(m for m in ML_STACK if m in sys.modules)
print(json.dumps({"statuses": statuses, "loaded": loaded}))
""".replace("ML_STACK", repr(ML_STACK))


@pytest.mark.slow
def test_launching_every_recipe_from_its_form_loads_no_ml_library(tmp_path):
    models = tmp_path / "models"
    (models / "tiny-base").mkdir(parents=True)
    (models / "tiny-base" / "config.json").write_text("{}")
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "R1WEB_VAR_DIR": str(tmp_path),
        "R1WEB_TINY_BASE": str(models / "tiny-base"),
        "CELERY_BROKER_URL": "memory://",
        "DJANGO_SETTINGS_MODULE": "r1web.settings",
    }
    done = subprocess.run([sys.executable, "-c", SCRIPT], check=False, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # Every form really launched (a refused form would prove nothing).
    assert set(report["statuses"].values()) == {302}, report["statuses"]
    assert report["loaded"] == []
