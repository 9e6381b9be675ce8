"""``manage.py run_program FILE [--stdin FILE] [--language python] [--json]``"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from r1domain.errors import R1WebError
from r1domain.sandbox import LANGUAGES, Limits, Verdict, run_program
from r1web.errors import R1WebCommand


class Command(R1WebCommand):
    help = (
        "Run one program in the sandbox (no network, no host files, limits on CPU, wall "
        "time, memory, processes and output) and print its verdict. Exits 1 unless ok."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="the program's source")
        parser.add_argument("--stdin", help="a file the program reads on standard input")
        parser.add_argument("--language", default="python", choices=LANGUAGES)
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        defaults = Limits()
        parser.add_argument("--cpu-seconds", type=float, default=defaults.cpu_seconds)
        parser.add_argument("--wall-seconds", type=float, default=defaults.wall_seconds)
        parser.add_argument("--memory-mb", type=int, default=defaults.memory_mb)

    def handle(self, *args, **options) -> None:
        source = _read(options["file"]).decode("utf-8", "replace")
        stdin = _read(options["stdin"]) if options["stdin"] else b""
        limits = Limits(
            cpu_seconds=options["cpu_seconds"], wall_seconds=options["wall_seconds"],
            memory_mb=options["memory_mb"],
        )
        verdict = run_program(source, stdin, language=options["language"], limits=limits)
        if options["json"]:
            self.stdout.write(json.dumps(_json(verdict), ensure_ascii=False))
        else:
            self.stdout.write(_text(verdict))
        if not verdict.ok:
            sys.exit(1)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise R1WebError(f"cannot read {path}: {exc.strerror}") from exc


def _json(verdict: Verdict) -> dict:
    shown = verdict.as_dict()
    keys = ("reason", "limit", "signal", "stdout", "stderr", "duration_s", "cpu_s")
    return {"verdict": shown["status"], "exit_status": shown["exit_code"],
            **{key: shown[key] for key in keys}}


def _text(verdict: Verdict) -> str:
    shown = verdict.as_dict()
    lines = [
        f"verdict: {shown['status']}" + (f" ({shown['reason']})" if shown["reason"] else ""),
        f"exit status: {shown['exit_code']}" + (
            f", signal {shown['signal']}" if shown["signal"] else ""),
        f"limit hit: {shown['limit'] or 'none'}",
        f"time: {shown['duration_s']} s wall, {shown['cpu_s']} s CPU",
        "stdout:", shown["stdout"], "stderr:", shown["stderr"],
    ]
    return "\n".join(lines)
