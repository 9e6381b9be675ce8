"""The bubblewrap command line that isolates a program, and the runtimes it can hold.

Every sandbox gets new user, PID, network, IPC, UTS and cgroup namespaces: it sees only
a loopback interface of its own (no route anywhere, not even to the host's 127.0.0.1),
only its own processes, and a file tree made of a fresh size-capped tmpfs (its scratch
directory, also its /tmp), a private /proc and /dev, and read-only binds of what its
runtime needs (the interpreter or compiler and the system libraries). The environment is
cleared; it dies with the process that started it. Only the scratch directory and
/dev/shm (both size-capped tmpfs) are writable. When r1web runs as root, bubblewrap
is started as an unprivileged user (``nobody``), so resource limits that root escapes
(the process count) hold.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from r1domain.sandbox.verdict import SandboxError

SCRATCH = "/sandbox"
SANDBOX_UID = 65534  # nobody, inside and (when r1web is root) outside
SYSTEM_LIBS = ("/usr/lib", "/usr/lib64", "/lib", "/lib64")
LANGUAGES = ("python", "cpp")
PYTHON_ENV = "R1WEB_SANDBOX_PYTHON"


@dataclass(frozen=True)
class Runtime:
    """What a language needs inside the sandbox.

    ``python`` runs the harness (and Python programs in-process); ``compile`` is the
    argv of a compile step run once before the cases, ``run`` the argv of each case
    (None: the program is Python, run by the harness itself).
    """

    language: str
    python: str
    binds: tuple[str, ...]
    source_name: str
    compile: tuple[str, ...] | None = None
    run: tuple[str, ...] | None = None


@lru_cache(maxsize=1)
def bwrap_path() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxError(
            "bubblewrap (bwrap) is not installed: `apt-get install bubblewrap` "
            "(make install does it)"
        )
    return path


def default_python() -> str:
    """The interpreter sandboxes use: ``R1WEB_SANDBOX_PYTHON``, else the system's
    ``/usr/bin/python3``, else the one r1web runs on (a virtualenv's base)."""
    configured = os.environ.get(PYTHON_ENV)
    if configured:
        return configured
    if Path("/usr/bin/python3").exists():
        return "/usr/bin/python3"
    return getattr(sys, "_base_executable", sys.executable)


@lru_cache(maxsize=8)
def _python_dirs(python: str) -> tuple[str, ...]:
    """The interpreter's executable, standard library and shared libpython (if it has
    one), as that interpreter says."""
    script = (
        "import os, sys, sysconfig; v = sysconfig.get_config_var\n"
        "print(sys.executable); print(sysconfig.get_path('stdlib'))\n"
        "if v('Py_ENABLE_SHARED'): print(os.path.join(v('LIBDIR'), v('LDLIBRARY')))"
    )
    try:
        out = subprocess.run(
            [python, "-I", "-S", "-c", script], capture_output=True, text=True, timeout=30,
            check=True, env={},
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError) as exc:
        raise SandboxError(f"the sandbox's Python {python!r} does not run: {exc}") from exc
    return tuple(os.path.realpath(line) for line in out if line)


def python_runtime(python: str | None = None) -> Runtime:
    python = python or default_python()
    paths = _python_dirs(python)
    return Runtime(language="python", python=paths[0], binds=paths, source_name="main.py")


def cpp_runtime(python: str | None = None) -> Runtime:
    compiler = shutil.which("g++")
    if compiler is None:
        raise SandboxError("C++ programs need g++ (`apt-get install g++`)")
    base = python_runtime(python)
    extra = tuple(p for p in ("/usr/bin", "/usr/include", "/usr/libexec") if Path(p).exists())
    return Runtime(
        language="cpp",
        python=base.python,
        binds=(*base.binds, *extra),
        source_name="main.cpp",
        compile=(compiler, "-O2", "-std=c++17", "-pipe", "-o", "main", "main.cpp"),
        run=(f"{SCRATCH}/main",),
    )


def runtime_for(language: str, python: str | None = None) -> Runtime:
    if language == "python":
        return python_runtime(python)
    if language in ("cpp", "c++"):
        return cpp_runtime(python)
    raise SandboxError(f"unknown language {language!r} (known: {', '.join(LANGUAGES)})")


@lru_cache(maxsize=8)
def _mounts(binds: tuple[str, ...]) -> tuple[str, ...]:
    args: list[str] = []
    for path in SYSTEM_LIBS:
        if os.path.islink(path):  # merged /usr: /lib -> usr/lib
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    bound = [p for p in SYSTEM_LIBS if os.path.isdir(p) and not os.path.islink(p)]
    for path in binds:
        if not any(path == b or path.startswith(b + "/") for b in bound):
            args += ["--ro-bind", path, path]
    return tuple(args)


def bwrap_command(runtime: Runtime, *, scratch_bytes: int, script: str) -> list[str]:
    """The argv that starts ``python -c script`` in a fresh sandbox (as an unprivileged
    user when r1web is root)."""
    return [
        *unprivileged(),
        bwrap_path(),
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        # The harness is the namespace's init: no reaper process in between, and no
        # program can signal it (init ignores what its namespace sends it).
        "--as-pid-1",
        "--new-session",
        "--clearenv",
        "--setenv", "PATH", "/usr/bin:/bin",
        "--setenv", "HOME", SCRATCH,
        "--setenv", "LANG", "C.UTF-8",
        "--uid", str(SANDBOX_UID),
        "--gid", str(SANDBOX_UID),
        "--hostname", "sandbox",
        *_mounts(runtime.binds),
        "--proc", "/proc",
        "--dev", "/dev",
        "--size", str(scratch_bytes),
        "--tmpfs", "/dev/shm",
        "--size", str(scratch_bytes),
        "--tmpfs", SCRATCH,
        "--symlink", SCRATCH, "/tmp",
        "--chdir", SCRATCH,
        # bubblewrap builds the tree on a tmpfs of no size limit: read-only once built,
        # so the size-capped scratch directory is the only place a program can write.
        "--remount-ro", "/dev",
        "--remount-ro", "/",
        "--",
        runtime.python, "-I", "-S", "-B", "-c", script,
    ]


@lru_cache(maxsize=1)
def unprivileged() -> tuple[str, ...]:
    """A command prefix that drops root before bubblewrap starts: the kernel does not
    enforce RLIMIT_NPROC on a process that is root outside. util-linux's setpriv rather
    than Popen(user=...), which would make Python fork the whole worker instead of
    vfork."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise SandboxError("r1web runs as root: the sandbox needs setpriv (util-linux)")
    uid = str(SANDBOX_UID)
    return (setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--")
