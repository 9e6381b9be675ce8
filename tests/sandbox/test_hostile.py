"""Hostile programs (issue 25): each is contained, scores 0 with a clear reason, and the
host is the same afterwards. No test sends traffic off this machine: "the internet" is
192.0.2.1, an address reserved for documentation that nothing routes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from r1domain.code.judge import judge_program
from r1domain.code.specs import StdioCase, StdioTests
from r1domain.sandbox import Limits, Status, run_program

REPO = Path(__file__).resolve().parents[2]
ANSWER = StdioTests(cases=(StdioCase(input="", output="42"),))
# A wall limit well above the CPU one: on a busy machine a loop gets less than a core.
QUICK = Limits(cpu_seconds=1, wall_seconds=10, memory_mb=256, output_kb=256)


def sandbox_processes(marker: bytes = b"r1sandbox") -> list[int]:
    """Host PIDs of sandbox processes: the harness's source, and so the greeting, is in
    the command line of every process it forks."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:  # gone meanwhile, or not ours to read
                pass
    return found


@pytest.fixture
def host_secret(monkeypatch, tmp_path):
    """A secret in r1web's environment and a file beside it, as a worker would hold them."""
    secret = f"secret-{uuid.uuid4().hex}"
    monkeypatch.setenv("R1WEB_TEST_SECRET", secret)
    (tmp_path / "checkpoint.bin").write_text(secret)
    return secret


def judged(program: str):
    return judge_program(program, ANSWER, limits=QUICK)


@pytest.mark.parametrize(
    ("program", "status", "reason"),
    [
        ("print(open('/etc/passwd').read())", Status.RUNTIME_ERROR, "FileNotFoundError"),
        (f"print(open({str(REPO / 'r1web/settings.py')!r}).read())", Status.RUNTIME_ERROR,
         "FileNotFoundError"),
        ("import os\nprint(os.environ['R1WEB_TEST_SECRET'])", Status.RUNTIME_ERROR,
         "KeyError: 'R1WEB_TEST_SECRET'"),
        ("open('/usr/lib/planted', 'w').write('x')", Status.RUNTIME_ERROR, "Read-only file system"),
        ("import socket\nsocket.create_connection(('192.0.2.1', 80), timeout=3)",
         Status.RUNTIME_ERROR, "Network is unreachable"),
        ("import socket\nsocket.create_connection(('127.0.0.1', 5432), timeout=3)",
         Status.RUNTIME_ERROR, "ConnectionRefusedError"),
        ("import socket\nsocket.create_connection(('127.0.0.1', 6379), timeout=3)",
         Status.RUNTIME_ERROR, "ConnectionRefusedError"),
        ("import socket\nsocket.getaddrinfo('pypi.org', 443)", Status.RUNTIME_ERROR, "gaierror"),
        ("while True:\n    pass", Status.TIMEOUT, "CPU"),
        ("block = bytearray(16 * 2**30)", Status.MEMORY, "256 MiB of memory"),
        ("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", Status.OUTPUT_LIMIT,
         "more than 256 KiB"),
        ("import os\nwhile True:\n    os.fork()", Status.RUNTIME_ERROR, "BlockingIOError"),
    ],
    ids=["etc-passwd", "project-files", "environment", "write-system", "internet",
         "postgresql", "redis", "dns", "infinite-loop", "huge-allocation", "huge-output",
         "fork-bomb"],
)
def test_a_hostile_program_scores_zero_with_a_clear_reason(program, status, reason, host_secret):
    result = judged(program)

    assert result.pass_rate == 0.0
    assert result.outcomes[0].status is status
    assert reason in result.reason
    assert sandbox_processes() == []


def test_the_sandbox_sees_none_of_the_hosts_files_environment_or_processes(host_secret, tmp_path):
    probe = f"""
import json, os
secret = {host_secret!r}
host_paths = ('/etc', '/root', '/home', '/var', {str(tmp_path)!r}, {str(REPO)!r})
leaks = [k for k, v in os.environ.items() if secret in v]
processes = [pid for pid in os.listdir('/proc') if pid.isdigit()]
for pid in processes:
    for name in ('environ', 'cmdline'):
        try:
            if secret.encode() in open(f'/proc/{{pid}}/{{name}}', 'rb').read():
                leaks.append(pid)
        except OSError:
            pass
print(json.dumps({{"top": sorted(os.listdir('/')), "leaks": leaks, "processes": len(processes),
                  "host_paths": [p for p in host_paths if os.path.exists(p)]}}))
"""
    verdict = run_program(probe)
    seen = json.loads(verdict.stdout)

    assert verdict.status is Status.OK, verdict.stderr
    assert seen["leaks"] == [] and seen["host_paths"] == []
    assert set(seen["top"]) <= {"dev", "lib", "lib64", "proc", "sandbox", "tmp", "usr"}
    assert seen["processes"] == 2  # the harness (the namespace's init) and the program


def test_writes_stay_in_the_sandbox(tmp_path):
    before = sorted(os.listdir(tmp_path))
    program = (
        f"import os\nfor path in ({str(tmp_path / 'planted')!r}, '/usr/planted', '/planted',\n"
        "             '/dev/planted', '/usr/lib/planted'):\n"
        "    try:\n        open(path, 'w').write('x')\n        print('wrote', path)\n"
        "    except OSError as exc:\n        print(type(exc).__name__)\n"
        "open('scratch.txt', 'w').write('fine')\n"
    )
    verdict = run_program(program)

    assert "wrote" not in verdict.stdout
    assert verdict.stdout.split() == ["FileNotFoundError", *["OSError"] * 4]
    assert sorted(os.listdir(tmp_path)) == before
    assert not Path("/usr/planted").exists() and not Path("/planted").exists()


def test_the_network_is_a_lone_loopback_that_reaches_no_host_listener():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        program = (
            "import socket\nprint(socket.if_nameindex())\n"
            f"for port in ({port}, 5432, 6379):\n"
            "    try:\n        socket.create_connection(('127.0.0.1', port), timeout=3)\n"
            "        print('reached', port)\n"
            "    except OSError as exc:\n        print(type(exc).__name__)\n"
        )
        verdict = run_program(program)

        with pytest.raises(BlockingIOError):  # nobody knocked
            listener.accept()
    assert verdict.stdout.splitlines() == ["[(1, 'lo')]", *["ConnectionRefusedError"] * 3]


def test_a_program_cannot_signal_host_processes_nor_the_sandbox_harness():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        host = run_program(f"import os, signal\nos.kill({sleeper.pid}, signal.SIGKILL)\n")
        everyone = run_program("import os, signal\nos.kill(-1, signal.SIGKILL)\n")
        harness = run_program("import os, signal\nos.kill(1, signal.SIGKILL)\nprint('judged')")
        time.sleep(0.2)

        assert "ProcessLookupError" in host.reason
        assert "ProcessLookupError" in everyone.reason  # nothing else there to signal
        assert harness.status is Status.OK and harness.stdout == "judged\n"
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_children_do_not_outlive_the_program():
    marker = f"left-behind-{uuid.uuid4().hex}"
    program = (
        "import os, sys\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(120) # {marker}'])\n"
        "print('parent leaves')\n"
    )
    verdict = run_program(program)

    assert verdict.status is Status.OK and verdict.stdout == "parent leaves\n"
    assert sandbox_processes(marker.encode()) == []
    assert sandbox_processes() == []


def test_a_killed_sandbox_takes_every_process_with_it():
    # What a worker killed mid-stage leaves: its bubblewrap dies, --die-with-parent and
    # the PID namespace take the rest.
    from r1domain.sandbox.bwrap import bwrap_command, python_runtime

    command = bwrap_command(
        python_runtime(), scratch_bytes=2**20,
        script="import os, time\nos.fork(); os.fork()\ntime.sleep(120) # r1sandbox-kill",
    )
    process = subprocess.Popen(command)
    deadline = time.monotonic() + 10
    while len(sandbox_processes(b"r1sandbox-kill")) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(sandbox_processes(b"r1sandbox-kill")) >= 5  # bwrap, init and four sleepers

    process.kill()
    process.wait()
    deadline = time.monotonic() + 5
    while sandbox_processes(b"r1sandbox-kill") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_processes(b"r1sandbox-kill") == []


def test_a_program_cannot_make_user_namespaces_of_its_own():
    # A nested user namespace is the usual first step of a kernel exploit from a sandbox.
    program = (
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.unshare(0x10000000), os.strerror(ctypes.get_errno()))"  # CLONE_NEWUSER
    )
    verdict = run_program(program)

    assert verdict.stdout.startswith("-1 ")


def test_a_killed_caller_leaves_no_sandbox_process_behind():
    # A worker SIGKILLed while a program runs: --die-with-parent takes the sandbox down.
    script = "from r1domain.sandbox import run_program\nrun_program('import time; time.sleep(120)')"
    caller = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    deadline = time.monotonic() + 20
    while not sandbox_processes(b"r1sandbox") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # the program is running now
    assert sandbox_processes()

    caller.kill()
    caller.wait()
    deadline = time.monotonic() + 5
    while sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_processes() == []
