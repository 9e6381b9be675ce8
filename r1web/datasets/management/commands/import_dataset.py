"""``manage.py import_dataset PATH --name NAME [--format ...] [--split ...]``"""

from __future__ import annotations

from django.core.management.base import CommandError

from r1domain.progress import terminal
from r1web.datasets.files import FORMATS
from r1web.datasets.progress import TerminalImport
from r1web.datasets.services import DatasetError, dataset_import_file
from r1web.errors import R1WebCommand


class Command(R1WebCommand):
    help = "Import a dataset file as a new version: all of it, or nothing with the bad line named."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path")
        parser.add_argument("--name", required=True, help="dataset name (created if new)")
        parser.add_argument("--format", default="auto", choices=["auto", *FORMATS])
        parser.add_argument(
            "--split",
            default="train",
            choices=["train", "test"],
            help="split of rows that name none",
        )

    def handle(self, *args, **options) -> None:
        try:
            version = dataset_import_file(
                path=options["path"],
                name=options["name"],
                fmt=options["format"],
                split=options["split"],
                progress=TerminalImport(terminal(self.stdout)),
            )
        except DatasetError as exc:
            raise CommandError(str(exc)) from exc
        summary = f"{version.num_examples} examples {version.splits}"
        self.stdout.write(f"{version}: {summary} hash {version.content_hash}")
