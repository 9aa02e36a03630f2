"""Fetch the console's browser libraries from the npm registry, pinned and verified.

The console (``steward/console``) ships the few browser libraries it uses inside the
package, so it works offline and nothing is fetched when someone opens it. Which ones,
at which version, under which licence, is ``steward/console/static/vendor/VENDOR.json``;
this script is the only way they get there: for each entry it downloads the package's
tarball named by the registry, checks it against the registry's ``integrity`` (SHA-512)
and extracts the listed files and the licence next to them.

    .venv/bin/python scripts/refresh_console_vendor.py          # fetch what VENDOR.json pins
    .venv/bin/python scripts/refresh_console_vendor.py --check  # only check the files

To move a library to a new version, change its ``version`` in VENDOR.json and run it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
VENDOR = Path(__file__).resolve().parent.parent / "steward" / "console" / "static" / "vendor"
MANIFEST = VENDOR / "VENDOR.json"


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def _verified_tarball(name: str, version: str) -> tuple[bytes, str]:
    metadata = json.loads(_get(f"{REGISTRY}/{name}/{version}"))
    dist = metadata["dist"]
    tarball = _get(dist["tarball"])
    algorithm, _, expected = dist["integrity"].partition("-")
    if algorithm != "sha512":
        raise SystemExit(f"{name}@{version}: integrity is {algorithm}, expected sha512")
    actual = base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{name}@{version}: the tarball does not match the registry's integrity")
    return tarball, dist["integrity"]


def _extract(name: str, tarball: bytes, files: dict[str, str]) -> dict[str, str]:
    """Write each ``package/<source>`` of the tarball as ``vendor/<name>/<target>``; the
    SHA-256 of each file written."""
    written: dict[str, str] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for source, target in files.items():
            member = archive.extractfile(f"package/{source}")
            if member is None:
                raise SystemExit(f"{name}: package/{source} is not a file in the tarball")
            data = member.read()
            path = VENDOR / name / target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            written[target] = hashlib.sha256(data).hexdigest()
    return written


def refresh() -> None:
    manifest = json.loads(MANIFEST.read_text())
    for entry in manifest["libraries"]:
        tarball, integrity = _verified_tarball(entry["name"], entry["version"])
        entry["integrity"] = integrity
        entry["sha256"] = _extract(entry["name"], tarball, entry["files"])
        print(
            f"{entry['name']}@{entry['version']} ({entry['licence']}): {len(entry['files'])} files"
        )
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")


def check() -> int:
    """Exit status 1 when a vendored file is missing or differs from what was fetched."""
    manifest = json.loads(MANIFEST.read_text())
    bad = 0
    for entry in manifest["libraries"]:
        for target, digest in entry.get("sha256", {}).items():
            path = VENDOR / entry["name"] / target
            if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                print(f"{path}: missing or changed", file=sys.stderr)
                bad += 1
    return 1 if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check the vendored files")
    args = parser.parse_args()
    if args.check:
        raise SystemExit(check())
    refresh()


if __name__ == "__main__":
    main()
