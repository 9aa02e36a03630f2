"""Screenshots of each console page, for docs/console.md: ``make console-screenshots``.

Starts a throwaway server (SQLite, a temporary directory), fills it with a small example
— a catalog with a tagged, masked table, a view, grants, lineage from the table to a model
and a serving endpoint — signs in with headless Chromium (Debian's ``chromium``) at
1280×800 and saves one PNG per page in ``docs/console/``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import CHROMIUM, CHROMIUM_ARGS, start_server  # noqa: E402

OUT = ROOT / "docs" / "console"
SETUP = [
    "CREATE CATALOG main COMMENT 'production data'",
    "CREATE SCHEMA main.sales COMMENT 'orders and customers'",
    "CREATE TABLE main.sales.customers (id BIGINT NOT NULL COMMENT 'customer id', "
    "region STRING, ssn STRING COMMENT 'social security number', lifetime_value DOUBLE, "
    "CONSTRAINT customers_pk PRIMARY KEY (id)) COMMENT 'one row per customer'",
    "CREATE FUNCTION main.sales.ssn_mask(s STRING) RETURN CASE WHEN is_member('hr') THEN s "
    "ELSE '***-**-****' END",
    "ALTER TABLE main.sales.customers ALTER COLUMN ssn SET MASK main.sales.ssn_mask",
    "ALTER TABLE main.sales.customers ALTER COLUMN ssn SET TAGS ('pii' = 'ssn')",
    "ALTER TABLE main.sales.customers SET TAGS ('domain' = 'sales')",
    "INSERT INTO main.sales.customers VALUES (1, 'EU', '111-11-1111', 120.5), "
    "(2, 'US', '222-22-2222', 80.0)",
    "CREATE TABLE main.sales.eu_customers AS SELECT id, lifetime_value FROM "
    "main.sales.customers WHERE region = 'EU'",
    "CREATE VIEW main.sales.top_customers AS SELECT id, lifetime_value FROM "
    "main.sales.customers WHERE lifetime_value > 100",
    "CREATE GROUP analysts",
    "GRANT USE CATALOG ON CATALOG main TO analysts",
    "GRANT USE SCHEMA, SELECT ON SCHEMA main.sales TO analysts",
]


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        server = start_server(f"sqlite:///{root / 'steward.db'}", root / "storage")
        try:
            admin = server.admin
            for statement in SETUP:
                answer = admin.post("/api/2.0/sql/statements", json={"statement": statement})
                assert answer.json()["status"]["state"] == "SUCCEEDED", answer.text
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                page = browser.new_context(
                    base_url=server.url, viewport={"width": 1280, "height": 800}
                ).new_page()
                page.goto("/console/signin")
                page.screenshot(path=OUT / "signin.png")
                page.fill("#token", server.admin_token)
                page.click("button[type=submit]")
                page.wait_for_url(f"{server.url}/")
                page.screenshot(path=OUT / "catalogs.png")
                page.goto("/console/tables/main.sales.customers")
                page.wait_for_selector("#permissions table")
                page.screenshot(path=OUT / "table.png", full_page=True)
                page.locator("#permissions").scroll_into_view_if_needed()
                page.locator("#permissions").screenshot(path=OUT / "permissions.png")
                page.goto("/console/sql")
                page.fill("#statement", "SELECT region, count(*) AS n\nFORM main.sales.customers")
                page.click("#sql-form button[type=submit]")
                page.wait_for_selector(".sql-error")
                page.screenshot(path=OUT / "sql-error.png")
                page.goto("/console/lineage?name=main.sales.customers&depth=2")
                page.wait_for_selector("#graph[data-rendered=true]")
                page.screenshot(path=OUT / "lineage.png")
                page.goto("/console/serving")
                page.screenshot(path=OUT / "serving.png")
                page.goto("/console/audit")
                page.click("text=Verify the chain now")
                page.wait_for_selector("text=Chain verified")
                page.screenshot(path=OUT / "audit.png")
                browser.close()
        finally:
            server.stop()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
