"""Model version artifacts over HTTP: streamed uploads into a pending version's directory,
and downloads checked against the manifest recorded at finalize.

Uploads are written to a temporary file under ``<storage-root>/.uploads`` (same file
system), hashed and counted as they arrive, and moved into place with one atomic rename
once complete and verified: a refused or interrupted upload leaves nothing behind in the
version. Paths are relative POSIX paths without ``.``/``..`` segments, backslashes, NUL or
control characters, and never through a symbolic link; a path that would turn an existing
file into a directory (``f1/g`` after ``f1``) or an existing directory into a file (``d``
after ``d/x``) is refused before the body is read, and again just before the rename.

Downloads serve only what finalize recorded: each file's SHA-256 is recomputed before it is
sent and again while it streams; a file changed on disk since registration is refused
(409 INVALID_STATE), and one changed mid-stream aborts the response.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from catalog.records import SecurableRecord
from common.artifacts import (
    MAX_MANIFEST_BYTES,
    BundleEntry,
    manifest_line,
    parse_manifest,
    validate_path,
)
from common.errors import (
    InvalidParameter,
    InvalidState,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)
from registry import artifact_files as artifacts
from registry.model_registry import PENDING, READY, ModelRegistry, note_audit
from registry.model_store import VersionRecord

CHECKSUM_HEADER = "X-Checksum-SHA256"
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_CHUNK = 1 << 20
UPLOADS_DIR = ".uploads"
#: Bundles of files up to this many bytes in all are read whole and sent as one body.
_BUNDLE_IN_MEMORY = 8 << 20
#: Temporary upload files older than this are leftovers of a crash.
STALE_UPLOAD_SECONDS = 24 * 3600


@dataclass(frozen=True)
class ArtifactEntry:
    path: str
    size: int
    sha256: str


def validate_checksum(value: str | None) -> str | None:
    if value is None:
        return None
    if not _SHA256.match(value.strip()):
        raise InvalidParameter(f"{CHECKSUM_HEADER} must be 64 hexadecimal digits (a SHA-256)")
    return value.strip().lower()


def _no_symlinks_below(base: Path, target: Path) -> None:
    """Every component from ``base`` down to ``target`` exists as a real directory/file."""
    current = base
    for part in target.relative_to(base).parts:
        current = current / part
        try:
            mode = current.lstat().st_mode
        except (FileNotFoundError, NotADirectoryError):  # a file above: see _no_conflict
            return
        if stat.S_ISLNK(mode):
            raise InvalidParameter(f"artifact path goes through a symbolic link ('{part}')")


def _no_conflict(directory: Path, path: str) -> None:
    """Refuse ``path`` where the version already holds a file at one of its directories
    (``f1`` when ``f1/g`` is uploaded), or a directory at the path itself (``d`` when
    ``d/x`` was uploaded): one name cannot be both a file and a directory. Replacing a
    file with a file of the same path is allowed."""
    parts = path.split("/")
    current = directory
    for depth, part in enumerate(parts, start=1):
        current = current / part
        try:
            mode = current.lstat().st_mode
        except (FileNotFoundError, NotADirectoryError):
            return
        existing = "/".join(parts[:depth])
        if depth < len(parts) and not stat.S_ISDIR(mode):
            raise InvalidParameter(
                f"artifact path '{path}' conflicts with the existing artifact '{existing}': "
                f"'{existing}' is a file, so it cannot also be a directory holding "
                f"'{path}'; nothing was written (upload under another path)"
            )
        if depth == len(parts) and stat.S_ISDIR(mode):
            inside = _first_file(directory, current)
            holding = f" holding the existing artifact '{inside}'" if inside else ""
            raise InvalidParameter(
                f"artifact path '{path}' conflicts with the existing directory "
                f"'{existing}'{holding}: a file cannot replace a directory; nothing was "
                "written (upload under another path)"
            )


def _first_file(directory: Path, below: Path) -> str | None:
    """The first file under ``below`` (by name), as a path relative to ``directory``."""
    for current, dirs, names in os.walk(below, followlinks=False):
        dirs.sort()
        if names:
            return (Path(current) / min(names)).relative_to(directory).as_posix()
    return None


def _sync_directories(directory: Path, paths: list[str]) -> None:
    """Make renames into the version's ``directory`` durable: a file's own fsync covers its
    bytes, not the directory entries that name it (its own, and those of directories made
    for it), which a power cut could otherwise lose after the upload was acknowledged. Each
    directory from ``directory`` down to every file's is flushed once."""
    below: dict[Path, None] = {directory: None}
    for path in paths:
        current = directory
        for part in path.split("/")[:-1]:
            current = current / part
            below[current] = None
    for each in below:
        fd = os.open(each, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class Upload:
    """One file being received: a temporary file, its running SHA-256 and size. It is
    sealed (flushed to disk, its checksum verified), then placed into the version's
    directory by the transaction that records it."""

    def __init__(
        self,
        staging: Path,
        directory: Path,
        path: str,
        expected_sha256: str | None,
        limit: int,
        limit_message: str,
        record: Callable[[list[ArtifactEntry], Callable[[], None]], None],
    ) -> None:
        self.record = record
        self.directory = directory
        self.path = path
        self.expected = expected_sha256
        self.limit = limit
        self.limit_message = limit_message
        self.size = 0
        self.digest = hashlib.sha256()
        staging.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        self.temp = staging / f"{name}.part"
        #: Where a file this upload replaces is kept until the upload is recorded (a
        #: ``.part`` name: a crash's leftover is swept like any other).
        self.previous = staging / f"{name}.previous.part"
        self.handle: BinaryIO | None = self.temp.open("xb")
        self.target = directory / path
        self.placed = False
        self.kept_previous = False

    def write(self, chunk: bytes) -> None:
        if self.handle is None:
            raise RuntimeError("upload already finished")
        self.size += len(chunk)
        if self.size > self.limit:
            self.abort()
            raise PayloadTooLarge(self.limit_message)
        self.digest.update(chunk)
        self.handle.write(chunk)

    def finish(self, rest: bytes) -> ArtifactEntry:
        """Write the body's last bytes, then :meth:`commit` (one thread hand-off for both)."""
        if rest:
            self.write(rest)
        return self.commit()

    def commit(self) -> ArtifactEntry:
        """Seal the file, then move it into the version's directory and record it, in one
        transaction that first checks the version is still pending (a finalize may have
        run meanwhile: then nothing lands)."""
        entry = self.seal()
        try:
            self.record([entry], self.place)  # what finalize will check the file against
        except BaseException:
            self.undo()
            raise
        self.forget_previous()
        # The rename made durable once recorded, outside the database's write lock (writers
        # do not wait for this fsync), and before the upload is acknowledged.
        _sync_directories(self.directory, [self.path])
        return entry

    def seal(self) -> ArtifactEntry:
        """Flush the file to disk and verify its checksum (a mismatch discards it)."""
        if self.handle is None:
            raise RuntimeError("upload already finished")
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        self.handle = None
        actual = self.digest.hexdigest()
        if self.expected is not None and actual != self.expected:
            self._remove_temp()
            raise InvalidParameter(
                f"checksum mismatch for '{self.path}': the body's SHA-256 is {actual}, "
                f"{CHECKSUM_HEADER} said {self.expected}; the file was discarded"
            )
        return ArtifactEntry(self.path, self.size, actual)

    def check_place(self) -> None:
        """Refuse, before anything moves, a path that goes through a link or collides."""
        _no_symlinks_below(self.directory, self.target)  # before mkdir follows any link
        # Again here: another upload may have stored a conflicting path meanwhile.
        _no_conflict(self.directory, self.path)

    def place(self) -> None:
        """Move the sealed file into the version's directory (called by the recording
        transaction, once the version is known to be pending; the caller makes the
        rename durable)."""
        self.check_place()
        target = self.target
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _no_symlinks_below(self.directory, target)
            if target.parent.resolve() != (self.directory.resolve() / self.path).parent:
                raise InvalidParameter("artifact path leaves the version's directory")
            _no_conflict(self.directory, self.path)
            self._keep_previous()
            os.replace(self.temp, target)
            self.placed = True
        except OSError as exc:
            raise InvalidParameter(
                f"cannot store artifact '{self.path}': {exc.strerror or exc}"
            ) from exc

    def _keep_previous(self) -> None:
        """Keep the file this upload is about to replace (a path sent again while the
        version is pending), so that an upload whose recording fails leaves the earlier,
        recorded file in place: a second name for it (readers never see the path empty),
        or, where the file system has no hard links, the file moved aside."""
        try:
            os.link(self.target, self.previous)
        except FileNotFoundError:
            return  # nothing there to replace
        except OSError:
            os.replace(self.target, self.previous)
        self.kept_previous = True

    def forget_previous(self) -> None:
        """The upload is recorded: the file it replaced is no longer needed."""
        if self.kept_previous:
            with contextlib.suppress(FileNotFoundError):
                self.previous.unlink()
            self.kept_previous = False

    def undo(self) -> None:
        """Not recorded: not stored either, and a file it replaced is put back. Safe to
        call again (a failed bundle is undone by its reader and by its route)."""
        if self.kept_previous:
            # The earlier file back (a no-op when it never left: both names are one file).
            os.replace(self.previous, self.target)
            with contextlib.suppress(FileNotFoundError):
                self.previous.unlink()
            with contextlib.suppress(OSError):  # the put-back made durable, if it can be
                _sync_directories(self.directory, [self.path])
        elif self.placed:
            with contextlib.suppress(FileNotFoundError):
                self.target.unlink()
        self.kept_previous = self.placed = False
        self.abort()

    def abort(self) -> None:
        if self.handle is not None:
            with contextlib.suppress(OSError):
                self.handle.close()
            self.handle = None
        self._remove_temp()

    def _remove_temp(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()


class BundleUpload:
    """A bundle being received (common/artifacts.py): its manifest line, then each file's
    bytes into an :class:`Upload` of its own, sealed as soon as its last byte is in (one
    open file at a time). :meth:`finish` places and records them all in one transaction:
    all of the bundle's files land, or none."""

    def __init__(
        self,
        begin: Callable[[list[BundleEntry]], list[Callable[[], Upload]]],
        record: Callable[[list[ArtifactEntry], Callable[[], None]], None],
    ) -> None:
        self.begin = begin
        self.record = record
        self.head = bytearray()
        self.entries: list[BundleEntry] | None = None
        self.makers: list[Callable[[], Upload]] = []
        self.uploads: list[Upload] = []
        self.sealed: list[ArtifactEntry] = []
        self.current: Upload | None = None
        self.remaining = 0

    def feed(self, data: bytes) -> None:
        if self.entries is None:
            self.head += data
            newline = self.head.find(b"\n")
            if newline < 0:
                if len(self.head) > MAX_MANIFEST_BYTES:
                    raise InvalidParameter(
                        f"a bundle's manifest line ends within {MAX_MANIFEST_BYTES} bytes"
                    )
                return
            line, data = bytes(self.head[:newline]), bytes(self.head[newline + 1 :])
            self.head = bytearray()
            self.entries = parse_manifest(line)
            self.makers = self.begin(self.entries)
            self._next()
        view = memoryview(data)
        while view:
            if self.current is None:
                raise InvalidParameter(
                    "the bundle holds bytes after its last file's; nothing was written"
                )
            take = min(self.remaining, len(view))
            self.current.write(bytes(view[:take]))
            self.remaining -= take
            view = view[take:]
            if self.remaining == 0:
                self._seal_current()
                self._next()

    def _next(self) -> None:
        """Open the next file, sealing empty ones on the way."""
        assert self.entries is not None
        while self.current is None and len(self.uploads) < len(self.entries):
            entry = self.entries[len(self.uploads)]
            self.current = self.makers[len(self.uploads)]()
            self.uploads.append(self.current)
            self.remaining = entry.size
            if self.remaining == 0:
                self._seal_current()

    def _seal_current(self) -> None:
        assert self.current is not None
        self.sealed.append(self.current.seal())
        self.current = None

    def finish(self, rest: bytes) -> list[ArtifactEntry]:
        if rest:
            self.feed(rest)
        if self.entries is None:
            raise InvalidParameter("the body ended before the bundle's manifest line did")
        if self.current is not None or len(self.sealed) < len(self.entries):
            missing = self.entries[len(self.sealed)]
            raise InvalidParameter(
                f"the bundle ended inside '{missing.path}' ({missing.size} bytes announced); "
                "nothing was written"
            )

        def place_all() -> None:
            for upload in self.uploads:
                upload.check_place()
            for upload in self.uploads:
                upload.place()

        try:
            self.record(self.sealed, place_all)
        except BaseException:
            self.abort()
            raise
        for upload in self.uploads:
            upload.forget_previous()
        if self.uploads:  # as Upload.commit does, each directory once
            _sync_directories(self.uploads[0].directory, [u.path for u in self.uploads])
        return self.sealed

    def abort(self) -> None:
        for upload in self.uploads:
            upload.undo()


@dataclass
class Download:
    """A file checked against its manifest entry: a small one as its ``content`` (the very
    bytes checked), a larger one as an open ``handle``, checked again as it streams."""

    entry: ArtifactEntry
    handle: BinaryIO | None = None
    content: bytes | None = None

    def chunks(self) -> Iterator[bytes]:
        """The file's bytes; raises (aborting the response) if they are not what was
        recorded, so a client never gets a silently different file."""
        if self.handle is None:
            if self.content is not None:
                yield self.content
            return
        digest = hashlib.sha256()
        size = 0
        try:
            self.handle.seek(0)
            while chunk := self.handle.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                yield chunk
        finally:
            self.handle.close()
        if size != self.entry.size or digest.hexdigest() != self.entry.sha256:
            raise OSError(f"artifact '{self.entry.path}' changed while it was being sent")

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


@dataclass
class Bundle:
    """A version's files as one bundle: its bytes (small), or chunks to stream (larger)."""

    content: bytes | None
    chunks: Iterator[bytes] | None


class ArtifactService:
    def __init__(
        self,
        registry: ModelRegistry,
        storage_root: Path,
        max_file_bytes: int,
        max_version_bytes: int,
    ) -> None:
        self.registry = registry
        self.storage_root = storage_root
        self.max_file_bytes = max_file_bytes
        self.max_version_bytes = max_version_bytes
        self.sweep_stale_uploads()

    def sweep_stale_uploads(self, older_than_seconds: float = STALE_UPLOAD_SECONDS) -> int:
        """Remove temporary files of uploads interrupted by a crash (old enough that no
        replica sharing the storage root can still be writing them)."""
        staging = self.storage_root / UPLOADS_DIR
        if not staging.is_dir():
            return 0
        cutoff = time.time() - older_than_seconds
        removed = 0
        for path in staging.glob("*.part"):
            with contextlib.suppress(OSError):
                if path.lstat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed

    # -- uploads -----------------------------------------------------------------------

    def begin_upload(
        self,
        uploader: str,
        full_name: str,
        version: int,
        path: str,
        declared_length: int | None,
        checksum: str | None,
    ) -> Upload:
        """``uploader``: the caller, who must be the version's creator: a pending version's
        files are its creator's to write, not every holder of CREATE MODEL VERSION's."""
        path = validate_path(path)
        expected = validate_checksum(checksum)
        directory = self._writable_directory(uploader, full_name, version)
        _no_symlinks_below(directory, directory / path)
        _no_conflict(directory, path)  # before any byte of the body is read
        file_limit = self.max_file_bytes
        used = self._bytes_used(directory, excluding={path})
        version_room = self.max_version_bytes - used
        if declared_length is not None and declared_length > file_limit:
            raise PayloadTooLarge(self._file_message(path))
        if declared_length is not None and declared_length > version_room:
            raise PayloadTooLarge(self._version_message(path, used))
        if version_room < file_limit:
            limit, message = version_room, self._version_message(path, used)
        else:
            limit, message = file_limit, self._file_message(path)
        directory.mkdir(parents=True, exist_ok=True)
        return Upload(
            self.storage_root / UPLOADS_DIR,
            directory,
            path,
            expected,
            max(limit, 0),
            message,
            self._recorder(full_name, version),
        )

    def begin_bundle(
        self, uploader: str, full_name: str, version: int, declared_length: int | None
    ) -> BundleUpload:
        """A bundle of files (common/artifacts.py) for a pending version, by its creator:
        each file checked as :meth:`begin_upload` checks one, once the manifest is read."""
        directory = self._writable_directory(uploader, full_name, version)
        if declared_length is not None and declared_length > (
            self.max_version_bytes + MAX_MANIFEST_BYTES
        ):
            raise PayloadTooLarge(
                f"the bundle is larger than a version may hold ({self.max_version_bytes} "
                "bytes, STEWARD_MAX_VERSION_ARTIFACT_BYTES); nothing was written"
            )
        staging = self.storage_root / UPLOADS_DIR
        record = self._recorder(full_name, version)

        def begin(entries: list[BundleEntry]) -> list[Callable[[], Upload]]:
            for entry in entries:
                _no_symlinks_below(directory, directory / entry.path)
                _no_conflict(directory, entry.path)
                if entry.size > self.max_file_bytes:
                    raise PayloadTooLarge(self._file_message(entry.path))
            used = self._bytes_used(directory, excluding={e.path for e in entries})
            if used + sum(e.size for e in entries) > self.max_version_bytes:
                raise PayloadTooLarge(
                    f"the bundle's files would take the version over its limit of "
                    f"{self.max_version_bytes} bytes (STEWARD_MAX_VERSION_ARTIFACT_BYTES; "
                    f"{used} bytes already uploaded); nothing was written"
                )
            directory.mkdir(parents=True, exist_ok=True)
            return [
                functools.partial(
                    Upload,
                    staging,
                    directory,
                    entry.path,
                    entry.sha256,
                    entry.size,
                    self._file_message(entry.path),
                    record,
                )
                for entry in entries
            ]

        return BundleUpload(begin, record)

    def _writable_directory(self, uploader: str, full_name: str, version: int) -> Path:
        """The directory of a version the uploader may write files into: pending, and
        created by the uploader."""
        _model, record = self.registry.get_version(full_name, version, decorated=False)
        self._require_pending(record, full_name)
        if record.created_by != uploader:
            raise PermissionDenied(
                f"version {record.version} of '{full_name}' was created by "
                f"'{record.created_by}': only its creator uploads its files"
            )
        return artifacts_dir(record, self.storage_root)

    def _recorder(
        self, full_name: str, version: int
    ) -> Callable[[list[ArtifactEntry], Callable[[], None]], None]:
        def record(entries: list[ArtifactEntry], place: Callable[[], None]) -> None:
            self.registry.record_uploads(
                full_name, version, [(e.path, e.size, e.sha256) for e in entries], place
            )

        return record

    def _file_message(self, path: str) -> str:
        return (
            f"artifact '{path}' exceeds the per-file limit of {self.max_file_bytes} bytes "
            "(STEWARD_MAX_ARTIFACT_BYTES); nothing was written"
        )

    def _version_message(self, path: str, used: int) -> str:
        return (
            f"artifact '{path}' would take the version over its limit of "
            f"{self.max_version_bytes} bytes (STEWARD_MAX_VERSION_ARTIFACT_BYTES; "
            f"{used} bytes already uploaded); nothing was written"
        )

    @staticmethod
    def _bytes_used(directory: Path, excluding: set[str]) -> int:
        if not directory.is_dir():
            return 0
        total = 0
        for current, _dirs, names in os.walk(directory, followlinks=False):
            for name in names:
                full = Path(current) / name
                if full.relative_to(directory).as_posix() in excluding:
                    continue
                with contextlib.suppress(OSError):
                    total += full.lstat().st_size
        return total

    @staticmethod
    def _require_pending(record: VersionRecord, full_name: str) -> None:
        if record.status != PENDING:
            raise InvalidState(
                f"version {record.version} of '{full_name}' is {record.status}; artifacts can "
                f"be uploaded only while it is {PENDING}"
            )

    # -- listing and downloads ---------------------------------------------------------

    def listing(
        self, full_name: str, version: int
    ) -> tuple[SecurableRecord, VersionRecord, list[ArtifactEntry]]:
        """READY: the manifest recorded at finalize. Otherwise the files there now."""
        model, record = self.registry.get_version(full_name, version, decorated=False)
        if record.status == READY:
            return model, record, self._recorded(record)
        directory = artifacts_dir(record, self.storage_root)
        if not directory.is_dir():
            return model, record, []
        try:
            entries = artifacts.manifest(directory)
        except artifacts.InvalidArtifacts as exc:
            raise InvalidState(str(exc)) from exc
        return model, record, [ArtifactEntry(*e) for e in entries]

    def open_download(self, full_name: str, version: int, path: str) -> Download:
        path = validate_path(path)
        record = self._ready(full_name, version)
        entry = next((e for e in self._recorded(record) if e.path == path), None)
        if entry is None:
            raise NotFound(f"artifact '{path}' is not part of version {version} of '{full_name}'")
        return self._checked(record, full_name, entry)

    def open_bundle(self, full_name: str, version: int) -> Bundle:
        """Every file of a READY version as one bundle (common/artifacts.py), each checked
        against the manifest recorded at finalize as :meth:`open_download` checks one; the
        request's audit event lists them."""
        record = self._ready(full_name, version)
        entries = self._recorded(record)
        note_audit(files=[{"path": e.path, "size": e.size, "sha256": e.sha256} for e in entries])
        head = manifest_line([BundleEntry(e.path, e.size, e.sha256) for e in entries])
        if sum(e.size for e in entries) <= _BUNDLE_IN_MEMORY:
            parts = [head]
            for entry in entries:
                parts.extend(self._checked(record, full_name, entry).chunks())
            return Bundle(b"".join(parts), None)

        # Larger: each file opened (and checked) as its turn comes, checked again as it is sent.
        def chunks() -> Iterator[bytes]:
            yield head
            for entry in entries:
                yield from self._checked(record, full_name, entry).chunks()

        return Bundle(None, chunks())

    def _ready(self, full_name: str, version: int) -> VersionRecord:
        _model, record = self.registry.get_version(full_name, version, decorated=False)
        if record.status != READY:
            raise InvalidState(
                f"version {version} of '{full_name}' is {record.status}; artifacts are served "
                f"once it is {READY}"
            )
        return record

    def _checked(self, record: VersionRecord, full_name: str, entry: ArtifactEntry) -> Download:
        """``entry``'s file, if it is still what finalize recorded: a small one read whole,
        a larger one open (and read through once)."""
        path = entry.path
        directory = artifacts_dir(record, self.storage_root)
        changed = InvalidState(
            f"artifact '{path}' of version {record.version} of '{full_name}' changed since "
            "registration; it is not served (ask an admin to check the artifact store)"
        )
        try:
            _no_symlinks_below(directory, directory / path)
            fd = os.open(directory / path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except (OSError, InvalidParameter) as exc:
            raise changed from exc
        handle = os.fdopen(fd, "rb")
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise changed
            if entry.size <= _CHUNK:  # read once: what is checked is what is sent
                content = handle.read(_CHUNK + 1)
                digest = hashlib.sha256(content).hexdigest()
                if len(content) != entry.size or digest != entry.sha256:
                    raise changed
                handle.close()
                return Download(entry, content=content)
            running = hashlib.sha256()
            size = 0
            while chunk := handle.read(_CHUNK):
                running.update(chunk)
                size += len(chunk)
            if size != entry.size or running.hexdigest() != entry.sha256:
                raise changed
        except BaseException:
            handle.close()
            raise
        return Download(entry, handle)

    def _recorded(self, record: VersionRecord) -> list[ArtifactEntry]:
        """The manifest finalize recorded (versions finalized before manifests were stored:
        the files now, if they still match the recorded digest)."""
        if record.artifact_manifest:
            return [ArtifactEntry(*e) for e in artifacts.parse_manifest(record.artifact_manifest)]
        directory = artifacts_dir(record, self.storage_root)
        try:
            entries = artifacts.manifest(directory)
        except artifacts.InvalidArtifacts as exc:
            raise InvalidState(str(exc)) from exc
        if artifacts.manifest_digest(entries) != record.artifact_digest:
            raise InvalidState(
                f"the artifacts of version {record.version} changed since registration"
            )
        return [ArtifactEntry(*e) for e in entries]


def artifacts_dir(record: VersionRecord, storage_root: Path) -> Path:
    try:
        return artifacts.local_path(record.storage_location, storage_root)
    except artifacts.InvalidArtifacts as exc:
        raise InvalidState(str(exc)) from exc
