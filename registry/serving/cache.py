"""What the invocation path reads, cached: endpoints, alias targets and loaded models.

* Endpoint configurations and version resolutions are kept for :data:`TTL` seconds
  (0.5 s), then read again in the background while the old entry still answers (for at
  most :data:`GRACE`, 0.25 s, more): an alias move or a config update made on any
  replica reaches every replica within 0.75 s at worst, under the one second docs/serving.md
  asks, without a restart and without a listener. A replica that changes an endpoint
  drops its own entry at once. (Each refresh is a few statements; on PostgreSQL at
  0.25 s they were 4% of a busy server's time.)
* Loaded models are kept by version id (a READY version's artifacts never change), the
  most recently used :data:`MAX_MODELS`; each is loaded once (concurrent first requests
  wait for the one load) through the safe loaders, on a worker thread.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson

from catalog.persistence.engine import Database
from catalog.records import SecurableRecord
from common.errors import InvalidParameter, NotFound
from common.model_loading import load
from common.model_safety import UnsafeModel
from policy.securables import SecurableType
from registry import artifact_files as artifacts
from registry.model_registry import READY
from registry.model_store import RegistryStores
from registry.serving.config import ServedEntity
from registry.serving.predictor import Predictor
from registry.version_dependencies import Dependencies, FeatureLookupSpec

TTL = 0.5
#: How long past its expiry an entry still answers while it is read again.
GRACE = 0.25
MAX_MODELS = 32
K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """A small map whose entries expire ``ttl`` seconds after they were read from the source.

    :meth:`fresh` (what the invocation path asks on the event loop) also answers an entry
    that expired less than ``grace`` seconds ago, and has it read again in the background:
    a busy endpoint never waits for its own refresh, and the entry is at most ``ttl`` plus
    one background read old. A refresh that fails drops the entry, so the next request
    reads it itself and gets the error.
    """

    def __init__(self, ttl: float, max_entries: int = 4096, grace: float = GRACE) -> None:
        self.ttl = ttl
        self.grace = grace
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V, Callable[[], V]]] = {}
        self._refreshing: set[K] = set()
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The entry as :meth:`fresh` gives it, else read now with ``load``."""
        value = self.fresh(key)
        if value is not None:
            return value
        now = time.monotonic()
        value = load()
        self._put(key, now, value, load)
        return value

    def fresh(self, key: K) -> V | None:
        """The entry if it has not expired (or only just, see the class), without reading
        anything on this thread."""
        found = self._entries.get(key)
        if found is None:
            return None
        expires, value, load = found
        now = time.monotonic()
        if expires > now:
            return value
        if now - expires > self.grace:
            return None
        with self._lock:
            if key in self._refreshing:
                return value
            self._refreshing.add(key)
        _REFRESHER.submit(self._refresh, key, load)
        return value

    def drop(self, key: K) -> None:
        self._entries.pop(key, None)

    def _put(self, key: K, now: float, value: V, load: Callable[[], V]) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (now + self.ttl, value, load)

    def _refresh(self, key: K, load: Callable[[], V]) -> None:
        try:
            now = time.monotonic()
            self._put(key, now, load(), load)
        except Exception:
            self.drop(key)  # the next request reads it itself, and gets the error
        finally:
            with self._lock:
                self._refreshing.discard(key)


#: Background reads of expiring cache entries (:meth:`TtlCache.fresh`).
_REFRESHER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="steward-cache-refresh")


@dataclass(frozen=True)
class ResolvedVersion:
    """The version a served entity stands for right now, and what serving it needs."""

    model: SecurableRecord
    version: int
    version_id: str
    storage_location: str
    #: MLflow column specs of the signature's inputs (None: tensor or no signature).
    columns: tuple[dict[str, Any], ...] | None
    tensor: dict[str, Any] | None
    feature_lookups: tuple[FeatureLookupSpec, ...]


def signature_inputs(signature: str | None) -> list[dict[str, Any]]:
    if not signature:
        return []
    inputs = orjson.loads(signature).get("inputs")
    if isinstance(inputs, str):
        inputs = orjson.loads(inputs)
    return inputs if isinstance(inputs, list) else []


def resolve_version(
    db: Database,
    stores: RegistryStores,
    model_name: str,
    version: int | None,
    alias: str | None,
) -> Any:
    with db.read() as session:
        model = stores.namespace(session).get(SecurableType.MODEL, model_name)
        if model is None:
            raise NotFound(f"MODEL '{model_name}' does not exist")
        store = stores.models(session)
        if alias is not None:
            found = store.get_alias(model.id, alias)
            if found is None:
                raise NotFound(f"alias '{alias}' of MODEL '{model_name}' does not exist")
            version = found.version
        assert version is not None
        record = store.get_version(model.id, version)
    if record is None:
        raise NotFound(f"version {version} of MODEL '{model_name}' does not exist")
    if record.status != READY:
        raise InvalidParameter(
            f"version {version} of MODEL '{model_name}' is {record.status}; only a {READY} "
            "version can be served"
        )
    inputs = signature_inputs(record.signature)
    named = bool(inputs) and all(isinstance(c, dict) and c.get("name") for c in inputs)
    tensor = inputs[0] if inputs and not named and inputs[0].get("type") == "tensor" else None
    deps = Dependencies.from_json(record.dependencies)
    return ResolvedVersion(
        model=model,
        version=record.version,
        version_id=record.id,
        storage_location=record.storage_location,
        columns=tuple(inputs) if named else None,
        tensor=tensor,
        feature_lookups=tuple(deps.feature_lookups) if deps else (),
    )


class ModelCache:
    def __init__(
        self,
        db: Database,
        stores: RegistryStores,
        storage_root: Path,
        allow_pickle: bool = False,
        trusted_types: tuple[str, ...] = (),
    ) -> None:
        self.db = db
        self.stores = stores
        self.storage_root = storage_root
        self.allow_pickle = allow_pickle
        self.trusted_types = trusted_types
        self.versions: TtlCache[tuple[str, int | None, str | None], ResolvedVersion] = TtlCache(TTL)
        self._models: OrderedDict[str, Predictor] = OrderedDict()
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def resolve(self, entity: ServedEntity) -> ResolvedVersion:
        key = (entity.entity_name, entity.entity_version, entity.alias)
        return self.versions.get(
            key,
            lambda: resolve_version(
                self.db, self.stores, entity.entity_name, entity.entity_version, entity.alias
            ),
        )

    def warm(self, entity: ServedEntity) -> ResolvedVersion | None:
        """The entity's version if it is resolved and its model loaded, so serving it reads
        nothing but feature rows; None when something would have to be read or loaded."""
        resolved = self.versions.fresh((entity.entity_name, entity.entity_version, entity.alias))
        return resolved if resolved is not None and resolved.version_id in self._models else None

    def predictor(self, resolved: ResolvedVersion) -> Predictor:
        """The version's loaded model, wrapped for its signature (loaded once)."""
        key = resolved.version_id
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:
            with self._lock:
                if key in self._models:
                    return self._models[key]
            model = Predictor(self._load(resolved), resolved.columns)
            with self._lock:
                self._models[key] = model
                self._loading.pop(key, None)
                while len(self._models) > MAX_MODELS:
                    self._models.popitem(last=False)
            return model

    def _load(self, resolved: ResolvedVersion) -> Any:
        try:
            directory = artifacts.local_path(resolved.storage_location, self.storage_root)
            return load(directory, allow_pickle=self.allow_pickle, trusted_types=self.trusted_types)
        except (UnsafeModel, artifacts.InvalidArtifacts) as exc:
            raise InvalidParameter(
                f"version {resolved.version} of MODEL '{resolved.model.full_name}' cannot be "
                f"served: {exc}"
            ) from None
