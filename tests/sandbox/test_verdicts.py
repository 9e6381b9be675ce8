"""What a program run in the sandbox is told: its output, its verdict, the limit it hit."""

from __future__ import annotations

import shutil

import pytest

from r1domain.sandbox import (
    Case,
    Ending,
    Limit,
    Limits,
    SandboxError,
    SandboxPool,
    Status,
    run_cases,
    run_program,
)

TIGHT = Limits(cpu_seconds=1, wall_seconds=2)


def test_a_program_reads_its_input_and_its_output_comes_back():
    verdict = run_program("name = input()\nprint(f'hello {name}')", "world\n")

    assert verdict.status is Status.OK
    assert verdict.stdout == "hello world\n"
    assert verdict.exit_code == 0 and verdict.limit is None


def test_each_case_runs_on_its_own_input_in_one_sandbox():
    source = "import sys\nprint(sum(map(int, sys.stdin.read().split())))"
    verdicts = run_cases(source, [Case(stdin=f"{n} {n}") for n in range(4)])

    assert [v.stdout for v in verdicts] == ["0\n", "2\n", "4\n", "6\n"]


def test_a_program_may_write_files_in_its_scratch_directory_and_tmp():
    source = (
        "open('notes.txt', 'w').write('kept')\nopen('/tmp/more.txt', 'w').write('too')\n"
        "print(open('notes.txt').read(), open('/tmp/more.txt').read())"
    )
    verdict = run_program(source)

    assert verdict.status is Status.OK and verdict.stdout == "kept too\n"


def test_a_function_call_case_returns_the_value():
    verdicts = run_cases(
        "def double(x):\n    return x * 2", [Case(call=("double", [21])), Case(call=("double", ["a"]))]
    )

    assert [v.value for v in verdicts] == ["42", "'aa'"]


def test_an_exception_is_a_runtime_error_with_its_message():
    verdict = run_program("print('before')\n1 / 0")

    assert verdict.status is Status.RUNTIME_ERROR
    assert verdict.ending is Ending.EXCEPTION
    assert verdict.reason == "ZeroDivisionError: division by zero"
    assert verdict.stdout == "before\n"


def test_a_non_zero_exit_status_is_a_runtime_error():
    verdict = run_program("import sys\nsys.exit(3)")

    assert verdict.status is Status.RUNTIME_ERROR and verdict.exit_code == 3


def test_a_syntax_error_is_a_compile_error_for_every_case():
    verdicts = run_cases("def f(:\n    pass", [Case(), Case()])

    assert [v.status for v in verdicts] == [Status.COMPILE_ERROR] * 2
    assert "SyntaxError" in verdicts[0].reason


def test_an_infinite_loop_is_stopped_at_its_cpu_limit():
    # A wall limit far above the CPU one: on a busy machine a loop gets less than a core.
    verdict = run_program("while True:\n    pass", limits=Limits(cpu_seconds=1, wall_seconds=20))

    assert verdict.status is Status.TIMEOUT and verdict.limit is Limit.CPU
    assert 0.5 < verdict.cpu_s < 3


def test_a_program_that_sleeps_is_stopped_at_its_wall_limit():
    verdict = run_program("import time\ntime.sleep(60)", limits=TIGHT)

    assert verdict.status is Status.TIMEOUT and verdict.limit is Limit.WALL
    assert verdict.duration_s < 4


def test_a_huge_allocation_is_a_memory_verdict():
    verdict = run_program("block = bytearray(8 * 2**30)", limits=Limits(memory_mb=256))

    assert verdict.status is Status.MEMORY and verdict.limit is Limit.MEMORY
    assert "256 MiB" in verdict.reason


def test_output_past_the_cap_is_cut_and_the_program_killed():
    verdict = run_program(
        "import sys\nline = 'x' * 65536\nwhile True:\n    sys.stdout.write(line)",
        limits=Limits(output_kb=256),
    )

    assert verdict.status is Status.OUTPUT_LIMIT and verdict.limit is Limit.OUTPUT
    assert len(verdict.stdout) <= 256 * 1024


def test_a_program_killed_by_a_signal_says_which():
    verdict = run_program("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")

    assert verdict.status is Status.RUNTIME_ERROR
    assert verdict.reason == "killed by SIGSEGV"


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_a_cpp_program_is_compiled_once_and_run_per_case():
    source = "#include <cstdio>\nint main(){long a,b;scanf(\"%ld %ld\",&a,&b);printf(\"%ld\\n\",a*b);}"
    verdicts = run_cases(source, [Case(stdin="6 7"), Case(stdin="3 3")], language="cpp")

    assert [v.stdout for v in verdicts] == ["42\n", "9\n"]


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_a_cpp_program_that_does_not_compile_says_so():
    verdict = run_program("int main( { return 0; }", language="cpp")

    assert verdict.status is Status.COMPILE_ERROR
    assert "error" in verdict.stderr


def test_an_unknown_language_is_refused_before_anything_runs():
    with pytest.raises(SandboxError, match="unknown language 'cobol'"):
        run_program("DISPLAY 'HI'.", language="cobol")


def test_a_limit_that_is_not_positive_is_refused():
    with pytest.raises(SandboxError, match="cpu_seconds must be a positive number"):
        Limits(cpu_seconds=0)


def test_the_pool_runs_programs_side_by_side_and_keeps_their_order():
    pool = SandboxPool(workers=2)
    try:
        verdicts = pool.map(run_program, [f"print({n} * {n})" for n in range(6)])
    finally:
        pool.shutdown()

    assert [v.stdout for v in verdicts] == [f"{n * n}\n" for n in range(6)]


def test_the_output_of_all_cases_together_is_capped_too(monkeypatch):
    from r1domain.sandbox import runner

    monkeypatch.setattr(runner, "TOTAL_OUTPUT_BYTES", 3 * 2**20)
    source = "import sys\nsys.stdout.write('x' * 900_000)"
    verdicts = run_cases(source, [Case()] * 8)

    assert verdicts[0].ok and len(verdicts[0].stdout) == 900_000
    assert verdicts[-1].status is Status.OUTPUT_LIMIT
    assert "in all" in verdicts[-1].reason
