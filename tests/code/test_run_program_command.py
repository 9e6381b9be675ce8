"""``manage.py run_program``: one program in the sandbox, its verdict printed."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command


def run(*args: str) -> tuple[dict, int]:
    out = io.StringIO()
    try:
        call_command("run_program", *args, "--json", stdout=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return json.loads(out.getvalue()), code


def test_it_prints_the_verdict_output_and_exit_status_as_json(tmp_path):
    program = tmp_path / "add.py"
    program.write_text("import sys\nprint(sum(map(int, sys.stdin.read().split())))\n")
    numbers = tmp_path / "in.txt"
    numbers.write_text("3 4\n")

    shown, code = run(str(program), "--stdin", str(numbers))

    assert code == 0
    assert (shown["verdict"], shown["exit_status"], shown["limit"]) == ("ok", 0, None)
    assert shown["stdout"] == "7\n"


def test_a_program_stopped_by_a_limit_says_which_and_the_command_fails(tmp_path):
    program = tmp_path / "sleeps.py"
    program.write_text("import time\ntime.sleep(60)\n")

    shown, code = run(str(program), "--cpu-seconds", "1", "--wall-seconds", "1")

    assert code == 1
    assert (shown["verdict"], shown["limit"]) == ("timeout", "wall")
    assert shown["reason"] == "still running after 1 s"


def test_a_missing_file_is_an_error_not_a_verdict(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("run_program", str(tmp_path / "nope.py"))


def test_a_limit_that_cannot_be_is_refused_as_a_command_error(tmp_path):
    program = tmp_path / "ok.py"
    program.write_text("print(1)\n")

    with pytest.raises(CommandError, match="wall_seconds must be at least cpu_seconds"):
        call_command("run_program", str(program), "--cpu-seconds", "5", "--wall-seconds", "1")
