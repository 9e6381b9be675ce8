"""The documentation's screenshots, taken from a seeded demo state in real Chromium.

    createdb -h 127.0.0.1 -U postgres screens
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/screens \\
        .venv/bin/python docs/screenshots.py

Seeds an empty PostgreSQL database with what ``make demo`` leaves behind, scaled up
(``bench/demo_state.py``: the R1-Zero demo run and two runs to compare it with, flags, a
cold-start curation queue), starts gunicorn on it, signs in as the demo operator and
drives Debian's Chromium (``/usr/bin/chromium``, never a downloaded browser) through
Playwright over the pages the README's tour visits. Each page is written to
``docs/images/<name>.png`` at 1280x800, reduced to a 256-colour palette (Pillow, from
``requirements-bench.txt``) so that the images stay small in git.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "r1web.settings")

CHROMIUM = os.environ.get("R1WEB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
# The seed's users are named for the bench; the pictures show the demo's own names.
USER_NAMES = {"bench-operator": "demo", "bench-alice": "alice", "bench-bob": "bob"}


@dataclass(frozen=True)
class Shot:
    name: str
    url: str
    ready: str  # a CSS selector that is on the page once it has drawn
    scroll_to: str = ""  # a CSS selector to bring to the top of the window first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200_000, help="samples to seed")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (0: a free one)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("docs/screenshots.py seeds with COPY: set DATABASE_URL to an empty PostgreSQL "
                 "database (see the docstring)")
    import django

    django.setup()
    from django.core.management import call_command

    from bench.chaos import free_port
    from bench.demo_state import seed

    call_command("migrate", verbosity=0)
    seed(args.samples)
    _rename_users()
    _hold_a_candidate()
    port = args.port or free_port()
    with _server(port):
        _take(f"http://127.0.0.1:{port}", _shots())


def _rename_users() -> None:
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    for seeded, shown in USER_NAMES.items():
        if not users.filter(username=shown).exists():
            users.filter(username=seeded).update(username=shown)


def _hold_a_candidate() -> None:
    """The demo operator holds a cold-start candidate, so that the queue's picture shows
    the editor (a hold lasts minutes; the seed's may have run out)."""
    from django.contrib.auth import get_user_model

    from r1web.curation.services import curation_claim_next
    from r1web.datasets.models import Dataset

    curation_claim_next(
        dataset=Dataset.objects.get(name="cold-start"),
        user=get_user_model().objects.get(username="demo"),
    )


def _shots() -> list[Shot]:
    from django.urls import reverse

    from bench.demo_state import DEMO_RUN, SMALL_RUNS
    from r1web.runs.models import Run
    from r1web.traces.models import Sample

    demo = Run.objects.get(name=DEMO_RUN)
    grpo = demo.stages.get(key="grpo")
    small = list(Run.objects.filter(name__in=SMALL_RUNS).order_by("pk"))
    sample = (
        Sample.objects.filter(stage=grpo, probe=False, correct=True, reflection_count__gt=1)
        .order_by("-id")
        .first()
    )
    probe = Sample.objects.filter(run=demo, probe=True).order_by("example_key").first()
    run_page = reverse("runs:detail", args=[demo.pk])
    traces = reverse("traces:list")
    compared = "&".join(f"runs={run.pk}" for run in [demo, *small])
    return [
        Shot("run-page", run_page, "#aha"),
        Shot("run-charts", run_page, "#chart-reflection .main-svg", scroll_to="#charts"),
        Shot(
            "trace-browser",
            f"{traces}?run={demo.pk}&samples=training&reflection=yes&correct=yes",
            "#results table",
        ),
        Shot("sample-page", sample.get_absolute_url(), "#think"),
        Shot(
            "evolution",
            f"{reverse('traces:evolution', args=[demo.pk])}?key={quote(probe.example_key)}",
            "main",
        ),
        Shot("curation-queue", reverse("curation:queue", args=["cold-start"]), "main"),
        Shot(
            "compare",
            f"{reverse('runs:compare')}?{compared}",
            "#chart-reward .main-svg",
            scroll_to="#evaluations",
        ),
    ]


@contextmanager
def _server(port: int) -> Iterator[None]:
    """gunicorn as ``make demo`` runs it, on the same database, until the pictures are
    taken."""
    from bench.chaos import wait_for_port

    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "r1web.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", "2", "--threads", "4"],
        cwd=ROOT,
    )
    try:
        wait_for_port(port)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def _session_cookie(url: str) -> dict:
    """A signed-in session for the demo operator, made by Django's test client in the
    database the server reads (no password needed)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="demo"))
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    return {"name": cookie.key, "value": cookie.value, "url": url}


def _take(url: str, shots: list[Shot]) -> None:
    from playwright.sync_api import sync_playwright

    IMAGES.mkdir(parents=True, exist_ok=True)
    cookie = _session_cookie(url)  # before Playwright's event loop: the ORM is sync-only
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(base_url=url, viewport=VIEWPORT)
        context.add_cookies([cookie])
        context.set_default_timeout(30_000)
        page = context.new_page()
        for shot in shots:
            page.goto(shot.url)
            page.wait_for_selector(shot.ready)
            page.wait_for_load_state("networkidle")
            if shot.scroll_to:
                page.locator(shot.scroll_to).evaluate(
                    "el => window.scrollTo(0, el.getBoundingClientRect().top + scrollY - 16)"
                )
            path = IMAGES / f"{shot.name}.png"
            page.screenshot(path=str(path))
            _shrink(path)
            print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KiB")
        browser.close()


def _shrink(path: Path) -> None:
    """A 256-colour palette: pages are flat colours and text, and a third of the bytes."""
    from PIL import Image

    with Image.open(path) as image:
        reduced = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    reduced.save(path, optimize=True)


if __name__ == "__main__":
    main()
