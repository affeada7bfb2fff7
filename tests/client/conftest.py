"""The client tests' shared pieces: a private config folder, running the `relabel` command in-process, and
logging in through it."""

from __future__ import annotations

import io
import sys

import pytest
from relabel_client.cli import main

from tests.builders.users import PASSWORD


@pytest.fixture
def home(tmp_path, monkeypatch):
    folder = tmp_path / "config"
    monkeypatch.setenv("RELABEL_CONFIG_DIR", str(folder))
    monkeypatch.delenv("RELABEL_URL", raising=False)
    monkeypatch.delenv("RELABEL_TOKEN", raising=False)
    return folder


def run(capsys, *argv: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:  # noqa: ANN001
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def login(capsys, monkeypatch, live_server, username: str) -> None:  # noqa: ANN001
    code, out, err = run(capsys, "login", "--url", live_server.url, "--username", username, "--password-stdin",
                         stdin=PASSWORD + "\n", monkeypatch=monkeypatch)  # fmt: skip
    assert code == 0, err
