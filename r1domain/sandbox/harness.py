"""The first program a sandbox runs: it runs the untrusted program once per test case.

Never imported by r1web. The sandbox's own interpreter (which may be another Python
than r1web's) compiles it once per r1web process; each sandbox then receives the code
object and the job on standard input (``runner.BOOTSTRAP``) and calls ``main(job)``.
Starting it is part of every program's cost, so it imports only built-in modules that
load in microseconds: ``posix`` rather than ``os``, ``_signal`` rather than ``signal``
(which pulls in enum and functools), and formats tracebacks itself.

For each case it forks a child that sets its resource limits and runs the program: a
Python program is compiled once here and executed in the forked child (no interpreter
start per case); anything else (a compiled C++ program) is exec'd. The child's standard
input is the case's input; its output goes to pipes this process reads with a cap. This
process is the PID namespace's init (no program can signal it); after each case every
other process in the namespace is killed and reaped, so nothing a case started outlives
it.

What it writes back on its standard output, which no child holds: a greeting line, then
per case one ASCII header line and the raw bytes it announces. r1web parses the header
strictly and caps what it reads, since a program may have killed this process.
"""

from __future__ import annotations  # annotations stay strings: nothing imported for them

import _signal
import posix
import resource
import select
import sys
import time

# Named so for mypy; False here, so typing (milliseconds to import) never loads.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import CodeType
    from typing import Any

    Job = dict[str, Any]

GREETING = b"r1sandbox 1\n"
# What the child reports on its status pipe before it exits (one byte, then a result).
DONE, EXITED, ASSERTED, MEMORY, RAISED = b"D", b"X", b"A", b"M", b"E"
CHUNK = 65536
SIGKILL, SIGXCPU, SIGXFSZ = _signal.SIGKILL, _signal.SIGXCPU, _signal.SIGXFSZ


def _write_all(fd: int, data: bytes | bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[posix.write(fd, view) :]


def _send(
    case: int, fields: dict[str, Any], out: bytes | bytearray = b"", err: bytes | bytearray = b"",
    result: bytes = b"",
) -> None:
    values = (
        case, fields["exit"], fields["signal"], fields["status"], fields["limit"],
        fields["wall_us"], fields["cpu_us"], len(out), len(err), len(result),
    )
    head = " ".join(str(value) for value in values) + "\n"
    _write_all(1, head.encode("ascii") + bytes(out) + bytes(err) + bytes(result))


def _set_limits(limits: dict[str, int]) -> None:
    cpu = limits["cpu"]
    for name, value in (
        ("RLIMIT_CPU", (cpu, cpu + 1)),
        ("RLIMIT_AS", (limits["memory"],) * 2),
        ("RLIMIT_NPROC", (limits["processes"],) * 2),
        ("RLIMIT_FSIZE", (limits["file"],) * 2),
        ("RLIMIT_NOFILE", (limits["files_open"],) * 2),
        ("RLIMIT_CORE", (0, 0)),
    ):
        resource.setrlimit(getattr(resource, name), value)


def _report(status_fd: int, status: bytes, payload: bytes = b"") -> None:
    try:
        _write_all(status_fd, status + payload)
    except OSError:
        pass


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001, S110 (a closed pipe, or a program's own stream)
            pass


def _describe(exc: BaseException) -> str:
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001 (a program's exception may refuse str())
        message = "<unprintable>"
    return f"{name}: {message}" if message else name


def _print_traceback(exc: BaseException) -> None:
    """The traceback module costs milliseconds to import: frames and the exception only."""
    lines = ["Traceback (most recent call last):"]
    frame = exc.__traceback__
    while frame is not None:
        code = frame.tb_frame.f_code
        lines.append(f'  File "{code.co_filename}", line {frame.tb_lineno}, in {code.co_name}')
        frame = frame.tb_next
    lines.append(_describe(exc))
    try:
        _write_all(2, ("\n".join(lines) + "\n").encode("utf-8", "replace"))
    except BaseException:  # noqa: BLE001, S110 (stderr closed by the program)
        pass


def _run_python(code: CodeType, case: Job, status_fd: int) -> int:
    """In the child: run the compiled program, then the case's call if it has one."""
    scope: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(code, scope)  # noqa: S102 (running the program is the point; it is sandboxed)
        call = case.get("call")
        result = b"" if call is None else repr(scope[call[0]](*call[1])).encode("utf-8", "replace")
        _flush()
        _report(status_fd, DONE, result)
        return 0
    except SystemExit as exc:
        _flush()
        _report(status_fd, EXITED)
        status = exc.code
        if status is None or isinstance(status, int):
            return status or 0
        print(status, file=sys.stderr)
        return 1
    except MemoryError as exc:
        _report(status_fd, MEMORY)
        _print_traceback(exc)
    except AssertionError as exc:
        _print_traceback(exc)
        _report(status_fd, ASSERTED)
    except BaseException as exc:  # noqa: BLE001 (whatever the program raises is its verdict)
        _print_traceback(exc)
        _report(status_fd, RAISED)
    _flush()
    return 1


def _child(case: Job, code: CodeType | None, fds: tuple[int, int, int, int]) -> None:
    stdin_fd, out_w, err_w, status_w = fds
    status = 70
    try:
        posix.dup2(stdin_fd, 0)
        posix.dup2(out_w, 1)
        posix.dup2(err_w, 2)
        posix.dup2(status_w, 3)
        posix.closerange(4, 1 << 16)
        _set_limits(case["limits"])
        if code is None:
            posix.execv(case["argv"][0], case["argv"])
        status = _run_python(code, case, 3)
    except MemoryError:
        _report(3, MEMORY)
    except BaseException as exc:  # noqa: BLE001 (the child must reach _exit, whatever happened)
        _print_traceback(exc)
    finally:
        posix._exit(status)


def _memfd(data: bytes) -> int:
    fd = posix.memfd_create("stdin")
    _write_all(fd, data)
    posix.lseek(fd, 0, 0)
    return fd


def _kill_all() -> None:
    # This process is the PID namespace's init: -1 is every other process in it.
    try:
        posix.kill(-1, SIGKILL)
    except ProcessLookupError:
        pass


def _reap() -> None:
    """Kill what the case left running (a daemonized grandchild, a fork bomb) and reap
    it: orphans are this process's to reap, and until reaped they count as processes."""
    while True:
        _kill_all()
        try:
            posix.waitpid(-1, 0)
        except ChildProcessError:
            return


class _Streams:
    """The three pipes of one case, read as they fill, each kept up to its cap."""

    def __init__(self, fds: tuple[int, int, int], caps: dict[str, int]) -> None:
        self.fds = dict(zip(fds, ("out", "err", "status")))
        self.data = {"out": bytearray(), "err": bytearray(), "status": bytearray()}
        self.seen = {"out": 0, "err": 0, "status": 0}
        self.caps = caps

    def read(self, fd: int) -> bool:
        name = self.fds[fd]
        chunk = posix.read(fd, CHUNK)
        if not chunk:
            posix.close(fd)
            del self.fds[fd]
            return False
        self.seen[name] += len(chunk)
        room = self.caps[name] - len(self.data[name])
        if room > 0:
            self.data[name] += chunk[:room]
        return True

    def over(self) -> bool:
        """A stream past the output cap (stdout, or stderr past the same size)."""
        return self.seen["out"] > self.caps["out"] or self.seen["err"] > self.caps["out"]


def _watch(pid: int, streams: _Streams, wall: float) -> tuple[int, Any, str]:
    """Read the case's pipes until the child exits, its wall time runs out or it writes
    too much; returns (wait status, rusage, limit word)."""
    pidfd = posix.pidfd_open(pid)
    deadline = time.monotonic() + wall
    limit = "-"
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                limit = "wall"
                break
            ready, _, _ = select.select([pidfd, *streams.fds], [], [], left)
            if pidfd in ready:
                break
            for fd in ready:
                streams.read(fd)
            if streams.over():
                limit = "output"
                break
    finally:
        posix.close(pidfd)
    if limit != "-":
        _kill_all()
    _, wait_status, usage = posix.wait4(pid, 0)
    _reap()
    for fd in list(streams.fds):  # every writer is dead now: read to the end
        while streams.read(fd):
            pass
    return wait_status, usage, limit


def _run_case(index: int, case: Job, code: CodeType | None) -> dict[str, Any]:
    limits = case["limits"]
    caps = {"out": limits["output"], "err": limits["stderr"], "status": limits["output"]}
    stdin_fd = _memfd(case.get("stdin", b""))
    out_r, out_w = posix.pipe()
    err_r, err_w = posix.pipe()
    status_r, status_w = posix.pipe()
    started = time.monotonic()
    pid = posix.fork()
    if pid == 0:
        _child(case, code, (stdin_fd, out_w, err_w, status_w))
    for fd in (stdin_fd, out_w, err_w, status_w):
        posix.close(fd)
    streams = _Streams((out_r, err_r, status_r), caps)
    wait_status, usage, limit = _watch(pid, streams, limits["wall"])
    cpu = usage.ru_utime + usage.ru_stime
    sig = posix.WTERMSIG(wait_status) if posix.WIFSIGNALED(wait_status) else 0
    if limit == "-" and (sig == SIGXCPU or (sig == SIGKILL and cpu >= limits["cpu"])):
        limit = "cpu"
    elif limit == "-" and sig == SIGXFSZ:
        limit = "file"
    report = bytes(streams.data["status"])
    fields = {
        "exit": posix.WEXITSTATUS(wait_status) if posix.WIFEXITED(wait_status) else -1,
        "signal": sig,
        "status": report[:1].decode("ascii", "replace") if report[:1].isalpha() else "-",
        "limit": limit,
        "wall_us": int((time.monotonic() - started) * 1e6),
        "cpu_us": int(cpu * 1e6),
    }
    _send(index, fields, streams.data["out"], streams.data["err"], report[1:])
    return fields


def _compile(job: Job) -> CodeType | None:
    try:
        return compile(job["source"], job.get("filename", "main.py"), "exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        where = ""
        if isinstance(exc, SyntaxError):
            where = f'  File "{exc.filename}", line {exc.lineno}\n    {(exc.text or "").strip()}\n'
            exc = SyntaxError(exc.msg)
        text = (where + _describe(exc) + "\n").encode("utf-8", "replace")
        fields = {"exit": 1, "signal": 0, "status": "C", "limit": "-", "wall_us": 0, "cpu_us": 0}
        _send(-1, fields, err=text[:4096])
        return None


def main(job: Job) -> None:
    _write_all(1, GREETING)
    for name, data in job.get("files", {}).items():
        with open(name, "wb") as handle:
            handle.write(data)
    code = None
    if job.get("setup"):
        fields = _run_case(-1, job["setup"], None)
        if fields["exit"] != 0 or fields["signal"]:
            return
    if "source" in job:
        code = _compile(job)
        if code is None:
            return
    for index, case in enumerate(job["cases"]):
        _run_case(index, case, code)
