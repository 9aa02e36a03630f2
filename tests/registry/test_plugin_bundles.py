"""The ``steward:`` plugin's side of a bundle (registry/mlflow_plugin/artifacts.py): a bundle
coming down is written below the destination only, each file checked against its
SHA-256; anything else is MLflow's DATA_LOSS or a refusal, never a file elsewhere."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from common.artifacts import BundleEntry, manifest_line
from registry.mlflow_plugin.artifacts import _unbundle


def bundle(files: dict[str, bytes]) -> bytes:
    entries = [BundleEntry(p, len(b), hashlib.sha256(b).hexdigest()) for p, b in files.items()]
    return manifest_line(entries) + b"".join(files.values())


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 7, 1 << 20])
def test_a_bundle_is_written_below_the_destination_in_any_pieces(tmp_path: Path, size: int) -> None:
    files = {"MLmodel": b"flavors: {}\n", "data/w.bin": bytes(range(256)) * 9, "e": b""}
    _unbundle(iter(pieces(bundle(files), size)), str(tmp_path))
    found = {
        p.relative_to(tmp_path).as_posix(): p.read_bytes()
        for p in tmp_path.rglob("*")
        if p.is_file()
    }
    assert found == files


def _raw(files: list[dict[str, object]], body: bytes) -> bytes:
    return json.dumps({"files": files}).encode() + b"\n" + body


ABC = hashlib.sha256(b"abc").hexdigest()


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (_raw([{"path": "../escape", "size": 3, "sha256": ABC}], b"abc"), "'..' segment"),
        (_raw([{"path": "/abs", "size": 3, "sha256": ABC}], b"abc"), "relative"),
        (_raw([{"path": "a", "size": 3, "sha256": ABC}], b"abd"), "SHA-256"),
        (_raw([{"path": "a", "size": 3, "sha256": ABC}], b"ab"), "ended inside a file"),
        (_raw([{"path": "a", "size": 3, "sha256": ABC}], b"abcX"), "after the bundle's last"),
        (b"no manifest line at all", "no manifest line"),
    ],
)
def test_a_bad_bundle_writes_nothing_outside_and_keeps_no_damaged_file(
    tmp_path: Path, data: bytes, needle: str
) -> None:
    destination = tmp_path / "dst"
    destination.mkdir()
    with pytest.raises(MlflowException) as refused:
        _unbundle(iter([data]), str(destination))
    assert needle in refused.value.message
    assert [p.name for p in tmp_path.iterdir()] == ["dst"]
    if needle == "SHA-256":
        assert not (destination / "a").exists()
