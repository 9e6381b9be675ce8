from __future__ import annotations

import json

import pytest

from r1domain.datafiles import DatasetFileError, parse_jsonl_bytes
from r1domain.general import general_examples, number_word
from r1web.datasets.models import Dataset, DatasetVersion, Example
from r1web.datasets.services import (
    DatasetError,
    dataset_import_file,
    non_reasoning_dataset_ensure,
)


def all_records(seed: int) -> list[dict]:
    train, test = general_examples(seed)
    return train + test


def test_the_general_set_has_a_few_hundred_short_sft_pairs_with_a_held_out_split():
    train, test = general_examples(seed=0)
    records = train + test
    assert 250 <= len(records) <= 600
    assert len({r["key"] for r in records}) == len(records)
    assert {r["task"] for r in records} == {"general"}
    assert all(r["completion"] and not r["answer"] for r in records)
    assert {r["split"] for r in train} == {"train"} and {r["split"] for r in test} == {"test"}
    assert 0.05 < len(test) / len(records) < 0.25
    # Short enough for a model with a 256-token context.
    assert max(len(r["prompt"]) + len(r["completion"]) for r in records) < 80


def test_it_teaches_what_a_tiny_model_can_learn():
    by_key = {r["key"]: r for r in all_records(seed=0)}
    assert by_key["general:opposite:hot"]["completion"] == "The opposite of hot is cold."
    assert by_key["general:number-word:7"]["completion"] == "seven"
    assert by_key["general:capitals:cat"]["completion"] == "CAT"
    assert by_key["general:greet:Ann"]["completion"] == "Hello, Ann!"
    assert number_word(42) == "forty-two" and number_word(90) == "ninety"


def test_only_rule_families_are_held_out_so_the_test_split_measures_generalisation():
    _, test = general_examples(seed=0)
    families = {r["provenance"]["family"] for r in test}
    assert families and not families & {"opposite", "number-word", "word-number", "french"}


def test_the_same_seed_gives_the_same_set_and_the_seed_varies_the_phrasing():
    assert general_examples(seed=1) == general_examples(seed=1)
    prompts = {seed: {r["key"]: r["prompt"] for r in all_records(seed)} for seed in (0, 1)}
    assert prompts[0].keys() == prompts[1].keys() and prompts[0] != prompts[1]


@pytest.mark.django_db
def test_the_demo_general_dataset_is_an_sft_version_made_once_per_seed():
    version = non_reasoning_dataset_ensure()
    assert (version.dataset.name, version.dataset.kind) == ("demo-general", Dataset.Kind.SFT)
    assert version.splits["train"] > version.splits["test"] > 0
    assert non_reasoning_dataset_ensure() == version


# --- importing non-reasoning files ----------------------------------------------------

CHAT = {"messages": [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "What is the opposite of hot?"},
    {"role": "assistant", "content": "Cold."},
]}


def lines(*rows) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def test_prompt_response_lines_become_general_sft_examples():
    [example] = parse_jsonl_bytes(lines({"prompt": "Say hi", "response": "Hi!"}), "g.jsonl")
    assert (example["prompt"], example["completion"], example["answer"], example["task"]) == (
        "Say hi", "Hi!", "", "general"
    )


def test_a_chat_keeps_the_last_reply_as_completion_and_the_history_as_prompt():
    [example] = parse_jsonl_bytes(lines(CHAT), "chat.jsonl")
    assert example["completion"] == "Cold."
    assert example["prompt"] == (
        "System: Be brief.\nUser: Hi\nAssistant: Hello!\nUser: What is the opposite of hot?"
    )
    assert example["task"] == "general" and example["key"] == "chat.jsonl:1"


def test_a_one_question_chat_imports_like_a_prompt_response_line():
    chat = {"messages": [{"role": "user", "content": "Say hi"},
                         {"role": "assistant", "content": "Hi!"}]}
    plain = {"prompt": "Say hi", "response": "Hi!"}
    [a, b] = parse_jsonl_bytes(lines(chat, plain), "x.jsonl")
    assert (a["prompt"], a["completion"]) == (b["prompt"], b["completion"])


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ("hello", "'messages' must be a non-empty list"),
        ([], "'messages' must be a non-empty list"),
        (["hi"], "message 1 must be an object"),
        ([{"content": "hi"}, {"role": "assistant", "content": "yo"}], "message 1 needs a 'role'"),
        ([{"role": "user"}, {"role": "assistant", "content": "yo"}], "needs a non-empty text"),
        ([{"role": "user", "content": "hi"}, {"role": "bot", "content": "yo"}], "not 'bot'"),
        ([{"role": "assistant", "content": "hi"}, {"role": "user", "content": "yo"}],
         "last message must be the assistant's"),
        ([{"role": "system", "content": "hi"}, {"role": "assistant", "content": "yo"}],
         "must follow a user message"),
    ],
)
def test_a_malformed_chat_rejects_the_file_naming_its_line(messages, reason):
    data = lines(CHAT, {"messages": messages})
    with pytest.raises(DatasetFileError, match="chat.jsonl line 2") as error:
        parse_jsonl_bytes(data, "chat.jsonl")
    assert reason in str(error.value)


def test_a_prompt_without_a_response_text_is_refused():
    with pytest.raises(DatasetFileError, match="line 1: missing or empty field 'response'"):
        parse_jsonl_bytes(lines({"prompt": "Say hi", "response": ""}), "g.jsonl")


@pytest.mark.django_db
def test_importing_prompt_response_and_chat_files_makes_sft_versions(tmp_path):
    path = tmp_path / "general.jsonl"
    path.write_bytes(lines({"prompt": "Say hi", "response": "Hi!"}, CHAT))
    version = dataset_import_file(path=path, name="general")
    assert version.dataset.kind == Dataset.Kind.SFT
    rows = list(version.examples.order_by("position").values_list("completion", "task"))
    assert rows == [("Hi!", "general"), ("Cold.", "general")]


@pytest.mark.django_db
def test_a_malformed_chat_file_is_refused_and_nothing_is_written(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(lines(CHAT, CHAT, {"messages": [{"role": "user", "content": "no reply"}]}))
    with pytest.raises(DatasetError, match="bad.jsonl line 3: the last message must be"):
        dataset_import_file(path=path, name="bad")
    assert not Dataset.objects.exists()
    assert not DatasetVersion.objects.exists() and not Example.objects.exists()
