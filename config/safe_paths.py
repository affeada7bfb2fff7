"""Names from requests that reach storage: the path of a /media/ URL and the file name of an upload.

Access to media is decided by the path's first folder, so the path must mean the same to the rule and to the
file system: traversal of any kind is refused outright (never "normalised away"), and the rule and the file
server both get the one normalised path.
"""

from __future__ import annotations

import posixpath
import unicodedata
from pathlib import PurePath
from urllib.parse import unquote

from config.text_rules import BIDI_CONTROLS

MAX_STORED_FILE_NAME = 100  # characters of an upload's name kept in storage (the suffix always kept)


class UnsafePathError(ValueError):
    """A path that names something other than a file below the media folder; the message says why."""


def _traversal_in(path: str) -> str | None:
    if "\x00" in path:
        return "a NUL character"
    if "\\" in path:
        return "a backslash"
    if path.startswith("/"):
        return "an absolute path"
    if ".." in path.split("/"):
        return "a '..' segment"
    return None


def media_path(raw: str) -> str:
    """The normalised relative path a /media/ URL asks for (already percent-decoded once by the server).

    Refused, whatever follows: a NUL, a backslash, a leading slash, a '..' segment, and any of those that
    would appear if the path were decoded again (double encoding such as %252e%252e)."""
    decoded, previous = raw, None
    for _ in range(4):  # %25252e… decodes one layer per pass; four layers are beyond any honest name
        if problem := _traversal_in(decoded):
            raise UnsafePathError(f"the path contains {problem}")
        previous, decoded = decoded, unquote(decoded)
        if decoded == previous:
            break
    normalised = posixpath.normpath(raw)
    if normalised in (".", ""):
        raise UnsafePathError("the path names no file")
    return normalised


def upload_file_name(name: str | None, *, default: str = "upload") -> str:
    """A safe base name for storing an upload: no folders, controls, bidi controls or leading dots, and at
    most MAX_STORED_FILE_NAME characters (non-ASCII names of 255 characters are over 255 bytes, more than a
    file system takes). What is left of a hostile name may be empty: then `default`, keeping the suffix."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(c for c in base if c not in BIDI_CONTROLS and unicodedata.category(c)[0] != "C").strip()
    if kept.startswith(".") and kept.lstrip(".") and "." not in kept.lstrip("."):  # ".csv": a suffix alone
        kept = f"{default}.{kept.lstrip('.')}"
    kept = kept.lstrip(".")
    suffix = PurePath(kept).suffix if kept else ""
    if len(suffix) > 16:
        suffix = ""
    stem = kept.removesuffix(suffix)[: MAX_STORED_FILE_NAME - len(suffix)] or default
    return f"{stem}{suffix}"
