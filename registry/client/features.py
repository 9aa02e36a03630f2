"""Feature tables from the Python client: ``FeatureLookup``, ``TrainingSet`` and the
point-in-time join, named and behaving as Databricks' ``FeatureEngineeringClient`` does.

::

    client.write_table("main.ml.customer_features", features_df)
    training_set = client.create_training_set(
        labels_df,  # customer_id, event_time, churned
        feature_lookups=[
            FeatureLookup("main.ml.customer_features", "customer_id",
                          feature_names=["support_calls"], timestamp_lookup_key="event_time",
                          lookback_window=timedelta(days=30)),
        ],
        label="churned",
    )
    train = training_set.load_df()  # labels_df's rows, in order, with support_calls joined
    client.register_model(model, "main.ml.churn", input_example=..., training_set=training_set)

A lookup with ``timestamp_lookup_key`` joins point-in-time: each row gets, per key, the
latest feature row whose time is not later than the row's own time (and, with a
``lookback_window``, not older than that time minus the window), so no row sees a value
from its future. Without it, each row gets the key's latest values. Nothing found is NaN.
The server does the lookups (``POST /api/2.1/steward/tables/{name}/lookup``, which needs
SELECT on the table); this module decides what to ask and puts the answers in place.
"""

from __future__ import annotations

import base64
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from registry.client.errors import invalid

#: Column types whose values come back as numbers.
_NUMERIC = {"BYTE", "SHORT", "INT", "LONG", "FLOAT", "DOUBLE", "DECIMAL"}
_FRACTION = {"FLOAT", "DOUBLE"}


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - pandas comes with the client extras
        raise ImportError("training sets need pandas: pip install pandas") from exc
    return pandas


# -- values as JSON ------------------------------------------------------------------------


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``; a time without offset is taken as UTC (as the server does)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds") + "Z"


def json_value(value: Any) -> Any:
    """A Python, numpy or pandas value as the rows API takes it: NaN, NaT, ``pd.NA`` and None
    are null; numpy scalars Python ones; times ISO 8601 UTC (nanoseconds floored to
    microseconds, never later); dates ``YYYY-MM-DD``; bytes base64; decimals numbers when
    exact; lists, arrays and mappings element by element."""
    if value is None or isinstance(value, str | bool | int):
        return value
    pandas = sys.modules.get("pandas")
    if pandas is not None and (value is pandas.NaT or value is pandas.NA):
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, np.datetime64 | np.timedelta64):
        if np.isnat(value):
            return None
        if isinstance(value, np.datetime64):
            return json_value(_pandas().Timestamp(value))
        raise TypeError("time spans (timedelta64) are not a column type")
    if isinstance(value, np.generic):
        return json_value(value.item())
    if isinstance(value, datetime):
        if pandas is not None and isinstance(value, pandas.Timestamp):
            value = value.floor("us").to_pydatetime()
        return utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None if value.is_nan() else str(value)
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_value(v) for v in value]
    raise TypeError(f"{type(value).__name__} values cannot be sent as JSON")


def json_records(data: Any) -> list[dict[str, Any]]:
    """A pandas DataFrame or an iterable of mappings as JSON-ready records."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        if len(set(data.columns)) != len(data.columns):
            raise invalid("the DataFrame has duplicate column names")
        names = [str(c) for c in data.columns]
        records = data.to_dict("records")
        rows_in: Iterable[Mapping[str, Any]] = (
            dict(zip(names, r.values(), strict=True)) for r in records
        )
    elif isinstance(data, Mapping | str | bytes):
        raise invalid("rows must be a DataFrame or a list of {column: value} records")
    else:
        rows_in = data
    out: list[dict[str, Any]] = []
    for number, row in enumerate(rows_in, start=1):
        if not isinstance(row, Mapping):
            raise invalid(f"row {number}: a row must be a mapping of column: value")
        converted: dict[str, Any] = {}
        for name, value in row.items():
            try:
                converted[str(name)] = json_value(value)
            except TypeError as exc:
                raise invalid(f"row {number}: column '{name}': {exc}") from None
        out.append(converted)
    return out


def parse_time(value: Any) -> datetime:
    """A time from the server (ISO 8601, ``Z``) or a date, as an aware UTC datetime."""
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        moment = datetime.fromisoformat(text)
    elif isinstance(value, datetime):
        moment = value
    else:
        moment = datetime(value.year, value.month, value.day)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# -- tables ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureTable:
    """What the client needs of a table (from ``GET /tables/{name}``): its columns, the
    primary key columns a lookup gives, and its timeseries column."""

    full_name: str
    #: Column name → type name (``LONG``, ``TIMESTAMP``, …), in table order.
    types: dict[str, str]
    lookup_columns: tuple[str, ...]
    timeseries: str | None

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> FeatureTable:
        columns = sorted(info.get("columns") or [], key=lambda c: c.get("position") or 0)
        keys: list[str] = []
        timeseries: str | None = None
        for constraint in info.get("table_constraints") or []:
            pk = constraint.get("primary_key_constraint")
            if pk:
                keys = list(pk.get("child_columns") or [])
                series = pk.get("timeseries_columns") or []
                timeseries = series[0] if series else None
        by_lower = {c["name"].lower(): c["name"] for c in columns}
        timeseries = by_lower.get(timeseries.lower()) if timeseries else None
        lookup = tuple(
            by_lower.get(k.lower(), k) for k in keys if timeseries is None or k != timeseries
        )
        return cls(
            full_name=str(info.get("full_name") or ""),
            types={c["name"]: str(c.get("type_name") or "STRING").upper() for c in columns},
            lookup_columns=lookup,
            timeseries=timeseries,
        )

    def column(self, name: str) -> str | None:
        """The table's spelling of a column name (names are case-insensitive)."""
        lowered = name.lower()
        return next((c for c in self.types if c.lower() == lowered), None)

    def frame(self, rows: Sequence[Mapping[str, Any] | None], index: Any = None) -> Any:
        """Rows (None: not found) as a DataFrame with the table's columns, typed."""
        pd = _pandas()
        data = {
            name: self.series([None if r is None else r.get(name) for r in rows], name, index)
            for name in self.types
        }
        return pd.DataFrame(data, index=index, columns=list(self.types))

    def series(self, values: list[Any], column: str, index: Any = None, name: str = "") -> Any:
        """Values of ``column`` as a pandas Series: times as datetimes (``TIMESTAMP`` in UTC),
        numbers as numbers, and anything missing as NaN."""
        pd = _pandas()
        kind = self.types[column]
        name = name or column
        if kind in ("TIMESTAMP", "TIMESTAMP_NTZ"):
            series = pd.to_datetime(
                pd.Series(values, index=index, dtype=object), utc=kind == "TIMESTAMP"
            )
            return series.rename(name)
        if kind in _FRACTION or (kind in _NUMERIC and any(v is None for v in values)):
            return pd.Series(
                [np.nan if v is None else float(v) for v in values],
                index=index,
                dtype="float64",
                name=name,
            )
        series = pd.Series(values, index=index, name=name)
        if series.dtype == object:
            series = series.where(series.notna(), np.nan)
        return series


# -- lookups ---------------------------------------------------------------------------------


def _names(value: str | Sequence[str] | None, what: str) -> list[str] | None:
    if value is None:
        return None
    names = [value] if isinstance(value, str) else list(value)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise invalid(f"{what} must be a column name or a non-empty list of column names")
    return names


@dataclass
class FeatureLookup:
    """Features of one feature table to join to a training DataFrame (Databricks'
    ``FeatureLookup``).

    ``lookup_key``: the DataFrame's column(s) holding the table's primary key (without its
    timeseries column), in the key's order. ``feature_names``: the table's columns to join
    (default: every column that is not a primary key column). ``timestamp_lookup_key``: the
    DataFrame's time column, for a point-in-time join on a timeseries table;
    ``lookback_window`` (a ``timedelta`` or seconds) then ignores values older than the row's
    time minus the window (zero: only values stamped exactly at the row's time).
    ``rename_outputs``: ``{feature: output column}``.
    """

    table_name: str
    lookup_key: str | list[str]
    feature_names: str | list[str] | None = None
    timestamp_lookup_key: str | None = None
    lookback_window: timedelta | float | None = None
    rename_outputs: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.table_name, str) or self.table_name.count(".") != 2:
            raise invalid(f"table_name '{self.table_name}' is not catalog.schema.table")
        self.lookup_key = _names(self.lookup_key, "lookup_key") or []
        self.feature_names = _names(self.feature_names, "feature_names")
        if self.timestamp_lookup_key is not None and not (
            isinstance(self.timestamp_lookup_key, str) and self.timestamp_lookup_key
        ):
            raise invalid("timestamp_lookup_key must be a column name")
        if self.lookback_window is not None:
            if not isinstance(self.lookback_window, timedelta):
                if isinstance(self.lookback_window, bool) or not isinstance(
                    self.lookback_window, int | float
                ):
                    raise invalid("lookback_window must be a timedelta or a number of seconds")
                self.lookback_window = timedelta(seconds=float(self.lookback_window))
            if self.lookback_window < timedelta(0):
                raise invalid("lookback_window must not be negative")
            if self.timestamp_lookup_key is None:
                raise invalid(
                    f"lookup on '{self.table_name}': lookback_window needs timestamp_lookup_key"
                )
        self.rename_outputs = dict(self.rename_outputs or {})

    def to_spec(self) -> dict[str, Any]:
        """What a model version records (``FeatureLookupSpec`` on the server)."""
        spec: dict[str, Any] = {"table_name": self.table_name, "lookup_key": list(self.lookup_key)}
        if self.feature_names is not None:
            spec["feature_names"] = list(self.feature_names)
        if self.timestamp_lookup_key is not None:
            spec["timestamp_lookup_key"] = self.timestamp_lookup_key
        if self.rename_outputs:
            spec["rename_outputs"] = dict(self.rename_outputs)
        return spec


@dataclass(frozen=True)
class _Feature:
    column: str  # the table's name for it
    output: str  # the training DataFrame's name for it


@dataclass(frozen=True)
class _Resolved:
    lookup: FeatureLookup  # with feature_names filled in
    table: FeatureTable
    features: tuple[_Feature, ...]


#: ``lookup_rows(table name, keys, as_of or None, lookback seconds or None)`` → rows.
LookupRows = Callable[
    [str, list[dict[str, Any]], list[str] | None, float | None], list[dict[str, Any] | None]
]


def _resolve(lookup: FeatureLookup, table: FeatureTable, df_columns: set[str]) -> _Resolved:
    name = lookup.table_name
    if not table.lookup_columns:
        raise invalid(f"'{name}' has no primary key, so features cannot be looked up in it")
    keys = list(lookup.lookup_key)
    if len(keys) != len(table.lookup_columns):
        raise invalid(
            f"lookup on '{name}': lookup_key {keys} gives {len(keys)} column(s) but the table "
            f"is keyed by {list(table.lookup_columns)}"
        )
    for column in [*keys, *([lookup.timestamp_lookup_key] if lookup.timestamp_lookup_key else [])]:
        if column not in df_columns:
            raise invalid(f"lookup on '{name}': the DataFrame has no column '{column}'")
    if lookup.timestamp_lookup_key and table.timeseries is None:
        raise invalid(
            f"lookup on '{name}': timestamp_lookup_key is set but the table has no TIMESERIES "
            "primary key column"
        )
    if lookup.feature_names is None:
        skip = {c.lower() for c in table.lookup_columns} | (
            {table.timeseries.lower()} if table.timeseries else set()
        )
        requested = [c for c in table.types if c.lower() not in skip]
    else:
        requested = list(lookup.feature_names)
    features: list[_Feature] = []
    renames = {k.lower(): v for k, v in (lookup.rename_outputs or {}).items()}
    for feature in requested:
        column = table.column(feature)
        if column is None:
            raise invalid(
                f"lookup on '{name}': '{feature}' is not a column of the table "
                f"(columns: {', '.join(table.types)})"
            )
        output = renames.pop(feature.lower(), feature)
        if not isinstance(output, str) or not output:
            raise invalid(f"lookup on '{name}': rename_outputs['{feature}'] must be a name")
        features.append(_Feature(column, output))
    if renames:
        raise invalid(
            f"lookup on '{name}': rename_outputs names {sorted(renames)}, which are not among "
            f"its features {requested}"
        )
    resolved = replace(lookup, feature_names=requested, rename_outputs=dict(lookup.rename_outputs))
    return _Resolved(resolved, table, tuple(features))


@dataclass
class TrainingSet:
    """A training DataFrame and the features to join to it; :meth:`load_df` joins them.
    Made by ``Client.create_training_set``."""

    df: Any = field(repr=False)
    _resolved: list[_Resolved] = field(repr=False)
    labels: list[str]
    exclude_columns: list[str]
    _lookup_rows: LookupRows = field(repr=False)
    _loaded: Any = field(default=None, repr=False)

    @property
    def feature_lookups(self) -> list[FeatureLookup]:
        """The lookups, with ``feature_names`` as resolved against the tables."""
        return [r.lookup for r in self._resolved]

    @property
    def feature_names(self) -> list[str]:
        """The joined features' output column names, in order."""
        return [f.output for r in self._resolved for f in r.features]

    def feature_specs(self) -> list[dict[str, Any]]:
        """What a model version trained on this set records."""
        return [lookup.to_spec() for lookup in self.feature_lookups]

    def load_df(self) -> Any:
        """The DataFrame's rows in their order (and index) with the features joined:
        the DataFrame's columns, then the features, then the label(s); ``exclude_columns``
        left out. Features are fetched once (unique keys, in batches) and kept."""
        if self._loaded is None:
            self._loaded = self._join()
        return self._loaded.copy()

    def _join(self) -> Any:
        pd = _pandas()
        df = self.df
        features: dict[str, Any] = {}
        for resolved in self._resolved:
            features.update(point_in_time(df, resolved, self._lookup_rows))
        labels = set(self.labels)
        order = [c for c in df.columns if c not in labels] + list(features) + self.labels
        joined = pd.concat([df, pd.DataFrame(features, index=df.index)], axis=1)
        excluded = set(self.exclude_columns)
        return joined[[c for c in order if c not in excluded]]


def point_in_time(df: Any, resolved: _Resolved, lookup_rows: LookupRows) -> dict[str, Any]:
    """One lookup's features for each row of ``df``: {output name: Series on df's index}.

    Each distinct (key, time) pair is asked once; a row whose key or time is missing gets
    NaN without asking.
    """
    lookup, table = resolved.lookup, resolved.table
    key_values = [df[c].tolist() for c in lookup.lookup_key]
    times = df[lookup.timestamp_lookup_key].tolist() if lookup.timestamp_lookup_key else None
    wanted: dict[tuple[Any, ...], int] = {}
    slots: list[int | None] = []
    for i in range(len(df)):
        try:
            key = tuple(json_value(values[i]) for values in key_values)
            moment = json_value(times[i]) if times is not None else None
        except TypeError as exc:
            raise invalid(f"lookup on '{table.full_name}': row {i + 1}: {exc}") from None
        if any(k is None for k in key) or (times is not None and moment is None):
            slots.append(None)
            continue
        if times is not None and not isinstance(moment, str):
            raise invalid(
                f"lookup on '{table.full_name}': row {i + 1}: "
                f"'{lookup.timestamp_lookup_key}' is not a time"
            )
        pair = (*key, moment)
        slots.append(wanted.setdefault(pair, len(wanted)))
    pairs = list(wanted)
    keys = [dict(zip(table.lookup_columns, pair[:-1], strict=True)) for pair in pairs]
    as_of = [str(pair[-1]) for pair in pairs] if times is not None else None
    window = lookup.lookback_window
    exact = window is not None and window == timedelta(0)
    seconds = window.total_seconds() if window is not None and not exact else None
    found = lookup_rows(table.full_name, keys, as_of, seconds) if pairs else []
    if exact and as_of is not None and table.timeseries is not None:
        stamp = table.timeseries
        found = [
            row if row is not None and parse_time(row[stamp]) == parse_time(moment) else None
            for row, moment in zip(found, as_of, strict=True)
        ]
    rows = [None if slot is None else found[slot] for slot in slots]
    return {
        f.output: table.series(
            [None if row is None else row.get(f.column) for row in rows],
            f.column,
            df.index,
            f.output,
        )
        for f in resolved.features
    }


def build_training_set(
    df: Any,
    feature_lookups: Sequence[FeatureLookup],
    label: str | Sequence[str] | None,
    exclude_columns: Sequence[str] | None,
    describe_table: Callable[[str], FeatureTable],
    lookup_rows: LookupRows,
) -> TrainingSet:
    """Check the lookups against the DataFrame and the tables (one description per table)
    and make the :class:`TrainingSet`; nothing is fetched until ``load_df``."""
    pd = _pandas()
    if not isinstance(df, pd.DataFrame):
        df = pd.DataFrame(list(df)) if not hasattr(df, "to_pandas") else df.to_pandas()
    if len(set(df.columns)) != len(df.columns):
        raise invalid("the DataFrame has duplicate column names")
    lookups = [_as_lookup(f) for f in feature_lookups]
    columns = {str(c) for c in df.columns}
    labels = _names(label, "label") or []
    excluded = list(_names(exclude_columns, "exclude_columns") or [])
    for name in labels:
        if name not in columns:
            raise invalid(f"label '{name}' is not a column of the DataFrame")
        if name in excluded:
            raise invalid(f"label '{name}' cannot be in exclude_columns")
    tables: dict[str, FeatureTable] = {}
    resolved: list[_Resolved] = []
    taken = {c.lower(): "a column of the DataFrame" for c in columns}
    for lookup in lookups:
        key = lookup.table_name.lower()
        if key not in tables:
            tables[key] = describe_table(lookup.table_name)
        one = _resolve(lookup, tables[key], columns)
        for feature in one.features:
            clash = taken.get(feature.output.lower())
            if clash:
                raise invalid(
                    f"feature '{feature.output}' of '{lookup.table_name}' has the same name as "
                    f"{clash}: give it another with rename_outputs={{'{feature.column}': '…'}}"
                )
            taken[feature.output.lower()] = f"feature '{feature.output}' of '{lookup.table_name}'"
        resolved.append(one)
    outputs = columns | {f.output for r in resolved for f in r.features}
    unknown = [c for c in excluded if c not in outputs]
    if unknown:
        raise invalid(f"exclude_columns names {unknown}, which are neither columns nor features")
    return TrainingSet(df, resolved, labels, excluded, lookup_rows)


def _as_lookup(value: Any) -> FeatureLookup:
    if isinstance(value, FeatureLookup):
        return value
    if isinstance(value, Mapping):
        return FeatureLookup(**value)
    keys = (
        "table_name",
        "lookup_key",
        "feature_names",
        "timestamp_lookup_key",
        "lookback_window",
        "rename_outputs",
    )
    if getattr(value, "table_name", None) is None:
        raise invalid(f"{value!r} is not a FeatureLookup")
    return FeatureLookup(**{k: getattr(value, k, None) for k in keys})
