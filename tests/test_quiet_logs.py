"""Logs say what matters: no warning on every command, none in every worker log that
nobody can act on. Each check runs a fresh interpreter, as a command or a worker does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

QUEUE_A_MESSAGE = r"""
import django
django.setup()
from r1web.celery import app
with app.connection_for_write() as connection:
    connection.info()  # what publishing a task does (kombu clones the connection)
print("connected")
"""

GRADIENT_CHECKPOINTING = r"""
import workers.stages  # noqa: F401  what a worker imports before it trains
from transformers import AutoConfig, AutoModelForCausalLM
config = AutoConfig.for_model("qwen2", hidden_size=16, intermediate_size=32,
                              num_hidden_layers=1, num_attention_heads=2,
                              num_key_value_heads=1, vocab_size=64)
model = AutoModelForCausalLM.from_config(config)
# What TRL does around every generation of a GRPO step.
model.gradient_checkpointing_enable()
assert model.is_gradient_checkpointing
model.gradient_checkpointing_disable()
print("trained")
"""


def _python(script: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "DJANGO_SETTINGS_MODULE": "r1web.settings",
               "R1WEB_VAR_DIR": str(tmp_path)}
    environ.pop("CELERY_BROKER_URL", None)  # the embedded default, as `make demo` runs
    environ.update(env)
    return subprocess.run([sys.executable, "-W", "default", "-c", script], check=False, cwd=ROOT,
                          env=environ, capture_output=True, text=True, timeout=300)


def test_queueing_on_the_embedded_broker_prints_no_hostname_warning(tmp_path):
    done = _python(QUEUE_A_MESSAGE, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "connected" in done.stdout
    assert "hostname" not in done.stderr.lower(), done.stderr


@pytest.mark.slow
def test_a_worker_logs_no_future_warning_for_trl_s_gradient_checkpointing(tmp_path):
    done = _python(GRADIENT_CHECKPOINTING, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "trained" in done.stdout
    assert "FutureWarning" not in done.stderr, done.stderr
