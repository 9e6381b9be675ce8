"""Latency of the pages 50 signed-in viewers use while a stage ingests at full rate.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/load .venv/bin/python bench/load.py

Everything runs on this machine, over loopback only:

1. a setup process migrates, seeds PostgreSQL once (COPY: four finished GRPO runs with
   ``--seed-samples`` samples, flags and TRL's metrics), makes the viewer accounts and a
   queued GRPO stage, and signs each viewer in (a session, as Django's test client makes
   it; ``--login-page`` signs them in through the form instead) (``bench/load_data.py``);
2. the web server as docker-compose deploys it: ``gunicorn r1web.wsgi`` with 3 workers of
   4 threads. For 2 cores: one process per core plus one, so both cores keep running
   Python while a process waits on PostgreSQL, and threads so a request waiting on the
   database does not hold a slot (12 requests in flight, more than two cores can serve);
3. an ingesting process that claims the stage as a worker does and records through
   ``workers.recording.DatabaseSink`` (samples, metrics, progress, heartbeats) in GRPO
   steps of ``--batch`` samples, as fast as the database takes them: a real stage is
   slowed by its GPU, this one only by PostgreSQL (``--step-seconds`` paces it like a GPU:
   128 samples every 0.5 s is 256 samples/s, more than a GRPO run on one GPU makes);
4. Locust, as a library in this process: ``--users`` signed-in viewers browse the runs
   list, the live run and a finished one (polling their htmx fragments and the chart
   data as the pages do), the live stage, and the trace browser with filters, search and
   paging, a sample and a GRPO group.

Requests are timed for ``--duration`` seconds once every viewer is signed in. It prints
median and p95 per page, the ingestion rate in that window, the CPU each part used and
the load average (other work on the machine counts), and ends with
``load p95_ms=<x> errors=<n>``: p95 over every viewer request of the window; errors are
requests of the whole run (sign-ins included) that failed, raised, answered other than
2xx/3xx or sent a viewer back to the login page, plus one if a sample handed to the
sink was not stored. Target: p95 under 200 ms and 0 errors with 50 viewers.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "r1web.settings")


def main() -> None:
    args = _parser().parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit(
            "bench/load.py needs PostgreSQL: set DATABASE_URL, e.g.\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/load "
            ".venv/bin/python bench/load.py\n"
            "(SQLite is no deployment to load-test: it takes one writer at a time)"
        )
    from bench import load_data

    if args.prepare:
        load_data.prepare(args.users, args.seed_samples, sessions=not args.login_page)
    elif args.ingest:
        load_data.ingest(args.ingest, args.batch, args.generations, args.step_seconds)
    else:
        orchestrate(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--users", type=int, default=50, help="signed-in viewers (default 50)")
    add("--duration", type=float, default=60, help="timed seconds after ramp-up (60)")
    add("--spawn-rate", type=float, default=5, help="viewers started per second (5)")
    add("--workers", type=int, default=3, help="gunicorn worker processes (3)")
    add("--threads", type=int, default=4, help="threads per gunicorn worker (4)")
    add("--seed-samples", type=int, default=200_000, help="samples of the finished runs")
    add("--batch", type=int, default=128, help="samples per ingested GRPO step (128)")
    add("--generations", type=int, default=8, help="completions per prompt (8)")
    add("--step-seconds", type=float, default=0.0,
        help="seconds per ingested step, as a GPU would pace it (default 0: as fast as "
             "the database takes them)")
    add(
        "--login-page",
        action="store_true",
        help="sign every viewer in through the login form (default: sessions made beforehand)",
    )
    # The other processes' entry points (gevent, imported with locust, must not patch them).
    add("--prepare", action="store_true", help=argparse.SUPPRESS)
    add("--ingest", type=int, metavar="STAGE", help=argparse.SUPPRESS)
    return parser


# --- the run -------------------------------------------------------------------------


def orchestrate(args) -> None:
    from locust.env import Environment  # patches the standard library with gevent

    python = sys.executable
    prepare = [
        python,
        __file__,
        "--prepare",
        "--users",
        str(args.users),
        "--seed-samples",
        str(args.seed_samples),
        *(["--login-page"] if args.login_page else []),
    ]
    out = subprocess.run(prepare, check=True, stdout=subprocess.PIPE, text=True).stdout
    plan = json.loads(out.splitlines()[-1])
    logs = Path(tempfile.mkdtemp(prefix="r1web-load-"))
    port = _free_port()
    web = _start_web(python, port, args, logs / "web.log")
    ingester = None
    try:
        _wait_for(f"http://127.0.0.1:{port}/login/", web, logs / "web.log")
        ingest = [
            python,
            __file__,
            "--ingest",
            str(plan["live_stage"]),
            "--batch",
            str(args.batch),
            "--generations",
            str(args.generations),
            "--step-seconds",
            str(args.step_seconds),
        ]
        ingester = subprocess.Popen(ingest, stdout=(logs / "ingest.log").open("w"), cwd=ROOT)
        time.sleep(3)  # the stage is claimed and writing before the first viewer arrives
        viewer = _viewer_class()
        viewer.plan = plan
        env = Environment(user_classes=[viewer], host=f"http://127.0.0.1:{port}")
        env.events.request.add_listener(RECORDER.on_request)
        meter = CpuMeter(web.pid, ingester.pid)
        window = _run_load(env, viewer, args, meter)
    finally:
        if ingester is not None:
            ingester.send_signal(signal.SIGTERM)
            ingester.wait(timeout=300)
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=60)
    _report(window, logs, args)


def _run_load(env, viewer, args, meter) -> dict:
    import gevent

    runner = env.create_local_runner()
    runner.start(args.users, spawn_rate=args.spawn_rate)
    deadline = time.time() + 300
    while viewer.signed_in < args.users and time.time() < deadline:
        gevent.sleep(0.5)
    print(f"ramp-up: {viewer.signed_in}/{args.users} viewers signed in", flush=True)
    RECORDER.measuring = True
    start, cpu_before = time.time(), meter.read()
    gevent.sleep(args.duration)
    RECORDER.measuring = False
    end, cpu_after, load = time.time(), meter.read(), os.getloadavg()
    runner.quit()
    cpu = {part: cpu_after[part] - cpu_before.get(part, 0.0) for part in cpu_after}
    return {"start": start, "end": end, "load": load, "cpu": cpu}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_web(python: str, port: int, args, log: Path) -> subprocess.Popen:
    command = [
        python,
        "-m",
        "gunicorn",
        "r1web.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
    ]
    print("web:", " ".join(command[1:]), flush=True)
    return subprocess.Popen(command, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)


def _wait_for(url: str, web: subprocess.Popen, log: Path) -> None:
    import urllib.request

    for _ in range(120):
        if web.poll() is not None:
            sys.exit(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"gunicorn did not answer {url}:\n{log.read_text()[-3000:]}")


class CpuMeter:
    """CPU seconds used so far by the web server, the ingester, PostgreSQL's backends for
    this database and Locust itself: what this benchmark cost, whatever else runs."""

    def __init__(self, web_pid: int, ingest_pid: int) -> None:
        import psutil

        self.psutil = psutil
        self.roots = {"web": web_pid, "ingester": ingest_pid, "locust": os.getpid()}
        self.database = urlparse(os.environ["DATABASE_URL"]).path.lstrip("/")
        self.seen: dict[str, dict[int, float]] = {}

    def read(self) -> dict[str, float]:
        for part, pid in self.roots.items():
            root = self.psutil.Process(pid)
            children = [] if part == "locust" else root.children(recursive=True)
            self._add(part, [root, *children])
        backends = [p for p in self.psutil.process_iter(["cmdline"]) if self._ours(p)]
        self._add("postgres", backends)
        return {part: sum(times.values()) for part, times in self.seen.items()}

    def _ours(self, process) -> bool:
        title = " ".join(process.info["cmdline"] or [])
        return title.startswith("postgres: ") and f" {self.database} " in title

    def _add(self, part: str, processes) -> None:
        # A process that exits keeps the seconds last seen: they were spent.
        seen = self.seen.setdefault(part, {})
        for process in processes:
            try:
                times = process.cpu_times()
            except self.psutil.Error:
                continue
            seen[process.pid] = times.user + times.system


class Recorder:
    """Every request's time (exact p95, not Locust's rounded buckets) and every error."""

    def __init__(self) -> None:
        self.measuring = False
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.examples: list[str] = []

    def on_request(self, name, response_time, exception=None, **_) -> None:
        if exception is not None:
            self.errors[name] = self.errors.get(name, 0) + 1
            if len(self.examples) < 5:
                self.examples.append(f"{name}: {exception}")
        if self.measuring:
            self.times.setdefault(name, []).append(response_time)


RECORDER = Recorder()


# --- the viewers ---------------------------------------------------------------------

OK = {200, 286}  # 286: htmx's "stop polling", sent once a run has finished
SAMPLE_LINK = re.compile(r'href="(/traces/samples/\d+/\?[^"]*)"')
GROUP_LINK = re.compile(r'href="(/traces/groups/\d+/\d+/\d+/)"')
NEXT_LINK = re.compile(r'rel="next" href="\?([^"]+)"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SEARCHES = ("double-check", "recheck", "however")


SESSION_COOKIE = "sessionid"  # Django's default name; r1web keeps it


def _cookie(name: str, value: str):
    """A cookie for the loopback host, as the server would have set it at sign-in."""
    from http.cookiejar import Cookie

    return Cookie(
        0,
        name,
        value,
        None,
        False,
        "127.0.0.1",
        False,
        False,
        "/",
        True,
        False,
        None,
        False,
        None,
        None,
        {},
    )


def _viewer_class():
    from locust import FastHttpUser, between, task
    from locust.exception import StopUser

    from bench.load_data import PASSWORD

    class Viewer(FastHttpUser):
        """A person reading r1web: a page at a time, each watched a while as it polls."""

        wait_time = between(1, 4)
        plan: ClassVar[dict] = {}
        signed_in = 0
        _numbers = iter(range(10**6))

        def on_start(self) -> None:
            number = next(Viewer._numbers) % len(self.plan["users"])
            if self.plan["sessions"]:
                session = self.plan["sessions"][number]
                self.client.cookiejar.set_cookie(_cookie(SESSION_COOKIE, session))
                Viewer.signed_in += 1
                return
            for _ in range(3):  # a person whose sign-in timed out tries again
                if self.sign_in(self.plan["users"][number]):
                    Viewer.signed_in += 1
                    return
            raise StopUser()  # never browse signed out: every page would redirect

        def sign_in(self, username: str) -> bool:
            page = self.client.get("/login/", name="login page")
            token = CSRF.search(page.text or "")
            form = {
                "username": username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": token.group(1) if token else "",
            }
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            with self.client.post(
                "/login/",
                data=urlencode(form),
                headers=headers,
                name="login",
                allow_redirects=False,
                catch_response=True,
            ) as response:
                location = (response.headers or {}).get("Location", "")
                if response.status_code == 302 and "/login" not in location:
                    response.success()
                    return True
                response.failure(f"sign-in failed: {response.status_code}")
                return False

        def get(self, path: str, name: str, *, htmx: bool = False, **params) -> str:
            headers = {"HX-Request": "true"} if htmx else {}
            if params:
                path = f"{path}?{urlencode(params)}"
            with self.client.get(
                path, name=name, headers=headers, allow_redirects=False, catch_response=True
            ) as response:
                if response.status_code in OK:
                    response.success()
                else:  # a redirect here can only be to the login page
                    location = (response.headers or {}).get("Location", "")
                    response.failure(f"{response.status_code} {location}")
                return response.text or ""

        def watch(self, seconds: float, every: float, *polls) -> None:
            """Stay on a page while it polls: ``polls`` are (every_n_ticks, callable)."""
            for tick in range(1, int(seconds / every) + 1):
                time.sleep(every)
                for period, poll in polls:
                    if tick % period == 0:
                        poll()

        @task(3)
        def runs_list(self) -> None:
            self.get("/", "runs list")
            self.watch(6, 3, (1, lambda: self.get("/", "runs list (poll)", htmx=True)))

        @task(4)
        def live_run(self) -> None:
            run = f"/runs/{self.plan['live_run']}/"
            self.get(run, "run page (live)")
            # The stage table polls every 3 s; charts.js refetches the data every 5 s.
            self.watch(
                15,
                1,
                (3, lambda: self.get(run, "run stages (poll)", htmx=True)),
                (5, lambda: self.get(f"{run}charts.json", "chart data (live)")),
            )

        @task(2)
        def finished_run(self) -> None:
            run = random.choice(self.plan["runs"])
            self.get(f"/runs/{run['id']}/", "run page")
            time.sleep(random.uniform(1, 3))
            x0 = random.randint(1, run["steps"] // 2)
            self.get(
                f"/runs/{run['id']}/charts.json",
                "chart data (zoom)",
                x0=x0,
                x1=x0 + run["steps"] // 4,
                smoothing=0.6,
            )

        @task(1)
        def live_stage(self) -> None:
            stage = f"/stages/{self.plan['live_stage']}/"
            self.get(stage, "stage page")
            self.watch(6, 3, (1, lambda: self.get(stage, "stage progress (poll)", htmx=True)))

        @task(4)
        def traces(self) -> None:
            run = random.choice(self.plan["runs"])["id"]
            self.get("/traces/", "traces")
            for name, params in (
                ("traces: live run", {"run": self.plan["live_run"]}),
                ("traces: correct+reflection", {"run": run, "correct": "yes", "reflection": "yes"}),
                ("traces: reward range", {"run": run, "reward_min": 1.5, "reward_max": 2}),
                ("traces: search", {"q": random.choice(SEARCHES)}),
                ("traces: sort -reward", {"run": run, "sort": "-reward"}),
            ):
                if random.random() < 0.5:
                    time.sleep(random.uniform(0.5, 2))
                    self.get("/traces/", name, htmx=True, **params)
            time.sleep(random.uniform(0.5, 2))
            self.follow(self.get("/traces/", "traces: run", htmx=True, run=run))

        def follow(self, text: str) -> None:
            """Next page, a sample and its GRPO group, from the links on the page."""
            if found := NEXT_LINK.search(text):
                time.sleep(random.uniform(0.5, 2))
                page = f"/traces/?{html.unescape(found.group(1))}"
                self.get(page, "traces: next page", htmx=True)
            if found := SAMPLE_LINK.search(text):
                time.sleep(random.uniform(0.5, 2))
                self.get(html.unescape(found.group(1)), "sample page")
            if found := GROUP_LINK.search(text):
                time.sleep(random.uniform(0.5, 2))
                self.get(found.group(1), "group page")

    return Viewer


# --- the report ----------------------------------------------------------------------


def _report(window: dict, logs: Path, args) -> None:
    seconds = window["end"] - window["start"]
    everything = []
    print(f"\n{'page':30s} {'requests':>8s} {'median':>8s} {'p95':>8s}   (ms)")
    for name, times in sorted(RECORDER.times.items()):
        everything += times
        print(f"{name:30s} {len(times):8d} {statistics.median(times):8.1f} {_p95(times):8.1f}")
    requests = len(everything)
    print(
        f"\n{requests} requests in {seconds:.0f}s ({requests / seconds:.1f}/s) from "
        f"{args.users} viewers; gunicorn {args.workers} workers x {args.threads} threads"
    )
    rate, summary = _ingest_rate(logs / "ingest.log", window["start"], window["end"])
    print(
        f"ingestion: {rate:,.0f} samples/s in the window, {args.batch} per step; "
        f"{summary.get('stored', 0):,} stored of {summary.get('handed', 0):,} handed over"
    )
    cpu = window["cpu"]
    per_request = 1000 * cpu.get("web", 0) / max(requests, 1)
    print(
        "CPU in the window: "
        + ", ".join(f"{part} {s:.0f}s" for part, s in cpu.items())
        + f" ({sum(cpu.values()) / seconds:.2f} cores; web {per_request:.0f} ms/request)"
    )
    load = window["load"]
    print(
        f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        f"(1, 5, 15 min) on {os.cpu_count()} cores"
    )
    for example in RECORDER.examples:
        print("error:", example)
    errors = sum(RECORDER.errors.values()) + (summary.get("stored") != summary.get("handed"))
    p95 = _p95(everything) if everything else float("nan")
    print(f"load p95_ms={p95:.1f} errors={errors}")


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]


def _ingest_rate(log: Path, start: float, end: float) -> tuple[float, dict]:
    """Samples per second handed over inside the window (the sink's writer stays within
    a step of that), and the ingester's final summary."""
    points, summary = [], {}
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            summary = json.loads(line)
        elif line:
            moment, handed = line.split()
            points.append((float(moment), int(handed)))
    if not points or end <= start:
        return 0.0, summary
    # Over the whole window, not between its first and last step: a write that held the
    # ingester for most of the window would otherwise leave two close steps to divide.
    return (_handed_at(points, end) - _handed_at(points, start)) / (end - start), summary


def _handed_at(points: list[tuple[float, int]], moment: float) -> int:
    """Samples handed over by ``moment`` (the last step printed at or before it)."""
    return max((handed for at, handed in points if at <= moment), default=0)


if __name__ == "__main__":
    main()
