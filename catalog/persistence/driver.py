"""Statements compiled once by SQLAlchemy and run on the driver's own cursor.

SQLAlchemy's Core execution costs 60–90 µs a statement on a small VM (an execution
context, parameter processing, a result object), more than SQLite or a loopback
PostgreSQL need to run a one-row statement. Every serving request runs four such
statements (its feature table's data version; the audit append's lane read, insert and
head move), so those run here instead.

Nothing else changes: the statement is a SQLAlchemy construct compiled for the
connection's dialect (never SQL put together from strings), each parameter goes through
its column type's own bind processor for the dialect (``TypeEngine.dialect_impl`` and
``bind_processor``, public API: what SQLAlchemy's execution applies), and it
runs on the DBAPI connection of the caller's SQLAlchemy connection — in its transaction.
Rows read with :meth:`DriverStatement.all` go through each selected column's result
processor for the dialect (``result_processor``, as SQLAlchemy's results apply it: JSON
text parsed on SQLite, say). Only plain statements qualify: no expanding ``IN``
parameters (an ``IN`` of a fixed number of parameters is plain).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.expression import Executable


@dataclass(frozen=True)
class _Compiled:
    sql: str
    #: Parameter names in the order the SQL takes them (positional drivers), or all names.
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool
    #: Values the statement carries itself (``lane == 0``): used when not given.
    defaults: dict[str, Any]

    def bind(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        given = {**self.defaults, **params} if self.defaults else params
        values = [
            value if process is None else process(value)
            for value, process in zip(
                (given[name] for name in self.names), self.processors, strict=True
            )
        ]
        return values if self.positional else dict(zip(self.names, values, strict=True))


class DriverStatement:
    """``statement`` (with ``column_keys`` for an INSERT: the columns it sets), compiled
    once per dialect on first use."""

    def __init__(self, statement: Executable, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.column_keys = list(column_keys) if column_keys is not None else None
        self._compiled: dict[str, _Compiled] = {}
        self._results: dict[str, tuple[Callable[[Any], Any] | None, ...]] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is not None:
            return found
        compiled = self.statement.compile(dialect=dialect, column_keys=self.column_keys)
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        if any(bind.expanding for bind in binds.values()):
            raise ValueError("expanding parameters need SQLAlchemy's execution")
        names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(binds)
        found = _Compiled(
            sql=compiled.string,
            names=names,
            # The dialect's own type (SQLite's DATETIME formats a datetime as text, say).
            processors=tuple(
                binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
            ),
            positional=bool(compiled.positional),
            defaults={
                name: bind.value
                for name, bind in binds.items()
                if bind.value is not None and not bind.required
            },
        )
        self._compiled[dialect.name] = found
        return found

    def execute(self, connection: Connection, params: Mapping[str, Any]) -> Any:
        """Run with ``params`` on ``connection``'s DBAPI connection; the DBAPI cursor."""
        compiled = self._for(connection.dialect)
        cursor = connection.connection.cursor()
        cursor.execute(compiled.sql, compiled.bind(params))
        return cursor

    def executemany(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per row. One row is a plain execute: psycopg runs ``executemany`` in
        pipeline mode, whose machinery (Python, and a sync with the server) cost a
        single row more than the statement did."""
        compiled = self._for(connection.dialect)
        cursor = connection.connection.cursor()
        try:
            if len(rows) == 1:
                cursor.execute(compiled.sql, compiled.bind(rows[0]))
            else:
                cursor.executemany(compiled.sql, [compiled.bind(row) for row in rows])
        finally:
            cursor.close()

    def all(self, connection: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows, each value through its column's result processor."""
        cursor = self.execute(connection, params)
        try:
            rows = cursor.fetchall()
            processors = self._processors(connection.dialect, cursor.description)
        finally:
            cursor.close()
        if not any(processors):
            return [tuple(row) for row in rows]
        return [
            tuple(
                value if process is None or value is None else process(value)
                for value, process in zip(row, processors, strict=True)
            )
            for row in rows
        ]

    def _processors(
        self, dialect: Dialect, description: Sequence[Sequence[Any]]
    ) -> tuple[Callable[[Any], Any] | None, ...]:
        """Worked out on the first result per dialect, from the driver's own type codes
        (some processors depend on them)."""
        found = self._results.get(dialect.name)
        if found is None:
            # A SELECT's columns, or what a DELETE … RETURNING returns.
            columns = list(
                getattr(self.statement, "selected_columns", None)
                or getattr(self.statement, "exported_columns", ())
            )
            if len(columns) != len(description):
                raise ValueError("rows of this statement are not its selected columns")
            found = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, entry[1])
                for column, entry in zip(columns, description, strict=True)
            )
            self._results[dialect.name] = found
        return found

    def first(self, connection: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        cursor = self.execute(connection, params)
        try:
            row = cursor.fetchone()
        finally:
            cursor.close()
        return tuple(row) if row is not None else None
