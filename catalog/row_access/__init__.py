"""Access finer than a table: SQL functions, and the row filters and column masks built
on them (docs/row-access.md).

- :mod:`catalog.row_access.function_store`: where function definitions are kept.
- :mod:`catalog.row_access.functions`: creating, checking and reading SQL functions.
- :mod:`catalog.row_access.table_access`: a table's filter and masks, bound for one
  caller, as expression trees over its physical columns — what every read path (SQL,
  the rows lookup API, training sets, serving) puts between the caller and the rows.
"""
