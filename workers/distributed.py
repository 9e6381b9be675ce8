"""Stages that train as several processes under ``accelerate launch``.

The Celery worker stays the stage's supervisor: it claimed the stage, keeps its heartbeat,
watches for a cancel (which kills the whole process group) and records the outcome. The
processes run the stage's ordinary runner; TRL spreads each batch over them, and only the
main process (rank 0) writes to the database (``workers.recording.is_main_process``).

    python -m workers.distributed STAGE_PK RESULT_PATH   # what each process runs
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from r1domain.processes import CONFIG_DIR, accelerate_configs

ROOT = Path(__file__).resolve().parent.parent
# A process that stopped because the stage was cancelled exits with this code.
CANCELLED_EXIT = 3

def launch_command(processes: int, config_name: str = "", port: int | None = None) -> list[str]:
    """``accelerate launch`` for ``processes`` processes on this machine. Without a named
    config it uses torchrun's launcher, which also serves CPU workers: TRL's ``use_cpu``
    then makes accelerate join the processes over gloo."""
    command = [sys.executable, "-m", "accelerate.commands.launch"]
    if config_name:
        if config_name not in accelerate_configs():
            raise ValueError(f"unknown accelerate config {config_name!r}")
        command += ["--config_file", str(CONFIG_DIR / f"{config_name}.yaml")]
    else:
        command += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no",
                    "--dynamo_backend", "no"]
    command += ["--num_processes", str(processes), "--main_process_port", str(port or free_port())]
    return command + ["-m", "workers.distributed"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the supervisor: inside the Celery worker ----------------------------------------

def run_distributed(stage, params) -> dict:
    """Run ``stage`` as ``params.num_processes`` processes and return the main process's
    result.

    Raises ``StageCancelled`` when the stage is cancelled meanwhile (the processes are
    killed first) and ``RuntimeError`` with the end of their log when they fail; both
    leave the stage resumable from its last checkpoint, as a one-process stage is. When
    the worker is leaving (``workers.shutdown``), the processes are killed too and the
    stage is handed back: it resumes from its last checkpoint, saved before the signal.
    """
    from r1domain.base import StageCancelled
    from workers import shutdown
    from workers.inputs import output_dir

    processes = params.num_processes
    gpus = int(os.environ.get("R1WEB_GPUS") or 0)
    if gpus and processes > gpus:
        raise RuntimeError(f"the stage asks for {processes} processes; this worker has "
                           f"{gpus} GPUs (R1WEB_GPUS): one process per GPU")
    folder = output_dir(stage)
    folder.mkdir(parents=True, exist_ok=True)
    result_path = folder / f"result-attempt-{stage.attempt}.json"
    log_path = folder / f"processes-attempt-{stage.attempt}.log"
    result_path.unlink(missing_ok=True)
    command = launch_command(processes, params.accelerate_config)
    command += [str(stage.pk), str(result_path)]
    env = {**os.environ, "R1WEB_SUPERVISOR_PID": str(os.getpid())}
    with log_path.open("ab") as log:
        # Its own process group, so a cancel kills every process it started.
        child = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 cwd=ROOT, start_new_session=True)
    try:
        while child.poll() is None:
            if _cancel_requested(stage.pk):
                raise StageCancelled(f"cancelled while {processes} processes trained")
            if shutdown.leaving():
                raise shutdown.StageHandedBack(f"handed back while {processes} processes trained")
            time.sleep(1)
    finally:
        _kill_group(child)
    if child.returncode == CANCELLED_EXIT:
        raise StageCancelled("cancelled")
    if child.returncode != 0 or not result_path.exists():
        raise RuntimeError(f"{processes} processes under accelerate failed "
                           f"(exit {child.returncode}): {_tail(log_path)}")
    return json.loads(result_path.read_text())


def _cancel_requested(stage_pk: int) -> bool:
    from r1web.runs.models import Stage
    from workers.recording import LOST_CONNECTION, reset_connection

    try:
        row = Stage.objects.filter(pk=stage_pk).values("cancel_requested", "status").first()
    except LOST_CONNECTION:
        reset_connection()  # the database is restarting: ask again in a second
        return False
    return row is None or row["cancel_requested"] or row["status"] != "running"


def _kill_group(child: subprocess.Popen) -> None:
    if child.poll() is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # stragglers the launcher left
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def _tail(path: Path, lines: int = 8) -> str:
    text = path.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:])[-1500:]


# --- each process --------------------------------------------------------------------

def _watch_supervisor(pid: int) -> None:
    """Exit when the worker that supervises us is gone (SIGKILLed, OOM-killed): its stage
    is reaped and resumed elsewhere, and nobody may go on writing to it."""

    def watch() -> None:
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(1)
            time.sleep(1)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    stage_pk, result_path = int(argv[0]), Path(argv[1])
    if os.environ.get("R1WEB_SUPERVISOR_PID"):
        _watch_supervisor(int(os.environ["R1WEB_SUPERVISOR_PID"]))
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "r1web.settings")
    import django

    django.setup()
    from r1domain.base import StageCancelled
    from r1web.runs.models import Stage
    from workers.recording import is_main_process
    from workers.runner import RUNNERS, quiet_progress_bars

    quiet_progress_bars()
    stage = Stage.objects.get(pk=stage_pk)
    try:
        result = RUNNERS[stage.kind](stage, stage.parameters())
    except StageCancelled:
        return CANCELLED_EXIT
    if is_main_process():
        partial = result_path.with_suffix(".partial")
        partial.write_text(json.dumps(result))
        partial.replace(result_path)  # the supervisor never reads half a result
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
