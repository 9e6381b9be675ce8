"""``manage.py export_dataset NAME [--version N] --format jsonl|parquet|hf --out PATH``"""

from __future__ import annotations

from r1domain.progress import terminal
from r1web.datasets.files import write_examples
from r1web.datasets.progress import terminal_rows
from r1web.datasets.selectors import version_records
from r1web.errors import R1WebCommand
from r1web.runs.recipes import resolve_version


class Command(R1WebCommand):
    help = "Write a dataset version to a file (hf: a save_to_disk directory)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        # --version names the dataset version here (as the issue asks), replacing
        # Django's "print the program's version" option.
        parser._optionals.conflict_handler = "resolve"
        parser.add_argument("--version", type=int, default=None, help="default: the newest")
        parser.add_argument("--format", required=True, choices=["jsonl", "parquet", "hf"])
        parser.add_argument("--out", required=True)

    def handle(self, *args, **options) -> None:
        version = resolve_version(options["name"], options["version"])
        stream = terminal(self.stdout)
        self.stdout.write(f"reading the {version.num_examples:,} examples of {version}...")
        path = write_examples(version_records(version), options["out"], fmt=options["format"],
                              on_progress=terminal_rows(stream, "writing"))
        self.stdout.write(
            f"{version}: {version.num_examples} examples to {path} hash {version.content_hash}"
        )
