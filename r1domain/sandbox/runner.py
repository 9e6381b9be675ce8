"""Running a program in a fresh sandbox, once per test case, and reading its verdicts.

One sandbox (one bubblewrap, one interpreter start) serves all the cases of a program:
the harness inside forks a child per case, so a case costs a fork, not a process start.
What the sandbox writes back is read incrementally with a cap and parsed strictly: the
program may have killed the harness and written anything in its place.
"""

from __future__ import annotations

import marshal
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from r1domain.sandbox.bwrap import Runtime, bwrap_command, runtime_for
from r1domain.sandbox.limits import COMPILE_LIMITS, Limits
from r1domain.sandbox.verdict import Ending, Limit, SandboxError, Status, Verdict

GREETING = b"r1sandbox 1\n"
# What the sandbox's interpreter runs: the harness, compiled once per interpreter, and
# the job arrive together on standard input (no source to compile per program).
BOOTSTRAP = (
    "import marshal, posix  # r1sandbox\n"
    "code, job = marshal.loads(b''.join(iter(lambda: posix.read(0, 1 << 20), b'')))\n"
    "scope = {'__name__': 'r1sandbox_harness'}\n"
    "exec(marshal.loads(code), scope)\n"
    "scope['main'](job)\n"
)
# Starting the sandbox and the interpreter, beyond the cases' own wall time.
START_SECONDS = 10.0
HEADER_BYTES = 256
# What one program's cases may write back in all: past it, the cases not yet reported get
# an output-limit verdict (a thousand cases of a megabyte each would otherwise all be held).
TOTAL_OUTPUT_BYTES = 64 * 2**20
ENDINGS = {
    "D": Ending.COMPLETED,
    "X": Ending.EXITED,
    "A": Ending.ASSERTION,
    "E": Ending.EXCEPTION,
    "M": Ending.MEMORY,
}


@dataclass(frozen=True)
class Case:
    """One run of the program: what it reads on standard input and, for a Python
    function-call test, the function to call with its arguments after the program ran
    (JSON values)."""

    stdin: str | bytes = ""
    call: tuple[str, Sequence[Any]] | None = None


@dataclass(frozen=True)
class _Frame:
    case: int
    exit: int
    signal: int
    status: str
    limit: str
    wall_s: float
    cpu_s: float
    out: bytes
    err: bytes
    result: bytes


@lru_cache(maxsize=8)
def harness_code(python: str) -> bytes:
    """The harness compiled by the sandbox's own interpreter, as marshal bytes."""
    source = Path(__file__).with_name("harness.py").read_text(encoding="utf-8")
    script = (
        "import marshal, sys\n"
        "sys.stdout.buffer.write(marshal.dumps(compile(sys.stdin.read(), 'harness.py', 'exec')))"
    )
    try:
        done = subprocess.run(
            [python, "-I", "-S", "-c", script], input=source.encode(), capture_output=True,
            timeout=60, check=True, env={},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(f"the sandbox's Python {python!r} cannot compile the harness") from exc
    return done.stdout


def run_program(
    source: str, stdin: str | bytes = "", *, language: str = "python",
    limits: Limits | None = None,
) -> Verdict:
    """Run one program once, isolated, and say how it went."""
    return run_cases(source, [Case(stdin=stdin)], language=language, limits=limits)[0]


def run_cases(
    source: str,
    cases: Sequence[Case],
    *,
    language: str = "python",
    limits: Limits | None = None,
    runtime: Runtime | None = None,
) -> list[Verdict]:
    """Run a program on every case in one sandbox; one verdict per case, in order.

    Raises ``SandboxError`` only when the sandbox itself cannot run; whatever the
    program does is a verdict.
    """
    limits = limits or Limits()
    runtime = runtime or runtime_for(language)
    if not cases:
        return []
    job = _job(source, cases, runtime, limits)
    command = bwrap_command(runtime, scratch_bytes=limits.scratch_mb * 2**20, script=BOOTSTRAP)
    seconds = START_SECONDS + limits.wall_seconds * len(cases)
    if runtime.compile:
        seconds += COMPILE_LIMITS.wall_seconds
    per_case = HEADER_BYTES + 2 * limits.output_kb * 1024 + limits.stderr_kb * 1024
    cap = min(per_case * (len(cases) + 1), max(TOTAL_OUTPUT_BYTES, 2 * per_case))
    out, err, ending = _execute(command, job, seconds, cap)
    return _verdicts(out, err, len(cases), limits, ending)


def _job(source: str, cases: Sequence[Case], runtime: Runtime, limits: Limits) -> bytes:
    per_case = limits.for_harness()
    items = []
    for case in cases:
        stdin = case.stdin.encode("utf-8") if isinstance(case.stdin, str) else case.stdin
        item: dict[str, Any] = {"stdin": stdin, "limits": per_case}
        if case.call is not None:
            item["call"] = [case.call[0], list(case.call[1])]
        if runtime.run:
            item["argv"] = list(runtime.run)
        items.append(item)
    job: dict[str, Any] = {"cases": items}
    if runtime.compile:
        job["files"] = {runtime.source_name: source.encode("utf-8", "surrogatepass")}
        job["setup"] = {"argv": list(runtime.compile), "limits": COMPILE_LIMITS.for_harness()}
    else:
        job["source"] = source
        job["filename"] = runtime.source_name
    try:
        return marshal.dumps((harness_code(runtime.python), job), 4)
    except ValueError as exc:  # an argument JSON would not hold either
        raise SandboxError(f"a test case's arguments cannot be sent: {exc}") from exc


def _execute(command: list[str], job: bytes, seconds: float, cap: int) -> tuple[bytes, bytes, str]:
    """Start the sandbox with ``job`` on its standard input; read its output up to
    ``cap`` bytes for at most ``seconds``, then kill it. Returns (stdout, stderr, why it
    was killed: "time", "output" or "")."""
    job_fd = os.memfd_create("job")
    try:
        _write_all(job_fd, job)
        os.lseek(job_fd, 0, os.SEEK_SET)
        process = subprocess.Popen(
            command, stdin=job_fd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={},
            cwd="/",
        )
    except OSError as exc:
        raise SandboxError(f"the sandbox could not start: {exc}") from exc
    finally:
        os.close(job_fd)
    try:
        return _collect(process, seconds, cap)
    finally:
        if process.poll() is None:
            process.kill()  # bubblewrap's --die-with-parent takes the namespace with it
        process.wait()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _collect(
    process: subprocess.Popen[bytes], seconds: float, cap: int
) -> tuple[bytes, bytes, str]:
    assert process.stdout is not None and process.stderr is not None
    out, err = process.stdout.fileno(), process.stderr.fileno()
    deadline = time.monotonic() + seconds
    ending = ""
    chunks = {out: bytearray(), err: bytearray()}
    caps = {out: cap, err: 64 * 1024}
    with selectors.DefaultSelector() as selector:
        for fd in chunks:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(chunks[out]), bytes(chunks[err]), "time"
            for key, _ in selector.select(left):
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fd)
                    continue
                buffer = chunks[key.fd]
                buffer += data
                if len(buffer) > caps[key.fd]:
                    process.kill()
                    del buffer[caps[key.fd] :]
                    ending = "output"
    return bytes(chunks[out]), bytes(chunks[err]), ending


def _parse(data: bytes) -> dict[int, _Frame]:
    """The frames the harness wrote; parsing stops at the first malformed one."""
    frames: dict[int, _Frame] = {}
    position = len(GREETING)
    while position < len(data):
        end = data.find(b"\n", position, position + HEADER_BYTES)
        if end < 0:
            break
        parts = data[position:end].split(b" ")
        try:
            case, exit_code, sig = (int(p) for p in parts[:3])
            status, limit = parts[3].decode("ascii"), parts[4].decode("ascii")
            wall_us, cpu_us, n_out, n_err, n_res = (int(p) for p in parts[5:])
        except (ValueError, UnicodeDecodeError):
            break
        body = end + 1
        if min(n_out, n_err, n_res) < 0 or body + n_out + n_err + n_res > len(data):
            break
        out, err = data[body : body + n_out], data[body + n_out : body + n_out + n_err]
        result = data[body + n_out + n_err : body + n_out + n_err + n_res]
        frames[case] = _Frame(
            case, exit_code, sig, status, limit, wall_us / 1e6, cpu_us / 1e6, out, err, result
        )
        position = body + n_out + n_err + n_res
    return frames


def _verdicts(
    out: bytes, err: bytes, count: int, limits: Limits, ending: str
) -> list[Verdict]:
    if not out.startswith(GREETING):
        detail = err.decode("utf-8", "replace").strip() or "no output"
        raise SandboxError(f"the sandbox did not start: {detail}")
    frames = _parse(out)
    setup = frames.get(-1)
    if setup is not None and (setup.status == "C" or setup.exit or setup.signal):
        failed = _compile_error(setup)
        return [failed] * count
    verdicts = []
    for index in range(count):
        frame = frames.get(index)
        verdicts.append(_verdict(frame, limits) if frame else _missing(ending))
    return verdicts


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else ""


def _compile_error(frame: _Frame) -> Verdict:
    stderr = _text(frame.err)
    limit = {"cpu": Limit.CPU, "wall": Limit.WALL}.get(frame.limit)
    return Verdict(
        status=Status.COMPILE_ERROR, limit=limit, exit_code=frame.exit, stderr=stderr,
        duration_s=frame.wall_s, cpu_s=frame.cpu_s,
        reason=f"does not compile: {_last_line(stderr) or 'compiler killed'}",
    )


def _missing(ending: str) -> Verdict:
    if ending == "time":
        return Verdict(Status.TIMEOUT, Limit.WALL, reason="the sandbox ran out of time first")
    if ending == "output":
        reason = f"its cases wrote more than {TOTAL_OUTPUT_BYTES // 2**20} MiB in all"
        return Verdict(Status.OUTPUT_LIMIT, Limit.OUTPUT, reason=reason)
    return Verdict(Status.RUNTIME_ERROR, reason="the sandbox ended before this case ran")


def _verdict(frame: _Frame, limits: Limits) -> Verdict:
    stdout, stderr = _text(frame.out), _text(frame.err)
    status, limit, reason = _classify(frame, stderr, limits)
    return Verdict(
        status=status,
        limit=limit,
        exit_code=frame.exit if frame.exit >= 0 else None,
        signal=frame.signal or None,
        stdout=stdout,
        stderr=stderr,
        duration_s=frame.wall_s,
        cpu_s=frame.cpu_s,
        ending=ENDINGS.get(frame.status, Ending.UNKNOWN),
        value=_text(frame.result) if frame.status == "D" and frame.result else None,
        reason=reason,
    )


def _classify(frame: _Frame, stderr: str, limits: Limits) -> tuple[Status, Limit | None, str]:
    if frame.limit == "output":
        return Status.OUTPUT_LIMIT, Limit.OUTPUT, f"wrote more than {limits.output_kb} KiB"
    if frame.limit == "wall":
        return Status.TIMEOUT, Limit.WALL, f"still running after {limits.wall_seconds:g} s"
    if frame.limit == "cpu":
        return Status.TIMEOUT, Limit.CPU, f"used more than {limits.cpu_seconds:g} s of CPU"
    if frame.status == "M" or "std::bad_alloc" in stderr:
        return Status.MEMORY, Limit.MEMORY, f"ran out of its {limits.memory_mb} MiB of memory"
    if frame.limit == "file":
        return Status.RUNTIME_ERROR, Limit.FILE_SIZE, f"wrote a file over {limits.file_mb} MiB"
    if frame.status == "C":
        return Status.COMPILE_ERROR, None, f"does not compile: {_last_line(stderr)}"
    if frame.signal:
        return Status.RUNTIME_ERROR, None, f"killed by {_signal_name(frame.signal)}"
    if frame.exit:
        detail = _last_line(stderr)
        return Status.RUNTIME_ERROR, None, detail or f"exited with status {frame.exit}"
    return Status.OK, None, ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
