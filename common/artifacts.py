"""A model version's files on the wire: which paths are allowed, and the bundle that
carries all of a version's files in one request.

MLflow's client moves a version's files one request each (five for a scikit-learn model),
and each request costs the client, the server and, on a network, a round trip. The
``steward:`` plugin sends them up as one bundle and fetches them as one
(``…/versions/{v}/artifact-bundle``, docs/registry.md). A bundle is a JSON line, the
manifest ``{"files": [{"path", "size", "sha256"}, …]}``, then each file's bytes in the
manifest's order, nothing between or after. Why not tar: a bundle is read by counting
bytes, with nothing to parse but one JSON line, so hostile input meets no archive parser,
and both ends stream it without seeking. The server and the plugin share this module; it
imports the standard library and :mod:`common.errors` only.

:func:`parse_manifest` takes only what can be stored: at most :data:`MAX_BUNDLE_FILES`
files with safe, distinct paths, none below another, each with a size and a SHA-256.
Each file's bytes are checked against its entry by whoever receives them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from common.errors import InvalidParameter

MAX_PATH_CHARS = 1024
MAX_SEGMENT_BYTES = 255
#: The media type of a bundle, both ways.
BUNDLE_MEDIA_TYPE = "application/x-steward-artifact-bundle"
#: Files of one bundle: far above any model's, low enough to bound the work.
MAX_BUNDLE_FILES = 1000
#: The manifest line's longest form (1,000 entries of long paths fit).
MAX_MANIFEST_BYTES = 2 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def validate_path(path: str) -> str:
    """The artifact path as given, if safe; InvalidParameter saying what is wrong."""
    if not isinstance(path, str) or not path:
        raise InvalidParameter("artifact path must be a non-empty relative path")
    if len(path) > MAX_PATH_CHARS:
        raise InvalidParameter(f"artifact path is longer than {MAX_PATH_CHARS} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        raise InvalidParameter("artifact path may not contain NUL or control characters")
    if "\\" in path:
        raise InvalidParameter("artifact path may not contain backslashes; use '/'")
    if path.startswith("/"):
        raise InvalidParameter("artifact path must be relative, not absolute")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidParameter(
                f"artifact path '{path}' has an empty, '.' or '..' segment; give a plain "
                "relative path such as 'model.skops' or 'data/input_example.json'"
            )
        if len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_BYTES:
            raise InvalidParameter(
                f"artifact path segment is longer than {MAX_SEGMENT_BYTES} bytes"
            )
    return path


@dataclass(frozen=True)
class BundleEntry:
    path: str
    size: int
    sha256: str


def manifest_line(entries: list[BundleEntry]) -> bytes:
    """The first line of a bundle of ``entries``."""
    files = [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in entries]
    return json.dumps({"files": files}, separators=(",", ":")).encode() + b"\n"


def parse_manifest(line: bytes) -> list[BundleEntry]:
    """A bundle's manifest line (without its newline) as entries; InvalidParameter naming
    the first problem."""
    try:
        document: Any = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameter(
            f"a bundle starts with its manifest, one line of JSON: {exc}"
        ) from exc
    files = document.get("files") if isinstance(document, dict) else None
    if not isinstance(files, list):
        raise InvalidParameter('a bundle\'s manifest is {"files": [{"path", "size", "sha256"}]}')
    if len(files) > MAX_BUNDLE_FILES:
        raise InvalidParameter(f"a bundle holds at most {MAX_BUNDLE_FILES} files; send fewer")
    entries: list[BundleEntry] = []
    seen: set[str] = set()
    for number, item in enumerate(files, start=1):
        if not isinstance(item, dict):
            raise InvalidParameter(f"manifest entry {number} is not an object")
        path, size, sha256 = item.get("path"), item.get("size"), item.get("sha256")
        try:
            validate_path(path)  # type: ignore[arg-type]
        except InvalidParameter as exc:
            raise InvalidParameter(f"manifest entry {number}: {exc}") from exc
        assert isinstance(path, str)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidParameter(f"manifest entry '{path}': size must be a whole number ≥ 0")
        if not isinstance(sha256, str) or not _SHA256.match(sha256):
            raise InvalidParameter(
                f"manifest entry '{path}': sha256 must be 64 lowercase hexadecimal digits"
            )
        if path in seen:
            raise InvalidParameter(f"manifest entry '{path}' appears twice")
        _no_nesting(path, seen)
        seen.add(path)
        entries.append(BundleEntry(path, size, sha256))
    return entries


def _no_nesting(path: str, seen: set[str]) -> None:
    """One name cannot be both a file and a directory of the bundle."""
    parts = path.split("/")
    for depth in range(1, len(parts)):
        above = "/".join(parts[:depth])
        if above in seen:
            raise InvalidParameter(
                f"manifest entry '{path}' is below the file '{above}' of the same bundle"
            )
    prefix = path + "/"
    below = next((other for other in seen if other.startswith(prefix)), None)
    if below is not None:
        raise InvalidParameter(
            f"manifest entry '{path}' is a file, but '{below}' of the same bundle is below it"
        )
