"""SQL statements over the catalog (docs/sql.md): parse, authorize, execute."""

from catalog.sql.executor import StatementExecutor, StatementResult

__all__ = ["StatementExecutor", "StatementResult"]
