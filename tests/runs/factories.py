"""Hand-made runs for the graph, comparison and report tests (rows built directly)."""

from __future__ import annotations

from types import SimpleNamespace

from r1web.datasets.models import Dataset, DatasetVersion
from r1web.runs.models import Checkpoint, Recipe, Run, Stage, StageInput, StageKind

SCORES = ("pass@1", "maj@k", "k", "mean_length", "reflection_rate", "format_rate")


def eval_result(pass1: float, maj: float, k: int = 4, length: float = 40.0,
                reflection: float = 0.1, fmt: float = 0.9) -> dict:
    return dict(zip(SCORES, (pass1, maj, k, length, reflection, fmt), strict=True), problems=8)


def make_pipeline(name: str = "pipeline", *, after_status: str = "pending") -> SimpleNamespace:
    """eval-base and grpo from a base model; rejection sampling reads grpo's model and
    writes a dataset; sft trains the base on it; eval-after evaluates sft (not pinned
    yet while pending)."""
    run = Run.objects.create(name=name, recipe=Recipe.R1, status="running")
    base = Checkpoint.objects.create(name="tiny-base", path=f"/models/{name}/base")

    def stage(position, key, kind, status, **fields) -> Stage:
        return Stage.objects.create(run=run, position=position, key=key, name=key, kind=kind,
                                    status=status, **fields)

    eval_base = stage(0, "eval-base", StageKind.EVAL, "succeeded", input_checkpoint=base,
                      params={"label": "before"}, result=eval_result(0.25, 0.5))
    grpo = stage(1, "grpo", StageKind.GRPO, "succeeded", input_checkpoint=base, step=5)
    trained = Checkpoint.objects.create(name="grpo final", path=f"/models/{name}/grpo",
                                        produced_by=grpo, step=5)
    Stage.objects.filter(pk=grpo.pk).update(output_checkpoint=trained)
    rs = stage(2, "rejection-sampling", StageKind.REJECTION_SAMPLING, "succeeded",
               input_from=grpo, input_checkpoint=trained)
    rs.needs.set([grpo])
    dataset = Dataset.objects.create(name=f"{name}-rs", kind=Dataset.Kind.SFT)
    version = DatasetVersion.objects.create(dataset=dataset, number=1, content_hash="h",
                                            num_examples=12, produced_by=rs)
    sft = stage(3, "sft", StageKind.SFT, "running", input_checkpoint=base)
    StageInput.objects.create(stage=sft, from_stage=rs, version=version, role="train")
    sft.needs.set([rs])
    after = stage(4, "eval-after", StageKind.EVAL, after_status, input_from=sft,
                  params={"label": "after"})
    after.needs.set([sft])
    return SimpleNamespace(run=run, base=base, trained=trained, version=version,
                           eval_base=eval_base, grpo=grpo, rs=rs, sft=sft, after=after)
