from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from r1domain.base import MemorySink, StageCancelled
from r1domain.prompts import R1_ZERO_TEMPLATE, render_r1_zero
from r1web.runs.management.commands.tiny_base import SIZES as command_sizes
from r1web.runs.management.commands.tiny_base import default_out
from workers.stages.tiny_base import (
    SIZES,
    ModelSpec,
    TrainSpec,
    build_tiny_base,
    size_specs,
)


def test_the_tiny_base_is_an_ordinary_hugging_face_model_directory(micro_base):
    tokenizer = AutoTokenizer.from_pretrained(micro_base)
    model = AutoModelForCausalLM.from_pretrained(micro_base)
    assert model.config.model_type == "qwen2"
    assert tokenizer.eos_token == "<|endoftext|>" and tokenizer.pad_token == "<|pad|>"
    assert tokenizer.pad_token_id != tokenizer.eos_token_id
    assert json.loads((Path(micro_base) / "tiny_base.json").read_text())["parameters"] > 0


def test_its_tokenizer_keeps_digits_apart_and_compresses_the_template(micro_base):
    tokenizer = AutoTokenizer.from_pretrained(micro_base)
    digits = tokenizer("1234", add_special_tokens=False)["input_ids"]
    assert [tokenizer.decode([i]) for i in digits] == ["1", "2", "3", "4"]
    template_words = len(R1_ZERO_TEMPLATE.split())
    prompt_ids = tokenizer(render_r1_zero("Add 7 to 12 four times"))["input_ids"]
    # About a token per word, not one per character: the prompt fits short contexts.
    assert len(prompt_ids) < 1.6 * template_words
    assert tokenizer.decode(prompt_ids) == render_r1_zero("Add 7 to 12 four times")


# --- sizes and progress ---------------------------------------------------------------

MICRO_MODEL = ModelSpec(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                        num_attention_heads=2, num_key_value_heads=1)
MICRO_TRAIN = TrainSpec(n_examples=96, batch_size=32, warmup_steps=1)


def test_the_small_size_is_a_smaller_model_on_fewer_examples_with_the_same_tokenizer():
    default_model, default_train = size_specs("default")
    small_model, small_train = size_specs("small")
    assert (small_model.hidden_size, small_model.num_hidden_layers,
            small_model.intermediate_size) == (64, 2, 192)
    assert small_train.n_examples < default_train.n_examples
    assert small_model.vocab_size == default_model.vocab_size
    assert default_model == ModelSpec() and default_train == TrainSpec()


def test_an_unknown_size_is_refused_before_any_training(tmp_path):
    with pytest.raises(ValueError, match="unknown tiny base size 'huge' .known: default, small"):
        build_tiny_base(tmp_path / "huge", size="huge")
    assert not (tmp_path / "huge").exists()


class StopAfter(MemorySink):
    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps

    def should_stop(self) -> bool:
        return len(self.progress_seen) >= self.steps


def test_a_sink_sees_every_training_step_and_the_loss(tmp_path):
    sink = MemorySink()
    summary = build_tiny_base(tmp_path / "b", size="small", model_spec=MICRO_MODEL,
                              train=MICRO_TRAIN, sink=sink)
    assert sink.progress_seen == [(1, 3), (2, 3), (3, 3)]
    assert sink.metric_points == [(3, "train/loss", pytest.approx(summary["final_loss"]))]
    assert summary["size"] == "small"


def test_a_sink_that_asks_to_stop_cancels_the_build_and_saves_nothing(tmp_path):
    with pytest.raises(StageCancelled, match="stopped at step 1 of 3"):
        build_tiny_base(tmp_path / "b", model_spec=MICRO_MODEL, train=MICRO_TRAIN,
                        sink=StopAfter(1))
    assert not (tmp_path / "b" / "config.json").exists()


def test_the_command_offers_exactly_the_sizes_the_builder_knows(settings):
    assert command_sizes == tuple(SIZES)
    assert default_out("small") == settings.MODELS_DIR / "tiny-base-small"
    assert default_out("default") == Path(settings.TINY_BASE_DIR)


@pytest.mark.django_db
@pytest.mark.parametrize("summary", [None, {"size": "default"}, {"task": "repeated-addition"}])
def test_a_base_built_for_an_older_demo_task_is_kept_but_named_as_such(tmp_path, summary):
    """A base from before the demo's task changed would leave the demo run learning
    nothing, with no word why; it is not rebuilt unasked (--force does)."""
    import io

    from django.core.management import call_command

    (tmp_path / "config.json").write_text("{}")
    if summary is not None:
        (tmp_path / "tiny_base.json").write_text(json.dumps(summary))
    out, err = io.StringIO(), io.StringIO()
    call_command("tiny_base", out=str(tmp_path), stdout=out, stderr=err)
    assert "already at" in out.getvalue()
    assert (tmp_path / "config.json").read_text() == "{}"
    warned = "not built for the demo's task (repeated-addition)" in err.getvalue()
    assert warned == (summary != {"task": "repeated-addition"})


def test_a_built_base_records_the_task_it_was_built_for(micro_base):
    summary = json.loads((Path(micro_base) / "tiny_base.json").read_text())
    assert summary["task"] == "repeated-addition"


# --- batches run as groups of like length -------------------------------------------


def test_a_batch_run_as_groups_of_like_length_keeps_the_loss_of_the_whole_batch():
    """Guesses are a third as long as checks: the build runs each batch as groups of
    similar length, which pads far fewer tokens and must not change what is learned."""
    import torch

    from workers.stages import tiny_base

    torch.manual_seed(0)
    pairs = tiny_base.build_corpus(64, seed=0, spec=tiny_base.CorpusSpec())
    tokenizer = tiny_base.train_tokenizer([p + s for p, s in pairs], vocab_size=400)
    prefix = tiny_base.template_prefix_ids(tokenizer)
    batch = tiny_base._encode(tokenizer, pairs, prefix)[:32]
    model = tiny_base._make_model(tokenizer, MICRO_MODEL)
    prefix_ids = torch.tensor([prefix])

    groups = tiny_base.length_parts(batch, 3)
    whole = tiny_base.length_parts(batch, 1)
    assert sorted(row for group in groups for row in group) == sorted(batch)

    def padded(parts):
        return sum(max(len(ids) for ids, _ in part) * len(part) for part in parts)

    assert padded(groups) < 0.75 * padded(whole)
    pad = tokenizer.pad_token_id
    grouped_loss = tiny_base._mean_loss(model, groups, pad, prefix_ids)
    whole_loss = tiny_base._mean_loss(model, whole, pad, prefix_ids)
    assert float(grouped_loss) == pytest.approx(float(whole_loss), rel=1e-5)


def test_the_command_refuses_an_unmigrated_database_before_any_training(tmp_path):
    """The base is registered as a checkpoint once built: an unmigrated database must
    stop the command at once, not after minutes of training."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    done = subprocess.run(
        [sys.executable, "manage.py", "tiny_base", "--out", str(tmp_path / "base")],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 1
    assert "run `manage.py migrate` first" in done.stderr
    assert not (tmp_path / "base").exists()
