"""Where `relabel login` keeps the server URL and the API token: a JSON file readable by its owner only."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

FILE_NAME = "credentials.json"


def config_dir() -> Path:
    """$RELABEL_CONFIG_DIR, else the platform's per-user config folder (XDG on Linux) + relabel."""
    if os.environ.get("RELABEL_CONFIG_DIR"):
        return Path(os.environ["RELABEL_CONFIG_DIR"])
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "relabel"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "relabel"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "relabel"


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str
    username: str = ""


def save(credentials: Credentials) -> Path:
    """Write the credentials with mode 0600 from the start (never world-readable, not even for a moment)."""
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / FILE_NAME
    temporary = path.with_name(FILE_NAME + ".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"url": credentials.url, "token": credentials.token, "username": credentials.username}, handle)
    os.chmod(temporary, 0o600)  # an existing file keeps its mode through O_CREAT
    os.replace(temporary, path)
    return path


def load() -> Credentials | None:
    """$RELABEL_URL and $RELABEL_TOKEN when both are set, else the saved credentials, else None."""
    if os.environ.get("RELABEL_URL") and os.environ.get("RELABEL_TOKEN"):
        return Credentials(os.environ["RELABEL_URL"], os.environ["RELABEL_TOKEN"])
    path = config_dir() / FILE_NAME
    try:
        data = json.loads(path.read_text())
        return Credentials(str(data["url"]), str(data["token"]), str(data.get("username", "")))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as error:
        raise SystemExit(f"relabel: {path} is damaged ({error}); run `relabel login` again") from error
