"""Settings from the environment: the secret key, and the TLS settings a deployment
turns on. Start-up is tested in a fresh process, as a server would start."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from r1web.env import envheader
from r1web.secret_key import secret_key

ROOT = Path(__file__).resolve().parents[1]
SECURE = ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT",
          "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
          "SECURE_PROXY_SSL_HEADER")
SHOW = f"""
import json, django
django.setup()
from django.conf import settings
print(json.dumps({{n: getattr(settings, n) for n in {SECURE + ("SECRET_KEY",)!r}}}))
"""
STRONG = "k3y-" + "x7Qp9vR2" * 8


def start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Load the settings in a new process with only ``env`` set (and a var dir)."""
    base = {k: v for k, v in os.environ.items() if k not in {*SECURE, "SECRET_KEY", "DEBUG"}}
    base |= {"R1WEB_VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "r1web.settings"}
    return subprocess.run([sys.executable, "-c", SHOW], cwd=ROOT, env=base | env,
                          capture_output=True, text=True, timeout=120, check=False)


def loaded(tmp_path: Path, **env: str) -> dict:
    process = start(tmp_path, **env)
    assert process.returncode == 0, process.stderr[-2000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


# The secret key ---------------------------------------------------------------------

def test_with_no_key_set_each_install_makes_its_own_and_keeps_it(tmp_path):
    key = secret_key(value="", var_dir=tmp_path / "a", debug=False)
    assert len(key) >= 50
    assert secret_key(value="", var_dir=tmp_path / "a", debug=False) == key
    assert secret_key(value="", var_dir=tmp_path / "b", debug=False) != key


def test_the_made_key_is_readable_by_its_owner_only(tmp_path):
    key = secret_key(value="", var_dir=tmp_path, debug=False)
    path = tmp_path / "secret_key"
    assert path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_embedded_mode_starts_with_nothing_set_as_make_demo_does(tmp_path):
    settings = loaded(tmp_path)
    assert settings["SECRET_KEY"] == (tmp_path / "var" / "secret_key").read_text().strip()
    assert settings["SECRET_KEY"] != "r1web-embedded-insecure-key-change-me"
    assert loaded(tmp_path)["SECRET_KEY"] == settings["SECRET_KEY"]  # a restart keeps sessions


@pytest.mark.parametrize("key", [
    "r1web-embedded-insecure-key-change-me", "change-me", "django-insecure-" + "a" * 40,
    "short-but-random-Q9x", "",
])
def test_a_placeholder_or_short_key_is_refused_when_debug_is_off(tmp_path, key):
    if not key:  # an empty key file, left by a broken copy
        (tmp_path / "secret_key").write_text("\n")
        call = {"value": "", "var_dir": tmp_path, "debug": False}
    else:
        call = {"value": key, "var_dir": tmp_path, "debug": False}
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        secret_key(**call)


def test_a_server_with_the_old_embedded_key_and_debug_off_refuses_to_start(tmp_path):
    process = start(tmp_path, SECRET_KEY="r1web-embedded-insecure-key-change-me", DEBUG="0")
    assert process.returncode != 0
    assert "ImproperlyConfigured" in process.stderr and "SECRET_KEY" in process.stderr
    # A real key starts, and is used as given: no key file is made beside it.
    assert loaded(tmp_path, SECRET_KEY=STRONG, DEBUG="0")["SECRET_KEY"] == STRONG
    assert not (tmp_path / "var" / "secret_key").exists()


def test_a_weak_key_is_allowed_while_debugging(tmp_path):
    assert secret_key(value="dev", var_dir=tmp_path, debug=True) == "dev"


# TLS settings -----------------------------------------------------------------------

def test_each_tls_setting_is_off_for_the_embedded_mode_and_read_from_its_variable(tmp_path):
    settings = loaded(tmp_path)  # plain http on localhost
    assert {name: settings[name] for name in SECURE} == {
        "SESSION_COOKIE_SECURE": False, "CSRF_COOKIE_SECURE": False,
        "SECURE_SSL_REDIRECT": False, "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False, "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,
    }
    settings = loaded(
        tmp_path, SECRET_KEY=STRONG, SESSION_COOKIE_SECURE="true", CSRF_COOKIE_SECURE="1",
        SECURE_SSL_REDIRECT="yes", SECURE_HSTS_SECONDS="31536000",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="on", SECURE_HSTS_PRELOAD="true",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto: https",
    )
    assert {name: settings[name] for name in SECURE} == {
        "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True, "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True, "SECURE_HSTS_PRELOAD": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


def test_a_malformed_tls_setting_stops_the_start_naming_the_variable(tmp_path):
    process = start(tmp_path, SECURE_SSL_REDIRECT="sometimes")
    assert process.returncode != 0 and "SECURE_SSL_REDIRECT" in process.stderr


@pytest.mark.parametrize("raw", ["https", "X-Forwarded-Proto", "X Forwarded: https", ": https"])
def test_a_proxy_header_must_be_a_header_line(monkeypatch, raw):
    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", raw)
    with pytest.raises(ImproperlyConfigured, match="SECURE_PROXY_SSL_HEADER"):
        envheader("SECURE_PROXY_SSL_HEADER")


def test_the_proxy_header_is_off_unless_set(monkeypatch):
    monkeypatch.delenv("SECURE_PROXY_SSL_HEADER", raising=False)
    assert envheader("SECURE_PROXY_SSL_HEADER") is None
    monkeypatch.setenv("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto:https")
    assert envheader("SECURE_PROXY_SSL_HEADER") == ("HTTP_X_FORWARDED_PROTO", "https")
