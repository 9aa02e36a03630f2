"""One invocation: pick a served entity, resolve its version, look features up, predict.

Feature lookups (the version's ``feature_lookups``): each request row carries the lookup
keys (the columns named by ``lookup_key``, matched in order to the feature table's
primary key, timeseries column aside); the features (``feature_names``, or every
non-key column) are read by key in one query per feature table for the whole request —
the latest row of each key. Values the request gives itself override looked-up values.
A key with no row in the feature table is a 400 naming the table and the key, unless
the request gives every feature of that table itself. A null in the request counts as
not given (``dataframe_split`` has a value for every column of every row), so it is
looked up.

Authority: the endpoint serves with its creator's authority, checked when the config
was created or updated (EXECUTE on each model, SELECT on each feature table of the
versions served then). A version reached later through an alias that reads a feature
table nobody was checked for is refused (403) until the config is updated by someone
who may read it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from catalog.data.service import TableDataService, TableLayout
from catalog.errors import InvalidParameter, PermissionDenied
from catalog.names import normalize_full_name
from policy.securables import SecurableType
from registry.dependencies import FeatureLookupSpec
from registry.serving import inputs
from registry.serving.cache import ModelCache, ResolvedVersion, TtlCache
from registry.serving.config import EndpointConfig, ServedEntity

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
    def __init__(self, models: ModelCache, data: TableDataService) -> None:
        self.models = models
        self.data = data
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
        return True

    def invoke(
        self, config: EndpointConfig, checked_tables: frozenset[str], request: inputs.Request
    ) -> Outcome:
        entity = pick(config)
        resolved = self.models.resolve(entity)
        predictor = self.models.predictor(resolved)
        try:
            if resolved.columns is not None:
                records = inputs.named(request, resolved.columns)
                if resolved.feature_lookups:
                    records = self._with_features(records, resolved, checked_tables)
                output = predictor.predict(records)
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
        records: list[dict[str, Any]],
        resolved: ResolvedVersion,
        checked_tables: frozenset[str],
    ) -> list[dict[str, Any]]:
        merged = [dict(r) for r in records]
        for spec in resolved.feature_lookups:
            table = normalize_full_name(spec.table_name, SecurableType.TABLE)
            if table not in checked_tables:
                raise PermissionDenied(
                    f"version {resolved.version} of MODEL '{resolved.model.full_name}' looks "
                    f"features up in TABLE '{table}', and SELECT on it was not checked for "
                    "this endpoint: update the endpoint's config (as someone with SELECT on it)"
                )
            self._lookup(merged, spec, table)
        return merged

    def _lookup(self, rows: list[dict[str, Any]], spec: FeatureLookupSpec, table: str) -> None:
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
        wanted: list[int] = []
        keys: list[dict[str, Any]] = []
        for index, row in enumerate(rows):
            if all(row.get(spec.output_name(f)) is not None for f in features):
                continue  # the request gives every feature itself
            key: dict[str, Any] = {}
            for request_column, column in zip(spec.lookup_key, key_columns, strict=True):
                if row.get(request_column) is None:
                    raise InvalidParameter(
                        f"row {index + 1}: missing lookup key '{request_column}' (needed to look "
                        f"up features in '{table}')"
                    )
                key[column.name] = row[request_column]
            wanted.append(index)
            keys.append(key)
        if not keys:
            return
        found = self.data.lookup_in(layout, keys)
        for index, key, values in zip(wanted, keys, found, strict=True):
            row = rows[index]
            if values is None:
                shown = ", ".join(
                    f"{k}={v}" for k, v in zip(spec.lookup_key, key.values(), strict=True)
                )
                raise InvalidParameter(
                    f"row {index + 1}: unknown key {shown}: no row in feature table '{table}'"
                )
            for feature in features:
                output = spec.output_name(feature)
                if row.get(output) is None:  # request values override looked-up values
                    value = values.get(feature)
                    row[output] = float(value) if isinstance(value, Decimal) else value
