"""``manage.py import_rollouts PATH... --user NAME``: TRL completions parquet files or
verl rollout dumps as a browsable external run."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from r1domain.formats import FORMATS as COMPLETION_FORMATS
from r1web.errors import R1WebCommand
from r1web.ingest.imports import SOURCES, rows_within_limit
from r1web.ingest.logfiles import (
    FORMATS,
    LogFileError,
    detect_format,
    expand,
    read_rollouts,
)
from r1web.ingest.services import IngestError, rollouts_import


class Command(R1WebCommand):
    help = (
        "Import TRL's output_dir/completions/*.parquet or verl's rollout_data_dir "
        "<step>.jsonl files (or their folders) as one external run; a bad row is "
        "named and nothing is written. At most R1WEB_IMPORT_MAX_ROWS completions."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--user", required=True, help="who the run belongs to")
        parser.add_argument("--format", choices=("auto", *FORMATS), default="auto")
        parser.add_argument("--name", default="", help="default: the first path's name")
        parser.add_argument(
            "--num-generations",
            type=int,
            default=None,
            help="completions per prompt (default: all of a prompt at a step)",
        )
        parser.add_argument(
            "--completion-format", choices=COMPLETION_FORMATS, default=COMPLETION_FORMATS[0]
        )

    def handle(self, paths, user, format, name, num_generations, completion_format, **options):
        owner = get_user_model().objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"no user {user!r}")
        try:
            fmt = format if format != "auto" else None
            files = expand([p.resolve() for p in paths], fmt or _guess(paths))
            fmt = fmt or detect_format(files)
            rows_within_limit(files, fmt)
            external = rollouts_import(
                user=owner,
                name=name or paths[0].resolve().name,
                source=SOURCES[fmt],
                samples=read_rollouts(files, fmt, num_generations),
                completion_format=completion_format,
            )
        except (LogFileError, IngestError) as exc:
            raise CommandError(f"{exc}; nothing was imported") from None
        run = external.run
        self.stdout.write(
            f"imported {run.samples.count()} completions from {len(files)} file(s) "
            f"into run {run.pk}: {run.get_absolute_url()}"
        )


def _guess(paths: list[Path]) -> str:
    for path in paths:
        if path.suffix == ".parquet" or (path.is_dir() and any(path.glob("*.parquet"))):
            return "trl"
    return "verl"
