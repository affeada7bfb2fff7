"""No secret in the repository, and production refuses to start without its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.builders import REPO

# Shapes of real credentials: private keys, AWS access keys, GitHub/Slack tokens, a URL with a password.
SECRET_SHAPES = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|gh[pousr]_[0-9A-Za-z]{36}|xox[abprs]-[0-9A-Za-z-]{10,}"
    r"|://[^/\s:@${}]+:(?!\$\{)[^/\s@${}]{6,}@"
)


def test_no_tracked_file_holds_a_credential():
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    found = []
    for name in files:
        path = REPO / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        found += [f"{name}: {match.group(0)[:40]}" for match in SECRET_SHAPES.finditer(text)]
    assert not found, "credentials in the repository:\n" + "\n".join(found)


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings.production", "DJANGO_ALLOWED_HOSTS": "relabel.example.org"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
