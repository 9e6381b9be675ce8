"""Speed and memory of a dataset import: a 1,000,000-line JSONL file, streamed.

    .venv/bin/python bench/upload.py                 # check pass only, no database
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h8 .venv/bin/python bench/upload.py --write

Writes ``--lines`` short GSM8K lines (about 40 MB for a million) to a temporary folder,
then runs the first pass of an import: every row parsed, checked and hashed, as
``dataset_import_file`` does before it writes anything. With ``--write`` it runs the
whole ``dataset_import_file`` (check, then write in one transaction) into the database
of DATABASE_URL, as dataset ``bench-upload-<pid>``, deleted afterwards. Peak memory is
the growth of the process's peak RSS over its RSS before the pass. The last line is
``upload rows=<n> rows_per_s=<x> peak_mib=<y>`` (of the last pass run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "r1web.settings")


def write_file(path: Path, lines: int) -> int:
    with path.open("w", encoding="utf-8") as out:
        for i in range(lines):
            row = {"question": f"What is {i} plus {i % 97}?",
                   "answer": f"{i} + {i % 97} = {i + i % 97}\n#### {i + i % 97:,}"}
            out.write(json.dumps(row) + "\n")
    return path.stat().st_size


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # KiB on Linux


def check_pass(path: Path) -> int:
    from r1web.datasets.files import iter_examples
    from r1web.datasets.services import _summarize, _with_defaults

    records = (_with_defaults(r) for r in iter_examples(path, name="bench.jsonl"))
    return _summarize(records).rows


def write_pass(path: Path) -> int:
    from django.core.management import call_command

    from r1web.datasets.models import Dataset
    from r1web.datasets.services import dataset_import_file

    call_command("migrate", verbosity=0)
    name = f"bench-upload-{os.getpid()}"
    try:
        version = dataset_import_file(path=path, name=name, file_name="bench.jsonl",
                                      max_rows=10**9)
        return version.num_examples
    finally:
        dataset = Dataset.objects.filter(name=name).first()
        if dataset:
            for version in dataset.versions.all():
                version.examples.all()._raw_delete(version.examples.db)
                version.delete()
            dataset.delete()


def measure(label: str, run, path: Path) -> tuple[int, float, float]:
    before = rss_mib()
    started = time.perf_counter()
    rows = run(path)
    seconds = time.perf_counter() - started
    grown = max(0.0, peak_mib() - before)
    print(f"{label}: {rows} rows in {seconds:.1f}s ({rows / seconds:,.0f} rows/s), "
          f"peak RSS +{grown:.0f} MiB over {before:.0f} MiB")
    return rows, rows / seconds, grown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--write", action="store_true", help="import into DATABASE_URL too")
    args = parser.parse_args()
    import django

    django.setup()
    with tempfile.TemporaryDirectory(prefix="r1web-bench-upload-") as tmp:
        path = Path(tmp) / "bench.jsonl"
        size = write_file(path, args.lines)
        print(f"file: {args.lines} lines, {size / 2**20:.0f} MiB")
        result = measure("check", check_pass, path)
        if args.write:
            result = measure("check+write", write_pass, path)
    rows, rate, grown = result
    print(f"upload rows={rows} rows_per_s={rate:.0f} peak_mib={grown:.0f}")


if __name__ == "__main__":
    main()
