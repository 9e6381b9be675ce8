"""Build the demo's tiny base model from code (seeded, minutes on a laptop CPU)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection

from r1domain.aha_tasks import BASE_TASK
from r1domain.progress import TerminalProgress, TerminalSink, duration, terminal
from r1web.errors import R1WebCommand
from r1web.runs.models import Checkpoint

# The sizes of workers.stages.tiny_base.SIZES, named here so --help works without torch.
SIZES = ("default", "small")


def default_out(size: str) -> Path:
    """The demo's base for "default"; ``MODELS_DIR/tiny-base-<size>`` otherwise (where
    the distillation recipe looks for its small student)."""
    if size == "default":
        return Path(settings.TINY_BASE_DIR)
    return Path(settings.MODELS_DIR) / f"tiny-base-{size}"


class Command(R1WebCommand):
    help = "Train the tiny Qwen2-architecture base model on the demo task's corpus (repeated addition)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--size", choices=SIZES, default="default",
                            help="small: a faster, weaker model (the distillation student)")
        parser.add_argument("--out", default=None,
                            help="default: the tiny base dir, or MODELS_DIR/tiny-base-<size>")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--force", action="store_true", help="rebuild even if it exists")

    def handle(self, *args, out: str | None, size: str, seed: int, force: bool, **options) -> None:
        from workers.stages.tiny_base import build_tiny_base

        out_dir = Path(out or default_out(size)).resolve()
        # The base is registered as a checkpoint at the end: say so before minutes of
        # training, not after.
        if Checkpoint._meta.db_table not in connection.introspection.table_names():
            raise CommandError("the database is not set up: run `manage.py migrate` first")
        if (out_dir / "config.json").is_file() and not force:
            self.stdout.write(f"tiny base already at {out_dir} (use --force to rebuild)")
            self._warn_if_built_for_another_task(out_dir)
        else:
            started = time.perf_counter()
            self.stdout.write(f"building the {size} tiny base (corpus, tokenizer, then "
                              "training)...")
            progress = TerminalProgress(terminal(self.stdout), "training")
            try:
                build_tiny_base(out_dir, seed=seed, size=size, sink=TerminalSink(progress))
            finally:
                progress.close()
            elapsed = time.perf_counter() - started
            self.stdout.write(f"built the {size} tiny base at {out_dir} in {duration(elapsed)}")
        name = "tiny-base" if size == "default" else f"tiny-base-{size}"
        Checkpoint.objects.get_or_create(path=str(out_dir), defaults={"name": name})

    def _warn_if_built_for_another_task(self, out_dir: Path) -> None:
        summary = out_dir / "tiny_base.json"
        try:
            task = json.loads(summary.read_text()).get("task") if summary.is_file() else None
        except (OSError, ValueError):
            task = None
        if task != BASE_TASK:
            self.stderr.write(
                f"this base was not built for the demo's task ({BASE_TASK}), so the demo run "
                "will not learn on it: rebuild it with --force (runs that used it keep their "
                "records, not its weights), or point R1WEB_TINY_BASE elsewhere"
            )
