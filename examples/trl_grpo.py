"""A plain TRL GRPO script that logs into r1web: R1-Zero on the tiny base's own task.

    python examples/trl_grpo.py --url http://127.0.0.1:8000 --token r1w_... [--model DIR]
        [--max-steps N]
    accelerate launch --num_processes 2 examples/trl_grpo.py --url ... --token ...

Nothing here is r1web's but the three marked lines: the rest is what any TRL user
writes (a dataset, two reward functions, GRPOConfig, GRPOTrainer). The model defaults to
the one ``manage.py tiny_base`` built (``R1WEB_TINY_BASE``, else
``R1WEB_VAR_DIR/models/tiny-base``, else ``var/models/tiny-base``); the task is the one
it was trained on: repeated addition ("Add 7 to 12 four times").
"""

from __future__ import annotations

import argparse
import os
import random
import re
from pathlib import Path

import torch
from datasets import Dataset
from r1web_client import R1WebCallback  # r1web, line 1 of 3
from transformers import AutoTokenizer
from trl import GRPOConfig, GRPOTrainer

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = (
    "A conversation between User and Assistant. The user asks a question, and the "
    "Assistant solves it. The assistant first thinks about the reasoning process in "
    "the mind and then provides the user with the answer. The reasoning process and "
    "answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> answer "
    "here </answer>. User: {question}. Assistant:"
)
ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
FORMAT = re.compile(r"^\s*<think>.*?</think>\s*<answer>.*?</answer>\s*$", re.DOTALL)


def default_model() -> str:
    if os.environ.get("R1WEB_TINY_BASE"):
        return os.environ["R1WEB_TINY_BASE"]
    var = Path(os.environ.get("R1WEB_VAR_DIR") or ROOT / "var")
    return str(var / "models" / "tiny-base")


TIMES = {3: "three", 4: "four", 5: "five"}


def problems(n: int, seed: int = 0) -> Dataset:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        start, step, times = rng.randint(1, 40), rng.randint(2, 9), rng.choice(list(TIMES))
        question = f"Add {step} to {start} {TIMES[times]} times"
        rows.append({"prompt": TEMPLATE.format(question=question),
                     "answer": str(start + step * times)})
    return Dataset.from_list(rows)


def accuracy_reward(completions: list[str], answer: list[str], **kwargs) -> list[float]:
    found = [ANSWER.findall(c) for c in completions]
    return [float(bool(f) and f[-1].strip() == a) for f, a in zip(found, answer, strict=True)]


def format_reward(completions: list[str], **kwargs) -> list[float]:
    return [float(bool(FORMAT.match(c))) for c in completions]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="r1web's address")
    parser.add_argument("--token", required=True, help="an API token (API tokens page)")
    parser.add_argument("--model", default=default_model())
    parser.add_argument("--max-steps", type=int, default=20)
    parser.add_argument("--output-dir", default=str(ROOT / "var" / "examples" / "trl_grpo"))
    parser.add_argument("--run-name", default="TRL GRPO example")
    parser.add_argument("--logging-steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8, help="per device")
    parser.add_argument("--num-generations", type=int, default=4)
    parser.add_argument("--max-completion-length", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def build_trainer(args: argparse.Namespace) -> GRPOTrainer:
    config = GRPOConfig(
        output_dir=args.output_dir,
        run_name=args.run_name,
        max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size,
        num_generations=args.num_generations,
        max_completion_length=args.max_completion_length,
        learning_rate=args.learning_rate,
        logging_steps=args.logging_steps,
        beta=0.0,
        report_to="none",
        save_strategy="no",
        seed=args.seed,
        disable_tqdm=True,
        use_cpu=not torch.cuda.is_available(),
        bf16=torch.cuda.is_available(),
    )
    tokenizer = AutoTokenizer.from_pretrained(args.model, padding_side="left")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    r1web = R1WebCallback(url=args.url, token=args.token)  # r1web, line 2 of 3
    return GRPOTrainer(
        model=args.model,
        reward_funcs=[accuracy_reward, format_reward],
        args=config,
        train_dataset=problems(max(64, args.max_steps * args.batch_size)),
        processing_class=tokenizer,
        callbacks=[r1web],  # r1web, line 3 of 3
    )


def main(argv: list[str] | None = None) -> None:
    trainer = build_trainer(parse_args(argv))
    trainer.train()
    trainer.save_state()  # output_dir/trainer_state.json, log_history included


if __name__ == "__main__":
    main()
