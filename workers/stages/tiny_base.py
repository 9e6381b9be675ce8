"""A tiny "base model" for demos and tests, built locally in about three minutes on 2 CPU cores.

R1-Zero starts from a pretrained base model. Downloading one is not possible here, so
``build_tiny_base`` trains a Qwen2-architecture causal LM of about a million parameters,
with its own byte-level BPE tokenizer, on a corpus of R1-Zero prompts
(``prompts.R1_ZERO_TEMPLATE``) over the demo task, repeated addition ("Add 7 to 12 four
times", ``r1domain.aha_tasks``), followed by solutions. ``size="small"`` (``SIZES``)
builds the distillation student: a quarter of the parameters on half the corpus, same
tokenizer and task.

Honesty note: the corpus is *constructed* so that RL has something to find, the way real
base models happen to have it (oat-zero found self-reflection in base models before any
RL). By construction (``CorpusSpec``):

* most solutions guess the sum in one shot, "the sum is G ." (right ``p_guess_right`` of
  the time, else off by 1 to 5);
* ``p_check`` of them guess, then check by steps and fix the guess: "the sum is G . wait
  , let me add : 1/4:12+7=19 2/4:19+7=26 3/4:26+7=33 4/4:33+7=40 the sum is 40 .";
* ``p_bad_format`` of them break the ``<think>``/``<answer>`` format;
* alongside, "pretraining knowledge" (``fact_text``): a problem followed by its
  step-by-step additions, no template, so the skill of adding by steps is there to use.

Nothing here makes RL prefer the check. A one-shot guess of start + step * times is right
about a quarter of the time; the chain of small additions is right most of the time, so
a check that finds a wrong guess and fixes it *pays*, and GRPO can only prefer it for
that. Measured across seeds in ``bench/aha.py``: accuracy, length and the reflection
rate rise together, and most of the trained model's checks change a wrong guess into a
right answer (``aha_tasks.check_outcome``).

Each step is labelled "i/n:". With the bare index ("i:") the base built on seed 1 stopped
at the right step count in only 30% of its chains (it had to count against the prompt's
word "four"), so its checks were right only 22% of the time and GRPO dropped them, as
oat-zero reports for checks that do not pay; with "i/n:" the stop is a comparison of two
adjacent digits, and the same seed's checks were right 83% of the time.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from r1domain.aha_tasks import BASE_TASK, Example, generate_repeat
from r1domain.base import StageCancelled, StageSink
from r1domain.prompts import R1_ZERO_TEMPLATE, render_r1_zero

EOS = "<|endoftext|>"
PAD = "<|pad|>"


@dataclass(frozen=True)
class CorpusSpec:
    p_check: float = 0.2
    p_guess_right: float = 0.25
    p_bad_format: float = 0.1
    p_step_error: float = 0.0
    check_phrase: str = "wait , let me add :"


@dataclass(frozen=True)
class ModelSpec:
    hidden_size: int = 128
    intermediate_size: int = 384
    num_hidden_layers: int = 3
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    vocab_size: int = 768


@dataclass(frozen=True)
class TrainSpec:
    n_examples: int = 14400
    batch_size: int = 32
    facts_per_step: int = 48
    learning_rate: float = 3e-3
    warmup_steps: int = 30
    threads: int = 2
    length_parts: int = 3  # each batch runs as up to this many groups of similar length


# Named sizes. "small" is the distillation student: a quarter of the parameters, half
# the corpus, the same tokenizer and task; it learns the template but answers worse.
SIZES: dict[str, tuple[ModelSpec, TrainSpec]] = {
    "default": (ModelSpec(), TrainSpec()),
    "small": (
        ModelSpec(hidden_size=64, intermediate_size=192, num_hidden_layers=2),
        TrainSpec(n_examples=7200),
    ),
}


def size_specs(size: str) -> tuple[ModelSpec, TrainSpec]:
    """The model and training specs of a named size; ValueError naming the known ones."""
    try:
        return SIZES[size]
    except KeyError:
        raise ValueError(f"unknown tiny base size {size!r} (known: {', '.join(SIZES)})") from None


def _guess(rng: random.Random, answer: int, p_right: float) -> int:
    if rng.random() < p_right:
        return answer
    return max(1, answer + rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]))


def repeat_chain(example: Example, rng: random.Random | None = None, p_error: float = 0.0) -> str:
    """ "1/3:13+7=20 2/3:20+7=27 3/3:27+7=34": step i of n, each from the last total.
    With ``p_error`` a step slips and is fixed at once ("wait", Physics of LMs' retry
    data). The default corpus has none but still draws the roll per step, which keeps
    it, and every base built from it, the one ``bench/aha.py`` measured."""
    total, step, times, out = example["start"], example["step"], example["times"], []
    for i in range(1, times + 1):
        right = total + step
        if rng is not None and rng.random() < p_error:
            slip = right + rng.choice([-2, -1, 1, 2])
            out.append(f"{i}/{times}:{total}+{step}={slip} wait {total}+{step}={right}")
        else:
            out.append(f"{i}/{times}:{total}+{step}={right}")
        total = right
    return " ".join(out)


def solution_text(example: Example, rng: random.Random, spec: CorpusSpec) -> str:
    """One sampled solution for ``example`` (see the module docstring for the mix)."""
    answer = int(example["answer"])
    if rng.random() < spec.p_check:
        guess = _guess(rng, answer, spec.p_guess_right)
        chain = repeat_chain(example, rng, spec.p_step_error)
        think = f"the sum is {guess} . {spec.check_phrase} {chain} the sum is {answer} ."
        final = answer
    else:
        final = _guess(rng, answer, spec.p_guess_right)
        think = f"the sum is {final} ."
    return _format(think, final, rng, spec)


def _format(think: str, final: int, rng: random.Random, spec: CorpusSpec) -> str:
    if rng.random() >= spec.p_bad_format:
        return f" <think> {think} </think> <answer> {final} </answer>"
    if rng.random() < 0.5:
        return f" <think> {think} <answer> {final} </answer>"  # unclosed think block
    return f" <think> {think} </think> the answer is {final} ."


def build_corpus(n: int, seed: int, spec: CorpusSpec) -> list[tuple[str, str]]:
    """``n`` (rendered prompt, solution) pairs over train-split problems only."""
    rng = random.Random(seed)
    problems = generate_repeat(n, split="train", seed=seed)
    pairs = []
    for i in range(n):
        example = problems[i % len(problems)]
        pairs.append((render_r1_zero(example["prompt"]), solution_text(example, rng, spec)))
    return pairs


def fact_text(example: Example) -> str:
    """The skill without the template, the model's "pretraining knowledge": a problem
    and its additions step by step, all correct."""
    return f" {example['prompt'].lower()} : {repeat_chain(example)}"


def build_facts(n: int, seed: int) -> list[str]:
    problems = generate_repeat(n, split="train", seed=seed + 1)
    return [fact_text(problems[i % len(problems)]) for i in range(n)]


def _fact_rows(tokenizer, texts: list[str]) -> list[tuple[list[int], int]]:
    """Facts as training rows: every token after the first is a label."""
    return [(ids, 1) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def train_tokenizer(texts: list[str], vocab_size: int):
    """Byte-level BPE with Qwen2's own normalizer and pre-tokenizer (each digit its own
    token, words merged whole), so the template costs about one token per word.

    It has to be Qwen2's: ``AutoTokenizer`` rebuilds every ``qwen2`` model's tokenizer
    as ``Qwen2Tokenizer`` from vocab and merges, re-imposing that pre-tokenizer.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token=EOS, pad_token=PAD, padding_side="left"
    )


def template_prefix_ids(tokenizer) -> list[int]:
    """Token ids of the template up to "User:", the part every prompt shares."""
    prefix = R1_ZERO_TEMPLATE.split("{prompt}", 1)[0].rstrip()
    return tokenizer(prefix, add_special_tokens=False)["input_ids"]


def _encode(tokenizer, pairs: list[tuple[str, str]], prefix: list[int]) -> list[tuple[list[int], int]]:
    """Per pair, the ids after the shared prefix and where the solution starts in them.

    Prompt and solution are tokenized apart, exactly as GRPO sees them (prompt ids,
    then generated ids).
    """
    prompts = tokenizer([p for p, _ in pairs], add_special_tokens=False)["input_ids"]
    sols = tokenizer([s for _, s in pairs], add_special_tokens=False)["input_ids"]
    rows = []
    for p, s in zip(prompts, sols):
        if p[: len(prefix)] != prefix:
            raise ValueError("a prompt does not start with the template's tokens")
        rows.append((p[len(prefix) :] + s + [tokenizer.eos_token_id], len(p) - len(prefix)))
    return rows


def length_parts(rows: list[tuple[list[int], int]], parts: int) -> list[list[tuple[list[int], int]]]:
    """``rows`` cut into at most ``parts`` groups of similar length, with the fewest
    padded tokens (dynamic programming over the rows sorted by length).

    A batch is then run as these groups: the same rows and the same loss (summed over
    the groups, over the batch's label tokens), but a guess is a third as long as a
    check, and padded to the batch's longest row 56% of the solution tokens and 18% of
    the fact tokens were padding. Grouped, a training step takes about a fifth less time.
    """
    ordered = sorted(rows, key=lambda row: len(row[0]))
    lengths = [len(ids) for ids, _ in ordered]
    n = len(ordered)
    # cost[k][j]: fewest padded tokens for the first j rows in k groups; cut[k][j] where
    # the last of those groups starts.
    inf = float("inf")
    cost = [[inf] * (n + 1) for _ in range(parts + 1)]
    cut = [[0] * (n + 1) for _ in range(parts + 1)]
    cost[0][0] = 0
    for k in range(1, parts + 1):
        for j in range(1, n + 1):
            for i in range(j):
                c = cost[k - 1][i] + lengths[j - 1] * (j - i)
                if c < cost[k][j]:
                    cost[k][j], cut[k][j] = c, i
    best = min(range(1, parts + 1), key=lambda k: cost[k][n])
    groups, j = [], n
    for k in range(best, 0, -1):
        groups.append(ordered[cut[k][j] : j])
        j = cut[k][j]
    return groups[::-1]


def _batch(rows: list[tuple[list[int], int]], pad_id: int) -> tuple[torch.Tensor, ...]:
    """Right-padded ids, attention mask, and next-token labels (solution tokens only)."""
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id)
    labels = torch.full((len(rows), width), -100)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (row, start) in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        labels[i, start - 1 : len(row) - 1] = torch.tensor(row[start:])
        mask[i, : len(row)] = 1
    return ids, mask, labels


def _prefix_shared_loss(model, prefix: torch.Tensor, ids, mask, labels) -> torch.Tensor:
    """Causal-LM loss, summed over tokens, with the shared template run once, not per row.

    The template is ~60% of every sequence; running it once and broadcasting its
    key/value cache cuts training compute by about 2.5x with identical logits.
    """
    batch, width = ids.shape
    cache = model(input_ids=prefix, use_cache=True).cache
    for layer in cache.layers:
        layer.keys = layer.keys.expand(batch, -1, -1, -1)
        layer.values = layer.values.expand(batch, -1, -1, -1)
    p = prefix.shape[1]
    logits = model(
        input_ids=ids,
        attention_mask=torch.cat([torch.ones(batch, p, dtype=torch.long), mask], dim=1),
        cache=cache,
        position_ids=(p + torch.arange(width)).unsqueeze(0).expand(batch, -1),
    ).logits
    return _summed_loss(logits, labels)


def _summed_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100,
        reduction="sum",
    )


def _mean_loss(model, groups, pad_id: int, prefix: torch.Tensor | None = None) -> torch.Tensor:
    """Mean token loss of one batch run as its ``length_parts`` groups."""
    total, n_labels = torch.tensor(0.0), 0
    for group in groups:
        ids, mask, labels = _batch(group, pad_id)
        if prefix is None:
            total = total + _summed_loss(model(input_ids=ids, attention_mask=mask).logits, labels)
        else:
            total = total + _prefix_shared_loss(model, prefix, ids, mask, labels)
        n_labels += int((labels != -100).sum())
    return total / max(1, n_labels)


def _make_model(tokenizer, spec: ModelSpec):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    return Qwen2ForCausalLM(config)


def _lr_at(step: int, total: int, spec: TrainSpec) -> float:
    if step < spec.warmup_steps:
        return spec.learning_rate * (step + 1) / spec.warmup_steps
    progress = (step - spec.warmup_steps) / max(1, total - spec.warmup_steps)
    return spec.learning_rate * 0.5 * (1 + math.cos(math.pi * progress))


def _train(
    model, rows: list[tuple[list[int], int]], prefix: list[int], facts: list, pad_id: int,
    spec: TrainSpec, sink: StageSink | None = None,
) -> float:
    """AdamW over the templated solutions; each step also takes one batch of facts.

    With a ``sink``: progress every step, the loss every 10, and a stop when it asks.
    """
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.learning_rate, weight_decay=0.0)
    total = len(rows) // spec.batch_size
    prefix_ids = torch.tensor([prefix])
    loss = torch.tensor(0.0)
    model.train()
    for step in range(total):
        batch = rows[step * spec.batch_size : (step + 1) * spec.batch_size]
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, total, spec)
        loss = _mean_loss(model, length_parts(batch, spec.length_parts), pad_id, prefix_ids)
        if step < len(facts):
            loss = loss + _mean_loss(model, length_parts(facts[step], spec.length_parts), pad_id)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if sink is not None:
            _report(sink, step + 1, total, loss)
    return float(loss.detach())


def _report(sink: StageSink, step: int, total: int, loss: torch.Tensor) -> None:
    sink.progress(step, total)
    if step % 10 == 0 or step == total:
        sink.metrics(step, {"train/loss": float(loss.detach())})
    if sink.should_stop():
        raise StageCancelled(f"stopped at step {step} of {total}")


def save_base(model, tokenizer, out_dir: str | Path) -> Path:
    """Save a trained base with generation settings that stop at its EOS."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_tiny_base(
    out_dir: str | Path,
    seed: int = 0,
    size: str = "default",
    *,
    corpus: CorpusSpec = CorpusSpec(),
    model_spec: ModelSpec | None = None,
    train: TrainSpec | None = None,
    sink: StageSink | None = None,
) -> dict:
    """Train the tiny base model and save it (model + tokenizer) to ``out_dir``.

    ``size`` picks the model and training specs (``SIZES``); ``model_spec``/``train``
    override them. Deterministic for a given seed and thread count. Returns a summary
    (sizes, final loss, seconds) that is also written to ``out_dir/tiny_base.json``.
    A ``sink`` gets the training progress and can stop it (``StageCancelled``).
    """
    import json

    preset_model, preset_train = size_specs(size)
    model_spec = model_spec or preset_model
    train = train or preset_train
    started = time.perf_counter()
    torch.manual_seed(seed)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(train.threads)
    try:
        pairs = build_corpus(train.n_examples, seed, corpus)
        texts = build_facts(train.facts_per_step * (len(pairs) // train.batch_size), seed)
        tokenizer = train_tokenizer(
            [p + s for p, s in pairs[:4000]] + texts[:2000], model_spec.vocab_size
        )
        prefix = template_prefix_ids(tokenizer)
        rows = _encode(tokenizer, pairs, prefix)
        model = _make_model(tokenizer, model_spec)
        n, fact_rows = train.facts_per_step, _fact_rows(tokenizer, texts)
        facts = [fact_rows[i : i + n] for i in range(0, len(fact_rows), n)]
        final_loss = _train(model, rows, prefix, facts, tokenizer.pad_token_id, train, sink)
    finally:
        torch.set_num_threads(previous_threads)
    out = save_base(model, tokenizer, out_dir)
    summary = {
        "seed": seed,
        "size": size,
        "task": BASE_TASK,
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        "mean_tokens": len(prefix) + sum(len(r) for r, _ in rows) / len(rows),
        "final_loss": final_loss,
        "seconds": round(time.perf_counter() - started, 1),
        "corpus": asdict(corpus),
        "model": asdict(model_spec),
        "train": asdict(train),
    }
    (out / "tiny_base.json").write_text(json.dumps(summary, indent=2))
    return summary
