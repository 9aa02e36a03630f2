"""The Python client of Steward's model registry: ``from registry import Client``.

::

    client = Client()  # STEWARD_URL, STEWARD_TOKEN
    mv = client.register_model(model, "main.ml.churn", input_example=X[:5],
                               training_tables=["main.ml.customers"], alias="champion")
    loaded = client.load_model("models:/main.ml.churn@champion")
    loaded.predict(X)

Feature tables are written with ``write_table`` (merge by primary key, in batches under the
server's body limit) and read by key with ``lookup``; ``create_training_set`` joins them to
a training DataFrame point-in-time (see :mod:`registry.client.features`), and ``register_model(...,
training_set=…)`` records the set's feature lookups, which become lineage.

Models are saved in their format's safe layout (skops for scikit-learn, UBJSON for XGBoost,
text for LightGBM boosters, ONNX) with an MLflow-compatible ``MLmodel``, uploaded through
the artifact API with their SHA-256, finalized, and loaded back only after every file's
checksum matches what the server recorded at registration.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, is_dataclass
from datetime import date, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import orjson

from common.model_formats import format_of
from common.model_loading import load
from common.signature import infer_signature, normalize_signature
from registry.client import serving
from registry.client.errors import StewardError
from registry.client.features import (
    FeatureLookup,
    FeatureTable,
    TrainingSet,
    build_training_set,
    json_records,
    json_value,
)
from registry.client.governance import (
    audit_events,
    change_privileges,
    lineage_graph,
    privilege_assignments,
    run_sql,
)
from registry.client.http import STEWARD, UC, RestClient, quote_part
from registry.client.models import (
    CHECKSUM_HEADER,
    CHUNK_BYTES,
    LoadedModel,
    ModelVersion,
    file_sha256,
    model_input,
    parse_model_uri,
    safe_relative,
    save_model,
)
from registry.client.names import three_parts

#: The server's default body limit (``STEWARD_MAX_BODY_BYTES``).
DEFAULT_MAX_REQUEST_BYTES = 1 << 20
#: Most keys one lookup request may carry, as the server allows.
MAX_BATCH_ROWS = 100_000
#: Most rows one write request carries: the server's default ``STEWARD_MAX_ROWS_PER_WRITE``.
MAX_WRITE_ROWS = 10_000
_ROW_NUMBER = re.compile(r"^(rows?|key) (\d+)(?: and (\d+))?")


class Client:
    """A Steward registry client. ``url``/``token`` default to ``STEWARD_URL`` and
    ``STEWARD_TOKEN``; ``cache_dir`` (downloaded models) to ``STEWARD_CACHE_DIR`` or
    ``~/.cache/steward``; ``max_request_bytes`` (the server's body limit, which row writes
    and lookups are split to stay under) to ``STEWARD_MAX_BODY_BYTES`` or 1 MiB."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        cache_dir: str | Path | None = None,
        timeout: float = 120.0,
        max_request_bytes: int | None = None,
    ) -> None:
        self.rest = RestClient(url, token, timeout=timeout)
        self.url = self.rest.url
        self.token = self.rest.token
        root = cache_dir or os.environ.get("STEWARD_CACHE_DIR") or "~/.cache/steward"
        self.cache_dir = Path(root).expanduser()
        limit = max_request_bytes or os.environ.get("STEWARD_MAX_BODY_BYTES")
        self.max_request_bytes = int(limit or DEFAULT_MAX_REQUEST_BYTES)

    def close(self) -> None:
        self.rest.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP --------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.rest.request(method, path, **kwargs)

    # -- SQL, grants, audit, lineage ---------------------------------------------------

    def sql(self, statement: str, *, as_frame: bool = False) -> Any:
        """Run one SQL statement as this client's user: the rows as dicts (column →
        value), or a pandas DataFrame with ``as_frame``. A failed statement raises
        :class:`StewardError` with the server's message (line and column)."""
        columns, rows = run_sql(self.rest, statement)
        if as_frame:
            import pandas as pd

            return pd.DataFrame(rows, columns=columns)
        return [dict(zip(columns, row, strict=False)) for row in rows]

    def grants(
        self, securable_type: str, full_name: str, principal: str | None = None
    ) -> dict[str, list[str]]:
        """Who holds what on an object: principal → privileges (as the caller may see)."""
        return privilege_assignments(self.rest, securable_type, full_name, principal)

    def grant(
        self, securable_type: str, full_name: str, principal: str, *privileges: str
    ) -> dict[str, list[str]]:
        """``GRANT privileges ON securable_type full_name TO principal``; the grants after."""
        return change_privileges(
            self.rest, securable_type, full_name, principal, add=list(privileges)
        )

    def revoke(
        self, securable_type: str, full_name: str, principal: str, *privileges: str
    ) -> dict[str, list[str]]:
        """``REVOKE privileges ON securable_type full_name FROM principal``; the grants after."""
        return change_privileges(
            self.rest, securable_type, full_name, principal, remove=list(privileges)
        )

    def audit(
        self,
        *,
        action: str | None = None,
        user: str | None = None,
        object_name: str | None = None,
        service: str | None = None,
        since: str | None = None,
        until: str | None = None,
        failed: bool | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Audit events, newest first (needs SELECT on system.access.audit): the same
        filters as ``steward audit`` (``object_name`` is its ``--object``: events on that
        object and what is inside it); ``since``/``until`` take ISO times or spans (30m)."""
        return audit_events(
            self.rest,
            limit,
            action=action,
            user=user,
            object=object_name,
            service=service,
            since=since,
            until=until,
            failed=failed,
        )

    def lineage(
        self,
        full_name: str,
        *,
        direction: str = "both",
        depth: int = 3,
        include_columns: bool = False,
    ) -> dict[str, Any]:
        """The lineage graph around a table, model or endpoint (nodes and edges)."""
        return lineage_graph(self.rest, full_name, direction, depth, include_columns)

    # -- serving -------------------------------------------------------------------------

    def create_endpoint(
        self,
        name: str,
        serve: Sequence[str | dict[str, Any]],
        *,
        inference_table: str | None = None,
    ) -> dict[str, Any]:
        """Create a serving endpoint: ``serve`` as the CLI's ``--serve`` (``"c.s.m@champion"``,
        ``"c.s.m/3=30"``, with ``:name``) or the API's served-entity dicts;
        ``inference_table`` ``catalog.schema.prefix`` logs to ``<prefix>_payload``."""
        return serving.create(self.rest, name, serve, inference_table)

    def update_endpoint(
        self,
        name: str,
        serve: Sequence[str | dict[str, Any]],
        *,
        inference_table: str | None = None,
    ) -> dict[str, Any]:
        """Replace what an endpoint serves (owner or MANAGE; EXECUTE on the models)."""
        return serving.update(self.rest, name, serve, inference_table)

    def get_endpoint(self, name: str) -> dict[str, Any]:
        return serving.get(self.rest, name)

    def list_endpoints(self) -> list[dict[str, Any]]:
        """The endpoints the caller sees."""
        return serving.listing(self.rest)

    def delete_endpoint(self, name: str) -> None:
        serving.delete(self.rest, name)

    def query_endpoint(self, name: str, data: Any) -> list[Any]:
        """Predictions of an endpoint (QUERY on it) for a DataFrame, records, a dict of
        columns or a payload in the API's own formats."""
        return serving.query(self.rest, name, data)

    # -- feature tables ----------------------------------------------------------------

    def get_table(self, name: str) -> dict[str, Any]:
        return self._request("GET", f"{UC}/tables/{quote_part(name)}")

    def describe_table(self, name: str) -> FeatureTable:
        """A table's columns, lookup key columns and timeseries column (needs BROWSE)."""
        try:
            return FeatureTable.from_info(self.get_table(name))
        except StewardError as exc:
            if exc.status_code != 403:
                raise
            raise StewardError(
                exc.error_code,
                f"joining features of '{name}' needs its key columns and types, which reading "
                f"the table's description needs BROWSE on it for (reading its rows needs "
                f"SELECT): {exc.message}",
                exc.status_code,
                exc.request_id,
            ) from None

    def write_table(
        self,
        name: str,
        df: Any,
        mode: str = "merge",
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, int]:
        """Write rows (a pandas DataFrame or a list of ``{column: value}``) to a feature
        table: ``merge`` updates the rows whose primary key exists and inserts the others,
        ``append`` refuses existing keys. Needs MODIFY on the table.

        NaN, NaT and None are null, numpy values Python ones, times ISO 8601 UTC (a time
        without offset is UTC). Rows go in batches under the server's body limit, each
        written whole or not at all; when there are several, every row is checked here
        first (types, NOT NULL, columns, a key given twice) so that a bad one, named by row
        and column as the server would, writes nothing. What only the server can check (in
        ``append`` mode, a key that already exists) stops the write at its batch, after the
        batches before it. Returns the summed counts
        ``{num_affected_rows, num_inserted_rows, num_updated_rows}``. ``progress`` is called
        after each batch with the rows written so far and the rows in all.
        """
        if mode not in ("merge", "append"):
            raise StewardError("INVALID_PARAMETER_VALUE", f"mode '{mode}' is not merge or append")
        rows = json_records(df)
        items = [orjson.dumps(row) for row in rows]
        head = b'{"mode":"' + mode.encode() + b'","rows":['
        batches = self._batches([len(i) for i in items], len(head) + 2, MAX_WRITE_ROWS)
        if len(batches) > 1:
            self._check_rows(name, rows)
        totals = {"num_affected_rows": 0, "num_inserted_rows": 0, "num_updated_rows": 0}
        for start, end in batches:
            body = head + b",".join(items[start:end]) + b"]}"
            try:
                answer = self._request(
                    "POST",
                    f"{STEWARD}/tables/{quote_part(name)}/rows",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
            except StewardError as exc:
                raise _renumbered(exc, start) from None
            for count in totals:
                totals[count] += int(answer.get(count, 0))
            if progress is not None:
                progress(end, len(items))
        return totals

    def _check_rows(self, name: str, rows: list[dict[str, Any]]) -> None:
        """Check rows as the server will (types, NOT NULL, unknown columns, one row per key)
        before a write split over several requests, so a bad row stops it before any batch
        is written. A caller who may not describe the table gets the server's checks."""
        from common.errors import StewardError as DomainError
        from common.values import MAX_BATCH_ROWS as SERVER_BATCH
        from common.values import ColumnSpec, check_rows

        try:
            info = self.get_table(name)
        except StewardError as exc:
            if exc.status_code == 403:
                return
            raise
        table = FeatureTable.from_info(info)
        columns = [
            ColumnSpec(
                name=c["name"],
                type_text=c.get("type_text") or str(c.get("type_name", "")).lower(),
                type_name=str(c.get("type_name") or "STRING").upper(),
                position=int(c["position"]) if c.get("position") is not None else i,
                nullable=c.get("nullable", True) is not False,
                type_precision=c.get("type_precision"),
                type_scale=c.get("type_scale"),
            )
            for i, c in enumerate(info.get("columns") or [])
        ]
        keys = [*table.lookup_columns, *([table.timeseries] if table.timeseries else [])]
        positions = [next(c.position for c in columns if c.name == k) for k in keys]
        seen: dict[str, int] = {}
        for start in range(0, len(rows), SERVER_BATCH):
            try:
                checked = check_rows(
                    columns, rows[start : start + SERVER_BATCH], first_row=start + 1
                )
            except DomainError as exc:
                raise StewardError(exc.error_code, exc.message, exc.status_code) from None
            if not positions:
                continue
            for number, row in enumerate(checked, start=start + 1):
                key = orjson.dumps([json_value(row.get(p)) for p in positions]).decode()
                if key in seen:
                    shown = ", ".join(
                        f"{k}={row.get(p)!s}" for k, p in zip(keys, positions, strict=True)
                    )
                    raise StewardError(
                        "INVALID_PARAMETER_VALUE",
                        f"rows {seen[key]} and {number} have the same primary key ({shown}); "
                        "a write may give each key once",
                        400,
                    )
                seen[key] = number

    def lookup(
        self,
        name: str,
        keys: Any,
        as_of: Any = None,
        lookback: timedelta | float | None = None,
    ) -> Any:
        """Rows of a feature table by primary key (the key columns without the timeseries
        column): ``keys`` a DataFrame or a list of ``{column: value}``. Without ``as_of``,
        each key's latest row; with ``as_of`` (one time, or one per key) the latest row not
        later than it, and with ``lookback`` (a ``timedelta`` or seconds) not older than
        ``as_of - lookback``. A DataFrame of keys gives a DataFrame (the table's columns, a
        row per key, NaN where nothing is found); a list gives a list of rows or None.
        Needs SELECT on the table."""
        frame = hasattr(keys, "to_dict") and hasattr(keys, "columns")
        wanted = json_records(keys)
        times: list[str] | None = None
        if as_of is not None:
            if isinstance(as_of, str | datetime | date) or np.isscalar(as_of):
                as_of = [as_of] * len(wanted)
            times = [json_value(t) for t in as_of]
            if len(times) != len(wanted) or any(not isinstance(t, str) for t in times):
                raise StewardError(
                    "INVALID_PARAMETER_VALUE", "as_of needs one time (not null) per key", 400
                )
        seconds: float | None = None
        if lookback is not None:
            seconds = lookback.total_seconds() if isinstance(lookback, timedelta) else lookback
        rows = self._lookup_rows(name, wanted, times, seconds)
        if not frame:
            return rows
        try:
            table = FeatureTable.from_info(self.get_table(name))
        except StewardError as exc:  # SELECT without BROWSE: the values as they came
            if exc.status_code != 403:
                raise
            import pandas as pd

            return pd.DataFrame([r or {} for r in rows], index=keys.index)
        return table.frame(rows, index=keys.index)

    def _lookup_rows(
        self,
        name: str,
        keys: list[dict[str, Any]],
        as_of: list[str] | None,
        lookback_seconds: float | None,
    ) -> list[dict[str, Any] | None]:
        """The lookup API over as many requests as the body limit needs."""
        key_items = [orjson.dumps(k) for k in keys]
        time_items = [orjson.dumps(t) for t in as_of] if as_of is not None else None
        tail = b"]"
        if time_items is not None:
            tail += b',"as_of":['
        end = b"]" if time_items is not None else b""
        if lookback_seconds is not None:
            end += b',"lookback_seconds":' + orjson.dumps(float(lookback_seconds))
        end += b"}"
        head = b'{"keys":['
        sizes = [
            len(k) + (len(time_items[i]) + 1 if time_items is not None else 0)
            for i, k in enumerate(key_items)
        ]
        rows: list[dict[str, Any] | None] = []
        for start, stop in self._batches(sizes, len(head) + len(tail) + len(end), MAX_BATCH_ROWS):
            body = head + b",".join(key_items[start:stop]) + tail
            if time_items is not None:
                body += b",".join(time_items[start:stop])
            body += end
            try:
                answer = self._request(
                    "POST",
                    f"{STEWARD}/tables/{quote_part(name)}/lookup",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
            except StewardError as exc:
                raise _renumbered(exc, start) from None
            rows += answer.get("rows", [])
        return rows

    def _batches(
        self, sizes: Sequence[int], overhead: int, max_items: int
    ) -> list[tuple[int, int]]:
        """(start, end) of consecutive items whose JSON (plus commas and ``overhead``) fits
        the body limit, at most ``max_items`` each. An item too big on its own
        travels alone, for the server to refuse."""
        limit = self.max_request_bytes - overhead - 64
        batches: list[tuple[int, int]] = []
        start, total = 0, 0
        for i, size in enumerate(sizes):
            if i > start and (total + size + 1 > limit or i - start >= max_items):
                batches.append((start, i))
                start, total = i, 0
            total += size + 1
        if start < len(sizes):
            batches.append((start, len(sizes)))
        return batches

    def create_training_set(
        self,
        df: Any,
        feature_lookups: Sequence[FeatureLookup | dict[str, Any]],
        label: str | Sequence[str] | None = None,
        exclude_columns: Sequence[str] | None = None,
    ) -> TrainingSet:
        """A :class:`~registry.client.features.TrainingSet`: ``df``'s rows with the features of
        ``feature_lookups`` joined (point-in-time where a lookup has a
        ``timestamp_lookup_key``) when ``load_df()`` is called. The lookups are checked
        against ``df`` and the tables now; ``label`` names the label column(s), kept last;
        ``exclude_columns`` are left out of the loaded DataFrame."""
        return build_training_set(
            df, feature_lookups, label, exclude_columns, self.describe_table, self._lookup_rows
        )

    # -- models and versions -----------------------------------------------------------

    def get_model(self, name: str) -> dict[str, Any]:
        return self._request("GET", f"{UC}/models/{quote_part(name)}")

    def create_model(self, name: str, comment: str | None = None) -> dict[str, Any]:
        catalog, schema, model = three_parts(name, "model name", "model")
        body = {"catalog_name": catalog, "schema_name": schema, "name": model, "comment": comment}
        return self._request("POST", f"{UC}/models", json=body)

    def _ensure_model(self, name: str) -> None:
        """Create the registered model when it does not exist. A caller who may add versions
        (CREATE MODEL VERSION) without seeing the model's metadata gets a 403 here: the
        version's creation then decides."""
        try:
            self.get_model(name)
            return
        except StewardError as exc:
            if exc.status_code == 403:
                return
            if exc.status_code != 404:
                raise
        try:
            self.create_model(name)
        except StewardError as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise

    def get_version(self, name: str, version_or_alias: int | str) -> ModelVersion:
        """A version by number (``3``, ``"3"``) or alias (``"champion"``)."""
        if isinstance(version_or_alias, int) or str(version_or_alias).isdigit():
            path = f"{UC}/models/{quote_part(name)}/versions/{int(version_or_alias)}"
        else:
            path = f"{UC}/models/{quote_part(name)}/aliases/{quote_part(str(version_or_alias))}"
        return ModelVersion.from_info(self._request("GET", path))

    def list_versions(self, name: str) -> list[ModelVersion]:
        versions: list[ModelVersion] = []
        token: str | None = None
        while True:
            params = {"page_token": token} if token else {}
            body = self._request("GET", f"{UC}/models/{quote_part(name)}/versions", params=params)
            versions += [ModelVersion.from_info(v) for v in body.get("model_versions", [])]
            token = body.get("next_page_token")
            if not token:
                return versions

    def set_alias(self, name: str, alias: str, version: int) -> ModelVersion:
        """Point ``alias`` at ``version`` (creating or moving it); returns that version."""
        self._request(
            "PUT",
            f"{UC}/models/{quote_part(name)}/aliases/{quote_part(alias)}",
            json={"version_num": int(version)},
        )
        return self.get_version(name, int(version))

    def delete_alias(self, name: str, alias: str) -> None:
        self._request("DELETE", f"{UC}/models/{quote_part(name)}/aliases/{quote_part(alias)}")

    # -- registration ------------------------------------------------------------------

    def register_model(
        self,
        model: Any,
        name: str,
        signature: Any = None,
        input_example: Any = None,
        training_tables: Sequence[str] | None = None,
        feature_lookups: Sequence[Any] | None = None,
        alias: str | None = None,
        tags: dict[str, str] | None = None,
        *,
        comment: str | None = None,
        run_id: str | None = None,
        training_set: TrainingSet | None = None,
    ) -> ModelVersion:
        """Save ``model`` (scikit-learn, XGBoost, a LightGBM booster or ONNX) in its safe
        format, register it as a new version of ``name`` (creating the registered model if
        missing), upload, finalize and optionally set ``alias``.

        ``signature`` (MLflow's format, or a ``ModelSignature``) is inferred from
        ``input_example`` and ``model.predict`` when not given. ``training_tables`` and
        ``feature_lookups`` become lineage edges to the version; ``training_set`` (from
        :meth:`create_training_set`) adds its feature lookups.
        """
        three_parts(name, "model name", "model")
        if training_set is not None:
            specs = [_lookup(f) for f in feature_lookups or []]
            specs += [s for s in training_set.feature_specs() if s not in specs]
            feature_lookups = specs
        if signature is not None:
            sig = normalize_signature(signature)
        elif input_example is not None:
            predictor = format_of(model).wrap(model)
            sig = infer_signature(
                input_example, predictor.predict(model_input(input_example, predictor))
            )
        else:
            raise StewardError(
                "INVALID_PARAMETER_VALUE",
                "a version needs a signature: pass signature= or an input_example to infer it",
            )
        with tempfile.TemporaryDirectory(prefix="steward-model-") as tmp:
            directory = save_model(model, Path(tmp) / "model", sig, input_example)
            self._ensure_model(name)
            version = self._create_version(
                name, model, training_tables, feature_lookups, tags, comment, run_id
            )
            for path in sorted(p for p in directory.rglob("*") if p.is_file()):
                self.upload_artifact(name, version, path.relative_to(directory).as_posix(), path)
        info = self._request(
            "PATCH",
            f"{UC}/models/{quote_part(name)}/versions/{version}/finalize",
            json={"full_name": name, "version": version},
        )
        registered = ModelVersion.from_info(info)
        if registered.status != "READY":
            raise StewardError(
                "FAILED_REGISTRATION",
                f"version {version} of {name} is {registered.status}: {registered.status_message}",
            )
        if alias:
            return self.set_alias(name, alias, version)
        return registered

    def _create_version(
        self,
        name: str,
        model: Any,
        training_tables: Sequence[str] | None,
        feature_lookups: Sequence[Any] | None,
        tags: dict[str, str] | None,
        comment: str | None,
        run_id: str | None,
    ) -> int:
        catalog, schema, model_name = three_parts(name, "model name", "model")
        body: dict[str, Any] = {
            "catalog_name": catalog,
            "schema_name": schema,
            "model_name": model_name,
            "source": f"steward-client:{type(model).__module__}.{type(model).__qualname__}",
            "comment": comment,
            "run_id": run_id,
            "tags": [{"key": k, "value": str(v)} for k, v in (tags or {}).items()],
        }
        if training_tables or feature_lookups:
            body["dependencies"] = {
                "training_tables": list(training_tables or []),
                "feature_lookups": [_lookup(f) for f in feature_lookups or []],
            }
        return int(self._request("POST", f"{UC}/models/versions", json=body)["version"])

    def upload_artifact(self, name: str, version: int, path: str, source: Path) -> dict[str, Any]:
        """Upload one file (streamed) to a pending version, with its SHA-256."""
        digest = file_sha256(source)
        with source.open("rb") as handle:
            return self._request(
                "PUT",
                f"{STEWARD}/models/{quote_part(name)}/versions/{int(version)}/artifacts/"
                + quote(path, safe="/"),
                content=handle,
                headers={
                    CHECKSUM_HEADER: digest,
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(source.stat().st_size),
                },
            )

    # -- downloads and loading ---------------------------------------------------------

    def list_artifacts(self, name: str, version: int) -> dict[str, Any]:
        return self._request(
            "GET", f"{STEWARD}/models/{quote_part(name)}/versions/{int(version)}/artifacts"
        )

    def download_artifacts(self, name: str, version: int) -> Path:
        """The version's files in the local cache, each checked against its SHA-256 (from the
        manifest recorded at registration and the download's header)."""
        listing = self.list_artifacts(name, version)
        if listing.get("status") != "READY":
            raise StewardError(
                "INVALID_STATE", f"version {version} of {name} is {listing.get('status')}"
            )
        files = [(safe_relative(f["path"]), int(f["size"]), f["sha256"]) for f in listing["files"]]
        digest = listing.get("artifact_digest") or "unrecorded"
        target = self.cache_dir / "models" / name.lower() / str(int(version)) / digest[:32]
        if target.is_dir() and all(
            (target / p).is_file() and file_sha256(target / p) == sha for p, _, sha in files
        ):
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=target.parent))
        try:
            for relative, size, sha in files:
                self._download_file(name, version, relative, size, sha, staging / relative)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def _download_file(
        self, name: str, version: int, relative: PurePosixPath, size: int, sha: str, dest: Path
    ) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        url = f"{STEWARD}/models/{quote_part(name)}/versions/{int(version)}/artifacts/" + quote(
            relative.as_posix(), safe="/"
        )
        digest = hashlib.sha256()
        received = 0
        try:
            with self.rest.stream("GET", url) as response:
                header = response.headers.get(CHECKSUM_HEADER, "").lower()
                with dest.open("wb") as out:
                    for chunk in response.iter_bytes(CHUNK_BYTES):
                        digest.update(chunk)
                        received += len(chunk)
                        out.write(chunk)
        except httpx.HTTPError as exc:
            raise StewardError(
                "DOWNLOAD_FAILED", f"download of '{relative}' was interrupted: {exc}"
            ) from exc
        actual = digest.hexdigest()
        if actual != sha or header != sha or received != size:
            raise StewardError(
                "CHECKSUM_MISMATCH",
                f"'{relative}' of version {version} of {name} does not match its recorded "
                f"SHA-256 (got {actual}, recorded {sha}, header {header or 'missing'})",
            )

    def load_model(
        self,
        model_uri: str,
        *,
        allow_pickle: bool = False,
        trusted_types: Iterable[str] = (),
    ) -> LoadedModel:
        """Load ``models:/c.s.m@alias`` or ``models:/c.s.m/<version>``: resolve, download
        with checksum verification, load with the format's safe loader (skops and the
        allow-list of trusted types for scikit-learn; XGBoost, LightGBM, ONNX Runtime).
        Pickle is refused unless ``allow_pickle=True``."""
        name, version, alias = parse_model_uri(model_uri)
        mv = self.get_version(name, alias if alias is not None else int(version or 0))
        directory = self.download_artifacts(name, mv.version)
        model = load(directory, allow_pickle=allow_pickle, trusted_types=trusted_types)
        return LoadedModel(model, mv.full_name, mv.version, model_uri, directory, mv.signature)

    def predict(self, model: str | LoadedModel, data: Any) -> Any:
        """Predict with a loaded model or a ``models:/`` URI (loaded first)."""
        loaded = self.load_model(model) if isinstance(model, str) else model
        return loaded.predict(data)


def _renumbered(exc: StewardError, offset: int) -> StewardError:
    """A server error about row (or key) N of a batch, renumbered for the whole write."""
    if not offset:
        return exc

    def shift(match: re.Match[str]) -> str:
        second = f" and {int(match[3]) + offset}" if match[3] else ""
        return f"{match[1]} {int(match[2]) + offset}{second}"

    message = _ROW_NUMBER.sub(shift, exc.message, count=1)
    return StewardError(exc.error_code, message, exc.status_code, exc.request_id)


def _lookup(value: Any) -> dict[str, Any]:
    """A feature lookup as the API takes it (dict, FeatureLookup, dataclass, or Databricks'
    FeatureLookup)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, FeatureLookup):
        return value.to_spec()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    keys = ("table_name", "lookup_key", "feature_names", "timestamp_lookup_key")
    found = {k: getattr(value, k) for k in keys if getattr(value, k, None) is not None}
    if isinstance(found.get("lookup_key"), str):
        found["lookup_key"] = [found["lookup_key"]]
    return found


def predict(model: LoadedModel | str, data: Any, client: Client | None = None) -> Any:
    """``predict(loaded, data)`` or ``predict("models:/c.s.m@alias", data)``."""
    if isinstance(model, LoadedModel):
        return model.predict(data)
    owned = client is None
    client = client or Client()
    try:
        return client.predict(model, data)
    finally:
        if owned:
            client.close()
