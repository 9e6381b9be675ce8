from __future__ import annotations

import json
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

from workers.domain.prompts import R1_ZERO_TEMPLATE, render_r1_zero


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
    prompt_ids = tokenizer(render_r1_zero("Find the largest of 3 1 2"))["input_ids"]
    # About a token per word, not one per character: the prompt fits short contexts.
    assert len(prompt_ids) < 1.6 * template_words
    assert tokenizer.decode(prompt_ids) == render_r1_zero("Find the largest of 3 1 2")
