"""The boundaries STYLE.md draws, checked by import-linter (contracts in .importlinter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_web_process_and_the_domain_never_import_the_ml_stack():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:]
    assert "0 broken" in done.stdout


def test_the_code_passes_ruff_with_the_projects_rules():
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run([str(ruff), "check", "--output-format", "concise", "."], check=False,
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:]
