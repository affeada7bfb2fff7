"""The REST calls the commands make, over httpx, with the server's error messages turned into `ApiError`."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from relabel_client import __version__

TIMEOUT = httpx.Timeout(60.0, connect=10.0)
CHUNK = 1 << 20


class ApiError(Exception):
    """A refusal by the server (its `detail`), or a server that cannot be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _message(response: httpx.Response) -> str:
    """The server's own words: the API error contract's `detail` (with `fields`), else the status line."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("detail"):
        return str(body["detail"])
    return f"HTTP {response.status_code} {response.reason_phrase} from {response.request.url}"


class Client:
    def __init__(self, url: str, token: str | None = None, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"User-Agent": f"relabel-client/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        self.base = url.rstrip("/")
        self.http = httpx.Client(base_url=self.base, headers=headers, timeout=TIMEOUT, transport=transport)

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ApiError(f"cannot reach {self.base}: {error}") from error
        if response.status_code >= 400:
            raise ApiError(_message(response), response.status_code)
        return response.json() if response.content else None

    # --- the API's operations -----------------------------------------------------------------------------

    def token(self, username: str, password: str) -> str:
        return str(self.request("POST", "/api/token/", json={"username": username, "password": password})["token"])

    def datasets(self) -> list[dict]:
        return list(self.request("GET", "/api/datasets/"))

    def prediction_set_upload(self, dataset: str, path: Path, name: str, description: str = "") -> dict:
        with path.open("rb") as handle:
            files = {"file": (path.name, handle, "application/octet-stream")}
            data = {"name": name, "description": description}
            return dict(self.request("POST", f"/api/datasets/{dataset}/prediction-sets/", data=data, files=files))

    def snapshots(self, prediction_set: int) -> list[dict]:
        return list(self.request("GET", f"/api/prediction-sets/{prediction_set}/snapshots/"))

    def leaderboard(self, dataset: str, source: str | None = None) -> dict:
        params = {"labels": source} if source else {}
        return dict(self.request("GET", f"/api/datasets/{dataset}/leaderboard/", params=params))

    def compare(self, dataset_a: str, dataset_b: str, params: dict[str, Any]) -> dict:
        """The dataset comparison (`params`: labels_a, labels_b, metric, decompose, pair as a list)."""
        return dict(self.request("GET", f"/api/datasets/{dataset_a}/compare/{dataset_b}/", params=params))

    def releases(self, dataset: str) -> list[dict]:
        return list(self.request("GET", f"/api/datasets/{dataset}/releases/"))

    def release_create(self, dataset: str, parameters: dict) -> dict:
        return dict(self.request("POST", f"/api/datasets/{dataset}/releases/", json=parameters))

    def release_progress(self, release: int) -> dict:
        return dict(self.request("GET", f"/api/releases/{release}/progress/"))

    def download(self, url: str, target: Path, *, sha256: str, size: int, progress: Callable[[int, int], None]) -> bool:
        """Download `url` to `target` through `target.part`, resuming a partial file when the server honours
        the range (it sends 206 for the same ETag, the file's SHA-256), and starting over when it does not.
        The file gets its name only once its SHA-256 matches. Returns False when `target` was already there,
        verified, and nothing was downloaded."""
        if target.exists() and file_sha256(target) == sha256:
            return False
        part = target.with_name(target.name + ".part")
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-", "If-Range": f'"{sha256}"'} if 0 < have < size else {}
        try:
            with self.http.stream("GET", url, headers=headers, timeout=httpx.Timeout(60.0, read=300.0)) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError(_message(response), response.status_code)
                resumed = response.status_code == 206
                done = have if resumed else 0
                with part.open("ab" if resumed else "wb") as handle:
                    for chunk in response.iter_bytes(CHUNK):
                        handle.write(chunk)
                        done += len(chunk)
                        progress(done, size)
        except httpx.HTTPError as error:
            raise ApiError(f"download interrupted ({error}); run the same command again to resume") from error
        digest = file_sha256(part)
        if digest != sha256:
            part.unlink()
            raise ApiError(f"{target.name}: SHA-256 {digest} is not the server's {sha256}; removed, run it again")
        os.replace(part, target)
        return True


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
