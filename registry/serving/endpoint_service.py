"""Serving endpoints: create, read, list, update, delete — and invoke (docs/serving.md).

An endpoint is a SERVING_ENDPOINT securable (one-level name, owned by its creator,
``GRANT QUERY ON SERVING ENDPOINT e TO x``) plus a ``serving_endpoints`` row holding its
config. Authority (following Databricks, where the endpoint runs as its creator): whoever
creates or updates the config must hold EXECUTE on each served model (with the usage
gates) and SELECT on each feature table the served versions look features up in; an
invoker needs only QUERY on the endpoint. The owner, MANAGE holders and metastore admins
update, delete and grant.

With ``auto_capture_config`` the endpoint gets an inference table
``<catalog>.<schema>.<prefix>_payload``, a MANAGED table owned by the creator (who needs
USE CATALOG, USE SCHEMA and CREATE TABLE there), created in the endpoint's transaction.
Lineage: each served model version → endpoint (kind ``serving``; an alias-following
entity also records model → endpoint), endpoint → inference table.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from catalog.access.authorizer import Caller
from catalog.access.replica_sync import securable_added_op
from catalog.audit.group_commit import GroupCommitter
from catalog.data.assumed_versions import AssumedVersions
from catalog.data.physical import create_storage
from catalog.data.table_data import TableDataService, TableLayout
from catalog.lineage import (
    Edge,
    EdgeKind,
    NodeRef,
    model_version_node,
    record_edges,
    securable_node,
)
from catalog.logs import get_logger
from catalog.names import normalize_full_name
from catalog.namespace import NamespaceService, NewSecurable
from catalog.persistence.engine import Database
from catalog.records import Page, SecurableRecord, new_id, now_ms
from catalog.row_access.table_access import RowAccessPolicies
from catalog.sql.session_functions import SessionContext
from catalog.store.base import NamespaceStore
from common.errors import AlreadyExists, InvalidParameter, NotFound
from common.values import check_rows
from policy.securables import Privilege, SecurableType
from registry.model_store import RegistryStores
from registry.serving import inputs
from registry.serving import tags as endpoint_tags
from registry.serving.cache import TTL, ModelCache, ResolvedVersion, TtlCache, resolve_version
from registry.serving.config import AutoCapture, EndpointConfig, inference_table_detail
from registry.serving.endpoint_store import EndpointRow, EndpointStore
from registry.serving.invocation import Invoker, Outcome
from registry.serving.query_schema import query_openapi
from registry.serving.tags import EndpointTag

ENDPOINT = SecurableType.SERVING_ENDPOINT
_log = get_logger("steward.serving")


@dataclass
class Endpoint:
    record: SecurableRecord
    row: EndpointRow
    #: Where invocations are logged (None: not capturing, or the table is gone).
    inference: TableLayout | None = None


@dataclass
class InferenceRow:
    """One invocation's row of an inference table, checked, waiting for the group commit."""

    layout: TableLayout
    row: dict[int, Any]


class ServingService:
    def __init__(
        self,
        db: Database,
        stores: RegistryStores,
        namespace: NamespaceService,
        data: TableDataService,
        models: ModelCache,
        row_access: RowAccessPolicies,
    ) -> None:
        self.db = db
        self.stores = stores
        self.namespace = namespace
        self.authorizer = namespace.authorizer
        self.data = data
        self.models = models
        self.invoker = Invoker(models, data, row_access)
        self.endpoints: TtlCache[str, Endpoint] = TtlCache(TTL)
        #: Audit events and inference rows of invocations, committed in groups.
        self.log = GroupCommitter(db, write_payloads=self._write_inference_rows)
        #: Invocations being answered on the event loop (touched only there).
        self.in_flight = 0

    def alone(self) -> bool:
        """Whether one invocation is being answered on the event loop: it may then commit
        its own event (:meth:`GroupCommitter.commit_on_loop`)."""
        return self.in_flight == 1

    def stop(self) -> None:
        self.log.stop()

    # -- create, read, update, delete -------------------------------------------------

    def create(
        self,
        caller: Caller,
        name: str,
        config: EndpointConfig,
        tags: Sequence[EndpointTag] = (),
    ) -> Endpoint:
        name = normalize_full_name(name, ENDPOINT)
        kept = tuple(endpoint_tags.checked(tags, "tags"))
        with self.db.read() as session:
            store = self.stores.namespace(session)
            if store.get(ENDPOINT, name) is not None:
                raise AlreadyExists(f"SERVING_ENDPOINT '{name}' already exists")
            versions, checked_tables = self._check_authority(caller, config, store)
            if config.capturing:
                self._check_capture(caller, config.auto_capture, store)
        at = now_ms()

        def add_config(session: Session, record: SecurableRecord) -> None:
            EndpointStore(session).insert(
                EndpointRow(record.id, config, 1, checked_tables, at, caller.name, kept)
            )
            table = None
            if config.capturing:
                assert config.auto_capture is not None
                table = self._create_inference_table(session, caller, record, config.auto_capture)
            record_edges(session, _edges(record, config, versions, table))

        self.namespace.create(caller, NewSecurable(ENDPOINT, name), extra=add_config)
        return self.get(name)

    def get(self, name: str) -> Endpoint:
        name = normalize_full_name(name, ENDPOINT)
        with self.db.read() as session:
            record, row = self._found(session, name)
        return Endpoint(record, row)

    def _found(self, session: Session, name: str) -> tuple[SecurableRecord, EndpointRow]:
        """The endpoint's securable and its row, or NotFound."""
        record = self.stores.namespace(session).get(ENDPOINT, name)
        row = EndpointStore(session).get(record.id) if record is not None else None
        if record is None or row is None:
            raise NotFound(f"SERVING_ENDPOINT '{name}' does not exist")
        return record, row

    def list(
        self, caller: Caller, max_results: int | None, page_token: str | None, server_max: int
    ) -> Page[Endpoint]:
        page = self.namespace.list(caller, ENDPOINT, None, max_results, page_token, server_max)
        with self.db.read() as session:
            rows = EndpointStore(session).get_many([r.id for r in page.items])
        return Page(
            [Endpoint(r, rows[r.id]) for r in page.items if r.id in rows], page.next_page_token
        )

    def update_config(self, caller: Caller, name: str, config: EndpointConfig) -> Endpoint:
        name = normalize_full_name(name, ENDPOINT)
        current = self.get(name)
        old = current.row.config
        capture = config.auto_capture if config.auto_capture is not None else old.auto_capture
        if (
            old.auto_capture is not None
            and capture is not None
            and capture.table_full_name != old.auto_capture.table_full_name
        ):
            raise InvalidParameter(
                f"the endpoint logs to '{old.auto_capture.table_full_name}'; the inference "
                "table cannot be changed (enable or disable it with auto_capture_config.enabled)"
            )
        config = EndpointConfig(config.served_entities, capture)
        creates_table = config.capturing and old.auto_capture is None
        with self.db.read() as session:
            store = self.stores.namespace(session)
            versions, checked = self._check_authority(caller, config, store)
            if creates_table:
                self._check_capture(caller, config.auto_capture, store)
        with self.db.transaction() as session:
            record, row = self._found(session, name)
            endpoints = EndpointStore(session)
            row = EndpointRow(
                record.id, config, row.config_version + 1, checked, now_ms(), caller.name
            )
            endpoints.update(row)
            table = None
            if creates_table:
                assert config.auto_capture is not None
                table = self._create_inference_table(session, caller, record, config.auto_capture)
            record_edges(session, _edges(record, config, versions, table))
        self.endpoints.drop(name)
        return self.get(name)

    def patch_tags(
        self, name: str, add: Sequence[EndpointTag], delete: Sequence[str]
    ) -> tuple[EndpointTag, ...]:
        """Add and delete tags in one transaction (:func:`registry.serving.tags.patched`);
        the tags afterwards. The owner's (or a MANAGE holder's) to change, as the config."""
        name = normalize_full_name(name, ENDPOINT)
        with self.db.transaction() as session:
            record, row = self._found(session, name)
            endpoints = EndpointStore(session)
            tags = tuple(endpoint_tags.patched(row.tags, add, delete))
            endpoints.set_tags(record.id, tags)
        self.endpoints.drop(name)
        return tags

    def delete(self, name: str) -> None:
        """Delete the endpoint (its config goes with it); its inference table stays."""
        self.namespace.delete(ENDPOINT, name, force=True)
        self.endpoints.drop(normalize_full_name(name, ENDPOINT))

    # -- authority ----------------------------------------------------------------------

    def _check_authority(
        self, caller: Caller, config: EndpointConfig, store: NamespaceStore
    ) -> tuple[list[ResolvedVersion], frozenset[str]]:
        """EXECUTE on every served model and SELECT on every feature table the served
        versions read; returns the versions served now and the tables checked."""
        versions: list[ResolvedVersion] = []
        tables: set[str] = set()
        for entity in config.served_entities:
            self.authorizer.require_privilege(
                caller, Privilege.EXECUTE, SecurableType.MODEL, entity.entity_name, store
            )
            resolved = resolve_version(
                self.db, self.stores, entity.entity_name, entity.entity_version, entity.alias
            )
            versions.append(resolved)
            for lookup in resolved.feature_lookups:
                table = normalize_full_name(lookup.table_name, SecurableType.TABLE)
                self.authorizer.require_privilege(
                    caller, Privilege.SELECT, SecurableType.TABLE, table, store
                )
                tables.add(table)
        return versions, frozenset(tables)

    def _check_capture(
        self, caller: Caller, capture: AutoCapture | None, store: NamespaceStore
    ) -> None:
        assert capture is not None
        self.authorizer.require_privilege(
            caller, Privilege.CREATE_TABLE, SecurableType.SCHEMA, capture.schema_full_name, store
        )
        if store.get(SecurableType.TABLE, capture.table_full_name) is not None:
            raise AlreadyExists(
                f"TABLE '{capture.table_full_name}' already exists; choose another "
                "auto_capture_config.table_name_prefix"
            )

    def _create_inference_table(
        self, session: Session, caller: Caller, endpoint: SecurableRecord, capture: AutoCapture
    ) -> SecurableRecord:
        store = self.stores.namespace(session)
        schema = store.get(SecurableType.SCHEMA, capture.schema_full_name)
        if schema is None:
            raise NotFound(f"SCHEMA '{capture.schema_full_name}' does not exist")
        full_name = capture.table_full_name
        record = SecurableRecord(
            id=new_id(),
            securable_type=SecurableType.TABLE,
            parent_id=schema.id,
            name=full_name.split(".")[-1],
            full_name=full_name,
            owner=caller.name,
            created_at=now_ms(),
            created_by=caller.name,
            comment=f"Inference table of serving endpoint '{endpoint.full_name}'",
        )
        detail = inference_table_detail()
        store.insert(record)
        store.insert_table_detail(record.id, detail)
        create_storage(session.connection(), record.id, detail)
        self.authorizer.feed.publish(session, [securable_added_op(record.id, schema.id)])
        return record

    # -- invocation ---------------------------------------------------------------------

    def query_schema(self, found: Endpoint) -> dict[str, Any]:
        """The endpoint's query API as OpenAPI (:mod:`registry.serving.query_schema`), from
        the versions its served entities stand for now (an alias followed)."""
        versions: list[ResolvedVersion] = [
            resolve_version(
                self.db, self.stores, entity.entity_name, entity.entity_version, entity.alias
            )
            for entity in found.row.config.served_entities
        ]
        looked_up: set[str] = set()
        for version in versions:
            for lookup in version.feature_lookups:
                features = lookup.feature_names
                if features is None:  # every column of the table but its keys
                    layout = self.data.layout(lookup.table_name)
                    keys = {c.name for c in layout.key_columns}
                    features = [c.name for c in layout.columns if c.name not in keys]
                looked_up.update(lookup.output_name(feature) for feature in features)
        return query_openapi(found.record.full_name, versions, looked_up)

    def endpoint(self, name: str) -> Endpoint:
        """The endpoint as the invocation path sees it (cached for :data:`TTL` seconds)."""
        return self.endpoints.get(name.lower(), lambda: self._load_endpoint(name))

    def _load_endpoint(self, name: str) -> Endpoint:
        found = self.get(name)
        capture = found.row.config.auto_capture
        if found.row.config.capturing and capture is not None:
            try:
                found.inference = self.data.layout(capture.table_full_name)
            except Exception as exc:  # dropped by someone: serve, and say so in the log
                _log.warning(
                    "inference table unavailable",
                    endpoint=found.record.full_name,
                    table=capture.table_full_name,
                    error=str(exc),
                )
        return found

    def warm(self, name: str) -> bool:
        """Whether an invocation of ``name`` now would read nothing but feature rows
        (everything else it needs is cached and fresh): see :meth:`Invoker.warm`."""
        endpoint = self.endpoints.fresh(name.lower())
        return endpoint is not None and self.invoker.warm(endpoint.row.config)

    def invoke(
        self,
        endpoint: Endpoint,
        request: inputs.Request,
        assumed: AssumedVersions | None = None,
    ) -> Outcome:
        """``assumed``: see :meth:`registry.serving.invocation.Invoker.invoke`."""
        # Features are read as the config's author, whose SELECT was checked (a row filter
        # or mask of a feature table applies to them as to a query of theirs).
        author = endpoint.row.updated_by or endpoint.record.owner
        authority = SessionContext.of(author, self.authorizer.feed.engine.groups(author))
        return self.invoker.invoke(
            endpoint.row.config, endpoint.row.checked_tables, request, authority, assumed
        )

    def inference_row(
        self,
        endpoint: Endpoint,
        *,
        request_id: str,
        client_request_id: str | None,
        started: float,
        status_code: int,
        body: bytes,
        response: bytes,
        outcome: Outcome | None,
        requester: str,
    ) -> InferenceRow | None:
        if endpoint.inference is None:
            return None
        moment = datetime.now(UTC)
        row = {
            "databricks_request_id": request_id,
            "client_request_id": client_request_id,
            "date": moment.date().isoformat(),
            "timestamp_ms": int(moment.timestamp() * 1000),
            "status_code": status_code,
            "execution_time_ms": int((time.perf_counter() - started) * 1000),
            "request": body.decode("utf-8", "replace"),
            "response": response.decode("utf-8", "replace"),
            "served_entity_id": outcome.entity.name if outcome else None,
            "model_name": outcome.resolved.model.full_name if outcome else None,
            "model_version": outcome.resolved.version if outcome else None,
            "requester": requester,
        }
        checked = check_rows(endpoint.inference.record.detail.columns, [row])
        return InferenceRow(endpoint.inference, checked[0])

    def _write_inference_rows(self, session: Session, payloads: Sequence[Any]) -> None:
        by_table: dict[str, tuple[TableLayout, list[dict[int, Any]]]] = {}
        for payload in payloads:
            assert isinstance(payload, InferenceRow)
            entry = by_table.setdefault(payload.layout.record.securable.id, (payload.layout, []))
            entry[1].append(payload.row)
        for layout, rows in by_table.values():
            self.data.write_checked(session, layout, rows, merge=False)


def _edges(
    endpoint: SecurableRecord,
    config: EndpointConfig,
    versions: list[ResolvedVersion],
    table: SecurableRecord | None,
) -> list[Edge]:
    target = securable_node(endpoint)
    edges: list[Edge] = []
    for entity, resolved in zip(config.served_entities, versions, strict=True):
        edges.append(
            Edge(
                model_version_node(resolved.model, resolved.version),
                target,
                EdgeKind.SERVING,
                entity.name,
            )
        )
        if entity.alias is not None:
            edges.append(
                Edge(securable_node(resolved.model), target, EdgeKind.SERVING, entity.name)
            )
    if table is not None:
        inference: NodeRef = securable_node(table)
        edges.append(Edge(target, inference, EdgeKind.SERVING, "inference_table"))
    return edges
