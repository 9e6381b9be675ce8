"""The R1-Zero demo across seeds: tiny base -> held-out eval -> GRPO -> held-out eval.

    .venv/bin/python -m bench.aha --seeds 0 1 2 --work-dir /tmp/aha

Runs the demo's defaults (``r1domain.demo``: repeated addition, GRPO lr 1e-4 decaying
linearly at temperature 0.7, 150 steps, 96 tokens; 100 held-out problems, k=8, at 0.7)
with the plain stage code and a MemorySink: no database, no worker. ``--corpus``,
``--train``, ``--grpo`` and ``--eval`` override them, to try another design;
``--base-only`` builds and evaluates the bases alone (how often their checks are right
tells early whether GRPO will take them up). On a busy 2-core box,
``--train '{"threads": 1}'`` with ``R1WEB_TORCH_THREADS=1`` is several times faster than
two oversubscribed threads.

Prints, per seed, pass@1 / maj@k / mean length / reflection rate before and after, the
share of effective checks (``aha_tasks.check_outcome``) among samples with a reflection
phrase (late GRPO samples and held-out samples after training), the length and
reflection curves over GRPO steps, and timings.

The current defaults on a 2-core AMD EPYC machine (2 threads), seeds 0 / 1 / 2: pass@1
0.166 -> 0.985, 0.164 -> 0.886, 0.159 -> 0.910; maj@8 after 1.00 / 0.93 / 0.94; mean
length 30 -> 84, 29 -> 83, 31 -> 85 tokens; reflection 0.11 -> 0.999, 0.09 -> 0.993,
0.13 -> 0.998; effective checks among reflective held-out samples 0.92 -> 0.945,
0.73 -> 0.83, 0.60 -> 0.84. Base build 187-214 s, eval + GRPO + eval 239-264 s.

The base, and so the result, depends on the floating point of the machine that builds it.
The earlier defaults (GRPO at temperature 1.0, constant lr, 200 steps; a base of 500 steps
with 64 facts each) held on all three seeds on one machine (0.205 -> 0.887, 0.230 ->
0.804, 0.214 -> 0.802) but on another seed 2's base learned the step-by-step chain poorly
(checks right 31% of the time at temperature 1.0) and pass@1 rose only 0.121 -> 0.234;
on a third, seed 1's did (44%). At temperature 0.7 the same seed-1 base's checks were
right 55% of the time and GRPO took it from 0.15 to 0.88. With a constant lr, seed 0's
accuracy fell late (0.95 at step 80, 0.81 at step 150); with it decaying linearly, as TRL
does by default (measured together with the 450-step base, so not apart from it),
accuracy held to the end on all three seeds. Tried and not kept: batches sorted by length across the corpus
(a third faster still, but batches of all checks or all guesses: the base's checks were
right 7% of the time); a check that restates the problem ("wait , let me add 7 to 12 four
times :"), which fixed one seed and broke another; lr 2e-4 (accuracy falling late),
temperature 1.25 or lr 5e-4 (the checks dropped, pass@1 -> 0.06 or 0.00), and the bare
"i:" step label (checks right 22% of the time: 0.105 -> 0.066).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from r1domain.aha_tasks import check_outcome
from r1domain.base import MemorySink
from r1domain.demo import DEMO_EVAL, DEMO_GRPO_CONFIG, DEMO_REWARD_FUNCS, demo_examples

# Checkpoints cost time and change nothing measured here.
GRPO_CONFIG: dict[str, Any] = {**DEMO_GRPO_CONFIG, "save_strategy": "no"}


def _outcomes(records) -> dict[str, float]:
    counts = Counter(check_outcome(r.completion, r.reference) for r in records)
    reflective = counts["effective"] + counts["shallow"]
    return {
        "reflective": reflective,
        "effective_share": round(counts["effective"] / reflective, 3) if reflective else 0.0,
    }


def _curve(records, bins: int = 5) -> list[dict[str, float]]:
    steps = max(r.step for r in records)
    width = max(1, steps // bins)
    points = []
    for start in range(1, steps + 1, width):
        chunk = [r for r in records if start <= r.step < start + width]
        if chunk:
            points.append({
                "from": start,
                "acc": round(sum(r.correct for r in chunk) / len(chunk), 3),
                "len": round(sum(r.length_tokens for r in chunk) / len(chunk), 1),
                "refl": round(sum(bool(r.reflection_phrases) for r in chunk) / len(chunk), 3),
            })
    return points


def _evaluate(model_path: str, test: list[dict], seed: int, settings: dict) -> tuple[dict, list]:
    from workers.stages.evaluate import evaluate

    sink = MemorySink()
    args = {k: v for k, v in settings.items() if k != "problems"}
    result = evaluate(model_path=model_path, examples=test, sink=sink, seed=seed, **args)
    return result, sink.sample_records


def _base_dir(root: Path, seed: int, corpus, train) -> Path:
    tag = hashlib.sha1(json.dumps([asdict(corpus), asdict(train)]).encode()).hexdigest()[:8]
    return root / f"base-{tag}-s{seed}"


def run_seed(
    seed: int, work: Path, corpus, train, grpo: dict, settings: dict, base_only: bool = False
) -> dict:
    from workers.stages.grpo import run_grpo
    from workers.stages.tiny_base import build_tiny_base

    timings: dict[str, float] = {}
    base = _base_dir(work, seed, corpus, train)
    t0 = time.perf_counter()
    if not (base / "config.json").exists():
        build_tiny_base(base, seed=seed, corpus=corpus, train=train)
    timings["build_base_s"] = time.perf_counter() - t0
    train_set, test = demo_examples(seed)
    test = test[: settings["problems"]]
    t0 = time.perf_counter()
    before, before_records = _evaluate(str(base), test, seed, settings)
    timings["eval_before_s"] = time.perf_counter() - t0
    if base_only:
        return {"seed": seed, "before": before, "checks_before": _outcomes(before_records),
                "timings": {k: round(v, 1) for k, v in timings.items()}}
    t0 = time.perf_counter()
    sink = MemorySink()
    out = work / f"grpo-s{seed}"
    result = run_grpo(
        model_path=str(base), train_examples=train_set, output_dir=str(out),
        trl_config={**grpo, "seed": seed}, reward_funcs=DEMO_REWARD_FUNCS, sink=sink,
    )
    timings["grpo_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    after, after_records = _evaluate(result.checkpoint_path, test, seed, settings)
    timings["eval_after_s"] = time.perf_counter() - t0
    timings["demo_s"] = sum(v for k, v in timings.items() if k != "build_base_s")
    late = [r for r in sink.sample_records if r.step > 0.8 * result.steps]
    return {
        "seed": seed,
        "before": before, "after": after,
        "checks_before": _outcomes(before_records),
        "checks_after": _outcomes(after_records),
        "checks_late_grpo": _outcomes(late),
        "curve": _curve(sink.sample_records),
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "examples_after": [r.completion for r in after_records[:: max(1, len(after_records) // 4)]],
    }


def _print(report: dict) -> None:
    print(f"== seed {report['seed']}")
    if "after" not in report:
        print("  base", {k: report["before"][k] for k in ("pass@1", "mean_length", "reflection_rate")},
              "checks", report["checks_before"], "timings", report["timings"], flush=True)
        return
    b, a = report["before"], report["after"]
    for key in ("pass@1", "maj@k", "mean_length", "reflection_rate", "format_rate"):
        print(f"  {key:16} before {b[key]:7.3f}   after {a[key]:7.3f}")
    print("  checks before", report["checks_before"], "after", report["checks_after"],
          "late grpo", report["checks_late_grpo"])
    print("  curve", json.dumps(report["curve"]))
    print("  timings", json.dumps(report["timings"]))
    for text in report["examples_after"]:
        print("   |", text.strip()[:200])
    ok = {
        "pass@1 +15": a["pass@1"] - b["pass@1"] >= 0.15,
        "maj>pass": a["maj@k"] > a["pass@1"],
        "length up": a["mean_length"] > b["mean_length"],
        "reflection up": a["reflection_rate"] > b["reflection_rate"],
    }
    print("  curves held:", ok, flush=True)


def main(argv: list[str] | None = None) -> None:
    from workers.stages.tiny_base import CorpusSpec, TrainSpec

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/aha"))
    parser.add_argument("--corpus", type=json.loads, default={}, help="CorpusSpec fields")
    parser.add_argument("--train", type=json.loads, default={}, help="TrainSpec fields")
    parser.add_argument("--grpo", type=json.loads, default={}, help="GRPOConfig overrides")
    parser.add_argument("--eval", type=json.loads, default={}, help="eval overrides")
    parser.add_argument("--json", type=Path, help="also write the reports here")
    parser.add_argument("--base-only", action="store_true",
                        help="build and evaluate the bases only (their checks' share right)")
    args = parser.parse_args(argv)
    corpus = replace(CorpusSpec(), **args.corpus)
    train = replace(TrainSpec(), **args.train)
    grpo, settings = {**GRPO_CONFIG, **args.grpo}, {**DEMO_EVAL, **args.eval}
    print("corpus", asdict(corpus), "\ngrpo", grpo, "\neval", settings, flush=True)
    reports = []
    for seed in args.seeds:
        reports.append(run_seed(seed, args.work_dir, corpus, train, grpo, settings, args.base_only))
        _print(reports[-1])
    if args.json:
        args.json.write_text(json.dumps(reports, indent=2, default=str))


if __name__ == "__main__":
    main()
