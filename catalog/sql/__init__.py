"""SQL statements over the catalog (SPEC §5): parse, authorize, execute."""

from catalog.sql.executor import StatementExecutor, StatementResult

__all__ = ["StatementExecutor", "StatementResult"]
