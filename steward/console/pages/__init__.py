"""The console's pages, a router each: sign-in, the catalog explorer, permissions, SQL,
the audit log, lineage and serving endpoints."""

from __future__ import annotations

from steward.console.pages import audit, auth, explorer, lineage, permissions, serving, sql

PAGE_ROUTERS = (
    auth.router,
    explorer.router,
    permissions.router,
    sql.router,
    audit.router,
    lineage.router,
    serving.router,
)
