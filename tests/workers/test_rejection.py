"""Rejection sampling: which samples are kept, why the others are dropped, and the judge."""

from __future__ import annotations

import pytest

from r1domain import rejection
from r1domain.base import ConfigError, MemorySink, StageCancelled
from r1domain.records import build_record
from tests.workers.scripted_model import READABLE, WRONG, ScriptedModel
from workers.stages.rejection import rejection_sample

Q_LARGEST = "Find the largest of 3 9 1"
Q_FIVE = "Find the largest of 5 2"
Q_OPEN = "Write one sentence about the number 9"

FIVE = "<think> 5 is bigger than 2 . </think> <answer> 5 </answer>"
CODE = "<think>```\nmax(5, 2)\n```</think> <answer> 5 </answer>"
MIXED = "<think> 5 是 最大 的 数字 ok </think> <answer> 5 </answer>"
BROKEN = "<think> 5 is it </think> <answer> 5 </answer> <answer> 5 </answer>"
EMPTY_THINK = "<think> </think> <answer> 5 </answer>"


def _examples(*rows: tuple[str, str]) -> list[dict]:
    return [{"key": f"k{i}", "prompt": q, "answer": a, "task": "largest"}
            for i, (q, a) in enumerate(rows)]


def _run(examples, **options):
    sink = MemorySink()
    options = {"samples_per_prompt": 4, "keep_per_prompt": 2, **options}
    result = rejection_sample(model_path="scripted", examples=examples, sink=sink, **options)
    return result, sink


def _verdicts(sink, group: int) -> list[str]:
    return [r.verdict for r in sink.sample_records if r.group == group]


# --- the judge's verdict, on strings ------------------------------------------------

@pytest.mark.parametrize("raw, verdict", [
    (" correct", "correct"),
    (" incorrect.", "incorrect"),
    (" Correct\nQuestion: next", "correct"),
    ("I think so. Verdict: incorrect", "incorrect"),
    ("**Verdict:** correct", "correct"),
    (" incorrect\nVerdict: correct", "incorrect"),  # its first word answers "Verdict:"
    (" not correct", "unparsed"),
    (" correctly", "unparsed"),
    ("::::", "unparsed"),
    ("", "unparsed"),
])
def test_the_judge_verdict_is_read_from_what_it_wrote(raw, verdict):
    assert rejection.parse_verdict(raw) == verdict


def test_the_judge_sees_the_question_the_reference_or_none_and_the_response():
    prompt = rejection.judge_prompt("What is 2+2?", "", "It is 4.")
    assert "Question: What is 2+2?" in prompt
    assert "Reference answer: none" in prompt
    assert "Response: It is 4." in prompt
    assert prompt.endswith("Verdict:")
    assert "Reference answer: 4\n" in rejection.judge_prompt("q", "4", "r")


def test_a_very_long_response_reaches_the_judge_by_its_end():
    prompt = rejection.judge_prompt("q", "", "x" * 5000 + " the answer is 4")
    assert prompt.count("x") < 2100 and "the answer is 4" in prompt


# --- verdicts of single samples and of a prompt's group -----------------------------

def _record(completion: str, reference: str = "5", index: int = 0, **fields):
    record = build_record(step=0, group=0, index=index, prompt=Q_FIVE, completion=completion,
                          reference=reference, task="largest", length_tokens=9)
    for name, value in fields.items():
        setattr(record, name, value)
    return record


@pytest.mark.parametrize("completion, verdict", [
    (FIVE, ""), (WRONG, "incorrect"), (BROKEN, "bad_format"), (CODE, "code_block"),
    (MIXED, "mixed_language"), (EMPTY_THINK, "no_reasoning"),
])
def test_each_sample_gets_the_first_reason_it_fails(completion, verdict):
    assert rejection.sample_verdict(_record(completion)) == verdict


def test_a_sample_whose_text_holds_the_output_token_cannot_be_kept():
    record = _record("<think> 5 |special_token| </think> <answer> 5 </answer>")
    assert rejection.sample_verdict(record) == "bad_format"


def test_without_reference_or_judge_a_sample_is_unjudgeable():
    assert rejection.sample_verdict(_record(FIVE, reference="")) == "unjudgeable"
    judged = _record(FIVE, reference="", correct=True, judge={"verdict": "correct"})
    assert rejection.sample_verdict(judged) == ""
    unparsed = _record(FIVE, reference="", judge={"verdict": "unparsed"})
    assert rejection.sample_verdict(unparsed) == "judge_unparsed"


def test_a_group_keeps_the_first_good_samples_up_to_the_quota():
    group = [_record(c, index=i) for i, c in enumerate([WRONG, FIVE, FIVE, FIVE])]
    rate = rejection.decide_group(group, keep=2)
    assert rate == 0.75
    assert [r.verdict for r in group] == ["incorrect", "kept", "kept", "over_quota"]


def test_a_prompt_outside_the_window_keeps_nothing_and_says_why():
    group = [_record(FIVE, index=i) for i in range(4)]  # pass rate 1.0: too easy
    rejection.decide_group(group, keep=2, window=(0.2, 0.8))
    assert {r.verdict for r in group} == {"pass_rate"}


def test_pass_rates_are_counted_in_eleven_bins_leaving_unjudged_prompts_out():
    counts = rejection.pass_rate_histogram([0.0, 0.25, 0.5, 0.75, 1.0, 1.0, None])
    assert counts == [1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 2]


@pytest.mark.parametrize("params, field", [
    ({"samples_per_prompt": 0}, "samples_per_prompt"),
    ({"keep_per_prompt": "2"}, "keep_per_prompt"),
    ({"samples_per_prompt": 4, "temperature": 0}, "temperature"),
    ({"pass_rate_window": [0.8, 0.2]}, "pass_rate_window"),
    ({"pass_rate_window": "0.2-0.8"}, "pass_rate_window"),
])
def test_settings_that_cannot_run_are_refused_by_name(params, field):
    with pytest.raises(ConfigError, match=field):
        rejection.check_params(params)


# --- the stage, with a scripted model -----------------------------------------------

def test_only_correct_readable_samples_are_kept_at_most_m_per_prompt(monkeypatch):
    ScriptedModel({
        Q_LARGEST: [READABLE, WRONG, READABLE, READABLE],
        Q_FIVE: [CODE, MIXED, BROKEN, EMPTY_THINK],
    }).install(monkeypatch)
    result, sink = _run(_examples((Q_LARGEST, "9"), (Q_FIVE, "5")))

    assert _verdicts(sink, 0) == ["kept", "incorrect", "kept", "over_quota"]
    assert _verdicts(sink, 1) == ["code_block", "mixed_language", "bad_format", "no_reasoning"]
    assert [(r.group, r.index) for r in result.kept()] == [(0, 0), (0, 2)]
    assert result.summary() == {
        "kept": 2, "samples": 8, "prompts": 2, "seconds": result.seconds,
        "rejected": {"incorrect": 1, "bad_format": 1, "no_reasoning": 1, "mixed_language": 1,
                     "code_block": 1, "over_quota": 1},
        "pass_rates": [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1],
    }
    assert sink.progress_seen[-1] == (2, 2)
    kept = result.kept()[0]
    assert kept.rewards == {"accuracy": 1.0, "format": 1.0} and kept.example_key == "k0"


def test_a_prompt_without_reference_is_kept_only_on_the_judges_correct_verdict(monkeypatch):
    model = ScriptedModel(
        {Q_OPEN: [READABLE, FIVE, WRONG]},
        verdicts={"9 is bigger": " correct", "5 is bigger": " incorrect"},
    ).install(monkeypatch)
    result, sink = _run(_examples((Q_OPEN, "")), samples_per_prompt=3, judge_path="judge")

    assert _verdicts(sink, 0) == ["kept", "incorrect", "judge_unparsed"]
    judges = [r.judge for r in sink.sample_records]
    assert [j["verdict"] for j in judges] == ["correct", "incorrect", "unparsed"]
    assert [j["raw"] for j in judges] == [" correct", " incorrect", " maybe"]
    assert {j["model"] for j in judges} == {"judge"}
    assert judges[0]["prompt"] == model.judge_prompts[0]
    assert "Reference answer: none" in judges[0]["prompt"] and Q_OPEN in judges[0]["prompt"]
    assert result.pass_rates == [pytest.approx(1 / 3)]


def test_rules_decide_where_a_reference_exists_and_the_judge_is_not_asked(monkeypatch):
    model = ScriptedModel({Q_LARGEST: [READABLE]}, verdicts={"": " incorrect"})
    model.install(monkeypatch)
    _, sink = _run(_examples((Q_LARGEST, "9")), judge_path="judge")
    assert model.judge_prompts == [] and all(r.judge == {} for r in sink.sample_records)
    assert _verdicts(sink, 0) == ["kept", "kept", "over_quota", "over_quota"]


def test_without_a_judge_a_prompt_without_reference_is_unjudgeable(monkeypatch):
    ScriptedModel({Q_OPEN: [READABLE]}).install(monkeypatch)
    result, sink = _run(_examples((Q_OPEN, "")), samples_per_prompt=2)
    assert _verdicts(sink, 0) == ["unjudgeable", "unjudgeable"]
    assert result.pass_rates == [None] and result.summary()["pass_rates"] == [0] * 11


def test_the_pass_rate_window_drops_prompts_too_easy_or_too_hard(monkeypatch):
    ScriptedModel({
        Q_LARGEST: [READABLE],  # 4 of 4 right: too easy
        Q_FIVE: [FIVE, WRONG],  # 2 of 4: inside 0.2 < p < 0.8
        "Find the largest of 7 4": [WRONG],  # 0 of 4: too hard
    }).install(monkeypatch)
    examples = _examples((Q_LARGEST, "9"), (Q_FIVE, "5"), ("Find the largest of 7 4", "7"))
    result, sink = _run(examples, keep_per_prompt=4, pass_rate_window=[0.2, 0.8])

    assert set(_verdicts(sink, 0)) == {"pass_rate"}
    assert _verdicts(sink, 1) == ["kept", "incorrect", "kept", "incorrect"]
    assert set(_verdicts(sink, 2)) == {"incorrect"}
    assert result.pass_rates == [1.0, 0.5, 0.0]


def test_a_stop_request_cancels_before_the_next_batch(monkeypatch):
    ScriptedModel({Q_LARGEST: [READABLE]}).install(monkeypatch)
    sink = MemorySink()
    sink.stop_requested = True
    with pytest.raises(StageCancelled):
        rejection_sample(model_path="m", examples=_examples((Q_LARGEST, "9")), sink=sink)
    assert sink.sample_records == []


# --- the stage, on a real (tiny) model ----------------------------------------------

@pytest.mark.slow
def test_on_the_tiny_base_every_sample_is_reported_with_a_verdict(micro_base):
    from r1domain.synthetic import generate

    examples = generate(3, split="train")
    sink = MemorySink()
    result = rejection_sample(model_path=micro_base, examples=examples, sink=sink,
                              samples_per_prompt=2, keep_per_prompt=1, max_new_tokens=12)

    assert [(r.group, r.index) for r in sink.sample_records] == [
        (0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)
    ]
    assert all(r.verdict in rejection.VERDICTS for r in sink.sample_records)
    for record in result.kept():
        assert record.correct and record.format_ok
    assert sum(result.summary()["rejected"].values()) + len(result.kept()) == 6
    assert sum(result.summary()["pass_rates"]) == 3


@pytest.mark.slow
def test_the_tiny_base_as_judge_has_its_raw_verdict_stored(micro_base):
    examples = [{"key": "open", "prompt": Q_OPEN, "answer": "", "task": "open"}]
    sink = MemorySink()
    rejection_sample(model_path=micro_base, examples=examples, sink=sink, samples_per_prompt=2,
                     max_new_tokens=8, judge_path=micro_base)

    for record in sink.sample_records:
        assert record.judge["model"] == micro_base
        assert record.judge["prompt"].endswith("Verdict:")
        assert record.judge["verdict"] == rejection.parse_verdict(record.judge["raw"])
        assert (record.verdict == "kept") == (record.judge["verdict"] == "correct")
        assert record.correct == (record.judge["verdict"] == "correct")


@pytest.mark.slow
def test_a_stage_on_the_tiny_base_records_every_sample_through_the_worker_path(
    micro_base, make_run
):
    # The tiny base answers next to nothing right, so the stage may well keep nothing:
    # what must hold is that it ran, recorded every sample, and said what it made.
    from r1domain.synthetic import generate
    from r1web.datasets.services import dataset_version_create
    from r1web.runs.models import Checkpoint, StageInput
    from r1web.traces.models import Sample
    from workers.runner import execute

    prompts = dataset_version_create(name="p", records=generate(3, split="train"), source="t")
    stage = make_run(kind="rejection_sampling", name="rs", params={
        "samples_per_prompt": 2, "keep_per_prompt": 1, "max_new_tokens": 8,
    }, input_checkpoint=Checkpoint.objects.create(name="micro", path=micro_base))
    StageInput.objects.create(stage=stage, version=prompts, role=StageInput.Role.TRAIN)
    execute(stage)

    stage.refresh_from_db()
    verdicts = list(Sample.objects.filter(stage=stage).values_list("verdict", flat=True))
    assert len(verdicts) == 6 and all(v in rejection.VERDICTS for v in verdicts)
    if "kept" in verdicts:
        assert stage.status == "succeeded", stage.error
        assert stage.output_dataset().num_examples == verdicts.count("kept")
    else:
        assert stage.status == "failed" and "kept none of its 6 samples" in stage.error
