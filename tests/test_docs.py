"""The documentation stays true: the site builds strict, the quickstart's commands run,
and the reference pages name what the code has."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
QUICKSTART = DOCS / "quickstart.md"
# A fenced block with its language tag; the quickstart runs the ones tagged sh.
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
NOT_RUN = re.compile(r"^<!-- not run by the tests: (.+) -->$")


def mkdocs_env() -> dict[str, str]:
    # Material prints a notice about MkDocs 2.0 on every build; it is not a build warning.
    return {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def test_the_docs_site_builds_in_strict_mode_without_a_warning(tmp_path):
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, env=mkdocs_env(), capture_output=True, text=True, timeout=300, check=False,
    )
    output = result.stdout + result.stderr
    warnings = [line for line in output.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert result.returncode == 0 and not warnings, output
    assert (site / "quickstart" / "index.html").is_file()
    assert (site / "images" / "run-page.png").is_file()


def sh_blocks(text: str) -> list[tuple[str, str | None]]:
    """(code, why it is not run, or None) of every ```sh block, in page order."""
    blocks = []
    for match in FENCE.finditer(text):
        if match.group(1) != "sh":
            continue
        before = text[: match.start()].rstrip().splitlines()
        marker = NOT_RUN.match(before[-1].strip()) if before else None
        blocks.append((match.group(2), marker.group(1) if marker else None))
    return blocks


def quickstart_env(var_dir: Path) -> dict[str, str]:
    """The embedded mode the quickstart describes, in a fresh folder: this machine's
    databases and broker are never touched, and ``python`` is the test's own."""
    env = {
        key: value for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "R1WEB_TINY_BASE", "SECRET_KEY"}
    }
    env["R1WEB_VAR_DIR"] = str(var_dir)
    env["TMPDIR"] = str(var_dir.parent)  # what a block's mktemp makes goes with the test
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def test_every_runnable_block_of_the_quickstart_runs_in_order_in_a_fresh_embedded_setup(
    tmp_path,
):
    blocks = sh_blocks(QUICKSTART.read_text())
    runnable = [code for code, why_not in blocks if why_not is None]
    # Without runnable blocks this test would pass on nothing.
    assert len(runnable) >= 3, "the quickstart has lost its runnable commands"
    env = quickstart_env(tmp_path / "var")
    for code in runnable:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", code],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
        )
        assert result.returncode == 0, f"{code}\nexited {result.returncode}:\n" + (
            result.stdout + result.stderr
        )


def test_a_quickstart_block_left_out_of_the_test_says_why():
    text = QUICKSTART.read_text()
    skipped = [why for _, why in sh_blocks(text) if why is not None]
    assert skipped and all(why.strip() for why in skipped)
    # A marker that does not sit right above an sh fence would silently run nothing.
    markers = [line for line in text.splitlines() if NOT_RUN.match(line.strip())]
    assert len(markers) == len(skipped)


@pytest.mark.parametrize(
    "recipe",
    ["r1-zero", "cold-start-sft", "r1", "distill", "mix", "rejection-sampling", "reward-model"],
)
def test_each_recipe_has_a_page_naming_every_parameter_of_its_launch_form(recipe):
    from r1web.runs.recipes import RECIPES

    page = (DOCS / "recipes" / f"{recipe}.md").read_text()
    missing = [p.name for p in RECIPES[recipe].params if f"`{p.name}`" not in page]
    assert not missing, f"docs/recipes/{recipe}.md does not name {missing}"


def test_every_recipe_is_documented():
    from r1web.runs.recipes import RECIPES

    pages = sorted(path.stem for path in (DOCS / "recipes").glob("*.md") if path.stem != "index")
    assert pages == sorted(RECIPES)


# Environment variables ---------------------------------------------------------------

# envstr("NAME", ...), os.environ.get("NAME"), os.environ["NAME"], os.getenv("NAME")
ENV_READ = re.compile(
    r"(?:env(?:str|bool|int|list|header)\(|environ\.get\(|environ\[|getenv\()"
    r"\s*\"([A-Z][A-Z0-9_]+)\""
)
# Read by the code, but set by r1web itself or by torch for the processes it starts.
INTERNAL = {"DJANGO_SETTINGS_MODULE", "R1WEB_SUPERVISOR_PID", "RANK"}
SOURCES = ("r1web", "workers", "r1domain", "client/r1web_client")
# Tools beside the application that read a variable the page documents.
TOOLS = ("docs/screenshots.py", "tests/browser/conftest.py")
CONFIGURATION = DOCS / "configuration.md"


def source_texts() -> list[str]:
    return [path.read_text() for folder in SOURCES for path in (ROOT / folder).rglob("*.py")]


def test_the_configuration_page_names_every_environment_variable_the_code_reads():
    page = CONFIGURATION.read_text()
    read = {name for text in source_texts() for name in ENV_READ.findall(text)} - INTERNAL
    assert {"DATABASE_URL", "R1WEB_TRAINERS_DIR"} <= read  # the scan finds both spellings
    missing = sorted(name for name in read if f"`{name}`" not in page)
    assert not missing, f"docs/configuration.md does not name {missing}"


def test_every_variable_the_configuration_page_names_is_read_somewhere():
    rows = [line for line in CONFIGURATION.read_text().splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`",
                                                              row.split("|")[1])}
    code = "\n".join(source_texts() + [(ROOT / tool).read_text() for tool in TOOLS])
    stale = sorted(name for name in documented if f'"{name}"' not in code)
    assert documented and not stale, f"docs/configuration.md names what nothing reads: {stale}"


# The README --------------------------------------------------------------------------

README_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_every_link_and_picture_of_the_readme_points_at_a_file_of_the_checkout():
    targets = [t for t in README_LINK.findall((ROOT / "README.md").read_text()) if "://" not in t]
    assert "docs/images/run-page.png" in targets
    missing = [target for target in targets if not (ROOT / target).exists()]
    assert not missing, f"README.md links to missing files: {missing}"
