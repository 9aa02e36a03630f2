"""A version's artifacts on disk: where they live and what they must contain.

Each version has one managed directory under the storage root
(``<storage-root>/models/<model id>/versions/<n>``), given to clients as a ``file:``
``storage_location``: MLflow's ``uc:`` client writes there itself, remote clients upload
through the API. At finalize the directory must hold an MLflow ``MLmodel`` file with a
signature (inputs and outputs) and nothing that runs code when loaded (see
:mod:`common.model_safety`); its manifest (every file's path, size and SHA-256) is recorded
and digested so downloads can be checked against what was registered.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import orjson
import yaml

from common.model_safety import LoadPolicy, UnsafeModel, check_model

MLMODEL = "MLmodel"
#: An MLmodel file is a few KB; refuse to parse anything much larger.
MAX_MLMODEL_BYTES = 1 << 20
_CHUNK = 1 << 20


class InvalidArtifacts(ValueError):
    """What is wrong with a version's artifacts (becomes its status_message)."""


@dataclass(frozen=True)
class ArtifactSummary:
    signature: str  # JSON {"inputs": …, "outputs": …}
    digest: str
    size: int
    files: int
    #: JSON ``[[path, size, sha256], …]``, what the digest is over.
    manifest: str = "[]"


def local_path(storage_location: str, storage_root: Path) -> Path:
    """The directory a ``file:`` storage location names, which must be under the root."""
    parsed = urlparse(storage_location)
    if parsed.scheme != "file":
        raise InvalidArtifacts(f"storage location {storage_location} is not a file: location")
    path = Path(unquote(parsed.path)).resolve()
    root = storage_root.resolve()
    if path != root and root not in path.parents:
        raise InvalidArtifacts("storage location is outside the storage root")
    return path


def files_of(directory: Path) -> list[Path]:
    """Regular files under ``directory``, sorted; symbolic links are refused (they could
    point anywhere on the server)."""
    found = []
    for current, dirs, names in os.walk(directory, followlinks=False):
        base = Path(current)
        for name in sorted(dirs):
            if (base / name).is_symlink():
                raise InvalidArtifacts(f"artifact {name} is a symbolic link")
        for name in sorted(names):
            path = base / name
            if path.is_symlink() or not path.is_file():
                raise InvalidArtifacts(f"artifact {path.relative_to(directory)} is not a file")
            found.append(path)
    return sorted(found)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


#: Files MLflow's client writes into a version's directory for its own bookkeeping, also on
#: every load (``registered_model_meta``): not part of the model, so not in its manifest.
CLIENT_BOOKKEEPING = frozenset({"registered_model_meta"})


def manifest(directory: Path) -> list[tuple[str, int, str]]:
    """(relative path, size, sha256) of every artifact file of the model."""
    return [
        (path.relative_to(directory).as_posix(), path.stat().st_size, file_sha256(path))
        for path in files_of(directory)
        if path.relative_to(directory).as_posix() not in CLIENT_BOOKKEEPING
    ]


def manifest_digest(entries: list[tuple[str, int, str]]) -> str:
    return hashlib.sha256(orjson.dumps(entries)).hexdigest()


#: libyaml's loader where PyYAML was built with it (the wheels are): the same safe
#: constructor as ``yaml.safe_load``, parsing about ten times faster, once per finalize.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_mlmodel(directory: Path) -> dict[str, Any]:
    """The MLmodel file at the root of the artifacts, parsed safely; InvalidArtifacts if none."""
    path = directory / MLMODEL
    if path.is_symlink() or not path.is_file():
        raise InvalidArtifacts(f"no {MLMODEL} file at the root of the version's artifacts")
    if path.stat().st_size > MAX_MLMODEL_BYTES:
        raise InvalidArtifacts(f"{MLMODEL} is larger than {MAX_MLMODEL_BYTES} bytes")
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidArtifacts(f"{MLMODEL} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidArtifacts(f"{MLMODEL} is not a YAML mapping")
    return document


def signature_of(document: dict[str, Any]) -> str:
    """The signature of a parsed MLmodel, as JSON text; InvalidArtifacts when absent."""
    signature = document.get("signature")
    if (
        not isinstance(signature, dict)
        or not signature.get("inputs")
        or not signature.get("outputs")
    ):
        raise InvalidArtifacts(
            "the model has no signature with inputs and outputs: log it with a signature "
            "(or an input example to infer one)"
        )
    return orjson.dumps({"inputs": signature["inputs"], "outputs": signature["outputs"]}).decode()


def inspect(
    directory: Path,
    policy: LoadPolicy | None = None,
    max_total_bytes: int | None = None,
) -> ArtifactSummary:
    """What finalize checks and records; InvalidArtifacts says what is missing or unsafe.

    Never loads the model: see :func:`common.model_safety.check_model`.
    """
    if not directory.is_dir():
        raise InvalidArtifacts("no artifacts were written to the version's storage location")
    document = read_mlmodel(directory)
    signature = signature_of(document)
    entries = manifest(directory)
    total = sum(size for _, size, _ in entries)
    if max_total_bytes is not None and total > max_total_bytes:
        raise InvalidArtifacts(
            f"the artifacts total {total} bytes, over the per-version limit of "
            f"{max_total_bytes} bytes (STEWARD_MAX_VERSION_ARTIFACT_BYTES)"
        )
    try:
        check_model(directory, document, [path for path, _, _ in entries], policy or LoadPolicy())
    except UnsafeModel as exc:
        raise InvalidArtifacts(str(exc)) from exc
    return ArtifactSummary(
        signature=signature,
        digest=manifest_digest(entries),
        size=total,
        files=len(entries),
        manifest=manifest_json(entries),
    )


def manifest_json(entries: list[tuple[str, int, str]]) -> str:
    return orjson.dumps(entries).decode()


def parse_manifest(text: str) -> list[tuple[str, int, str]]:
    return [(str(p), int(n), str(h)) for p, n, h in orjson.loads(text)]


def differences(uploaded_json: str, found_json: str) -> str | None:
    """What differs between the files uploaded over HTTP and those finalize found (None:
    the same files, byte for byte). A file that changed or appeared on disk beside the
    upload routes, or one that went missing, fails the registration."""
    uploaded = {path: (size, digest) for path, size, digest in parse_manifest(uploaded_json)}
    found = {path: (size, digest) for path, size, digest in parse_manifest(found_json)}
    problems = []
    for path, (size, digest) in sorted(found.items()):
        if path not in uploaded:
            problems.append(f"'{path}' was not uploaded through the artifact routes")
        elif uploaded[path] != (size, digest):
            was_size, was_digest = uploaded[path]
            problems.append(
                f"'{path}' changed after its upload ({size} bytes, SHA-256 {digest}; "
                f"uploaded {was_size} bytes, SHA-256 {was_digest})"
            )
    missing = sorted(set(uploaded) - set(found) - CLIENT_BOOKKEEPING)
    problems += [f"'{path}' was uploaded but is no longer there" for path in missing]
    if not problems:
        return None
    return "the files do not match what was uploaded: " + "; ".join(problems)
