"""Build the demo's tiny base model from code (seeded, minutes on a laptop CPU)."""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from r1web.runs.models import Checkpoint


class Command(BaseCommand):
    help = "Train the tiny Qwen2-architecture base model on the synthetic task corpus."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--out", default=str(settings.TINY_BASE_DIR))
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--force", action="store_true", help="rebuild even if it exists")

    def handle(self, *args, out: str, seed: int, force: bool, **options) -> None:
        from workers.stages.tiny_base import build_tiny_base

        out_dir = Path(out).resolve()
        if (out_dir / "config.json").is_file() and not force:
            self.stdout.write(f"tiny base already at {out_dir} (use --force to rebuild)")
        else:
            started = time.perf_counter()
            build_tiny_base(out_dir, seed=seed)
            self.stdout.write(f"built tiny base at {out_dir} in {time.perf_counter() - started:.0f}s")
        Checkpoint.objects.get_or_create(path=str(out_dir), defaults={"name": "tiny-base"})
