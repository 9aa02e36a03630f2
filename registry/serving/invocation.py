"""One invocation: pick a served entity, resolve its version, look features up, predict.

Feature lookups (the version's ``feature_lookups``): each request row carries the lookup
keys (the columns named by ``lookup_key``, matched in order to the feature table's
primary key, timeseries column aside); the features (``feature_names``, or every
non-key column) are read by key in one query per feature table for the whole request —
the latest row of each key — and merged into the request a column at a time. Values the
request gives itself override looked-up values.
A key with no row in the feature table is a 400 naming the table and the key, unless
the request gives every feature of that table itself. A null in the request counts as
not given (``dataframe_split`` has a value for every column of every row), so it is
looked up.

Authority: the endpoint serves with its creator's authority, checked when the config
was created or updated (EXECUTE on each model, SELECT on each feature table of the
versions served then). Features are read as that user too: the feature tables' row
filters and column masks apply as they apply to the config's author
(docs/row-access.md). A version reached later through an alias that reads a feature table
nobody was checked for is refused (403) until the config is updated by someone who may
read it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from catalog.data.assumed_versions import AssumedVersions
from catalog.data.table_data import TableDataService, TableLayout
from catalog.names import normalize_full_name
from catalog.row_access.table_access import RowAccessPolicies
from catalog.sql.session_functions import SessionContext
from common.errors import InvalidParameter, PermissionDenied
from policy.securables import SecurableType
from registry.serving import inputs
from registry.serving.cache import ModelCache, ResolvedVersion, TtlCache
from registry.serving.config import EndpointConfig, ServedEntity
from registry.serving.inputs import MISSING
from registry.version_dependencies import FeatureLookupSpec

LAYOUT_TTL = 1.0


@dataclass
class Outcome:
    predictions: Any
    entity: ServedEntity
    resolved: ResolvedVersion
    request: inputs.Request


def pick(config: EndpointConfig, rng: random.Random | None = None) -> ServedEntity:
    """The entity that serves this request, by traffic share."""
    entities = config.served_entities
    if len(entities) == 1:
        return entities[0]
    point = (rng or random).randrange(100)
    for entity in entities:
        if point < entity.traffic_percentage:
            return entity
        point -= entity.traffic_percentage
    return entities[-1]


class Invoker:
    def __init__(
        self, models: ModelCache, data: TableDataService, row_access: RowAccessPolicies
    ) -> None:
        self.models = models
        self.data = data
        self.row_access = row_access
        self.layouts: TtlCache[str, TableLayout] = TtlCache(LAYOUT_TTL)

    def warm(self, config: EndpointConfig) -> bool:
        """Whether every entity of ``config`` can be served from memory (its version
        resolved, its model loaded, its feature tables' layouts known): then an invocation
        reads only the feature rows themselves."""
        for entity in config.served_entities:
            resolved = self.models.warm(entity)
            if resolved is None:
                return False
            for spec in resolved.feature_lookups:
                table = normalize_full_name(spec.table_name, SecurableType.TABLE)
                if self.layouts.fresh(table) is None:
                    return False
                if self.data.namespace.cached_table(table) is None:  # its policies: a read
                    return False
        return True

    def invoke(
        self,
        config: EndpointConfig,
        checked_tables: frozenset[str],
        request: inputs.Request,
        authority: SessionContext,
        assumed: AssumedVersions | None = None,
    ) -> Outcome:
        """``authority``: whom the endpoint reads features as (its config's author), whose
        row filters and column masks apply to the features looked up. ``assumed``: feature
        tables' data versions may be taken from the row cache unread and recorded there,
        for the invocation's commit to confirm (catalog/data/assumed_versions.py)."""
        entity = pick(config)
        resolved = self.models.resolve(entity)
        predictor = self.models.predictor(resolved)
        try:
            if resolved.columns is not None:
                columns = inputs.named(request, resolved.columns)
                if resolved.feature_lookups:
                    columns = self._with_features(
                        columns, request.row_count, resolved, checked_tables, authority, assumed
                    )
                output = predictor.predict(columns)
            elif resolved.tensor is not None:
                output = predictor.model.predict(inputs.tensor(request, resolved.tensor))
            else:
                raise InvalidParameter(
                    f"version {resolved.version} of MODEL '{resolved.model.full_name}' has no "
                    "input signature to check requests against"
                )
        except (ValueError, TypeError) as exc:  # shapes or values the model refuses
            raise InvalidParameter(f"the model refused the input: {exc}") from None
        return Outcome(inputs.predictions(output), entity, resolved, request)

    # -- features --------------------------------------------------------------------------

    def _with_features(
        self,
        columns: inputs.Columns,
        count: int,
        resolved: ResolvedVersion,
        checked_tables: frozenset[str],
        authority: SessionContext,
        assumed: AssumedVersions | None,
    ) -> dict[str, Sequence[Any]]:
        merged = dict(columns)  # looked-up columns replace the request's, never change them
        for spec in resolved.feature_lookups:
            table = normalize_full_name(spec.table_name, SecurableType.TABLE)
            if table not in checked_tables:
                raise PermissionDenied(
                    f"version {resolved.version} of MODEL '{resolved.model.full_name}' looks "
                    f"features up in TABLE '{table}', and SELECT on it was not checked for "
                    "this endpoint: update the endpoint's config (as someone with SELECT on it)"
                )
            self._lookup(merged, count, spec, table, authority, assumed)
        return merged

    def _lookup(
        self,
        columns: dict[str, Sequence[Any]],
        count: int,
        spec: FeatureLookupSpec,
        table: str,
        authority: SessionContext,
        assumed: AssumedVersions | None,
    ) -> None:
        layout = self.layouts.get(table, lambda: self.data.layout(table))
        key_columns = layout.lookup_columns
        if len(spec.lookup_key) != len(key_columns):
            raise InvalidParameter(
                f"feature lookup on '{table}' names {len(spec.lookup_key)} key column(s) but the "
                f"table is keyed by {len(key_columns)}"
            )
        keyed = {c.name.lower() for c in layout.key_columns}
        features = spec.feature_names or [
            c.name for c in layout.columns if c.name.lower() not in keyed
        ]
        outputs = [spec.output_name(f) for f in features]
        given = [columns.get(output) for output in outputs]
        wanted: Sequence[int]
        if all(values is None for values in given):  # the usual case: all looked up
            wanted = range(count)
        else:  # rows that give every feature themselves need no lookup
            wanted = [
                i
                for i in range(count)
                if any(values is None or inputs.absent(values[i]) for values in given)
            ]
            if not wanted:
                return
        keys = [
            self._key_column(columns, request_column, wanted, table)
            for request_column in spec.lookup_key
        ]
        # The layout may be a second old; the table's row filter and masks are read from
        # the namespace cache, which drops at once when any of them changes.
        current = self.data.namespace.cached_table(table) or self.data.namespace.get_table(table)
        access = self.row_access.for_caller(current, authority)
        found = self.data.latest_by_key(layout, keys, access, assumed)
        if None in found:
            self._unknown_key(found, keys, wanted, spec, table)
        for feature, output, values in zip(features, outputs, given, strict=True):
            at = layout.column_index.get(feature)
            looked = [None] * len(found) if at is None else [row[at] for row in found]
            if at is not None and layout.columns[at].type_name == "DECIMAL":
                looked = [None if v is None else float(v) for v in looked]
            if values is None and len(wanted) == count:
                columns[output] = looked
                continue
            # request values override looked-up values
            merged = list(values) if values is not None else [MISSING] * count
            for index, value in zip(wanted, looked, strict=True):
                if inputs.absent(merged[index]):
                    merged[index] = value
            columns[output] = merged

    @staticmethod
    def _key_column(
        columns: inputs.Columns, request_column: str, wanted: Sequence[int], table: str
    ) -> Sequence[Any]:
        """The request's values of one lookup key column, for the rows ``wanted``."""
        values = columns.get(request_column)
        if values is not None and isinstance(wanted, range) and len(wanted) == len(values):
            keys = values
        else:
            keys = [MISSING if values is None else values[i] for i in wanted]
        if None in keys or MISSING in keys:
            number = next(i for i, key in zip(wanted, keys, strict=True) if inputs.absent(key))
            raise InvalidParameter(
                f"row {number + 1}: missing lookup key '{request_column}' (needed to look "
                f"up features in '{table}')"
            )
        return keys

    @staticmethod
    def _unknown_key(
        found: list[Any],
        keys: list[Sequence[Any]],
        wanted: Sequence[int],
        spec: FeatureLookupSpec,
        table: str,
    ) -> None:
        at = found.index(None)
        shown = ", ".join(
            f"{name}={values[at]}" for name, values in zip(spec.lookup_key, keys, strict=True)
        )
        raise InvalidParameter(
            f"row {wanted[at] + 1}: unknown key {shown}: no row in feature table '{table}'"
        )
