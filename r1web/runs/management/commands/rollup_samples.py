"""Compute the per-step sample statistics (``samples/…`` points) of stages stored
before they were kept, or loaded without the write path (a COPY, a restore)."""

from __future__ import annotations

from r1web.errors import R1WebCommand
from r1web.runs import rollups
from r1web.runs.models import MetricPoint
from r1web.traces.models import Sample


class Command(R1WebCommand):
    help = "Fill in the run charts' per-step sample statistics where they are missing."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--all", action="store_true", dest="every_stage",
                            help="recompute every stage, not only those that have none")

    def handle(self, *args, every_stage: bool = False, **options) -> None:
        stages = set(Sample.objects.values_list("stage_id", flat=True).distinct())
        if not every_stage:
            done = MetricPoint.objects.filter(key=rollups.SAMPLE_COUNT, stage_id__in=stages)
            stages -= set(done.values_list("stage_id", flat=True).distinct())
        for stage_pk in sorted(stages):
            steps = rollups.sample_steps_refresh(stage_pk=stage_pk)
            self.stdout.write(f"stage {stage_pk}: {steps} steps")
        self.stdout.write(f"{len(stages)} stage(s) done")
