"""The web console in a real browser: Debian's Chromium, headless, driven by Playwright.

Each test signs in as a real user of a real server and does what a person would: browse to
a table, grant and revoke (and sees it take effect for another user), run SQL with an
error, follow the audit log while something happens, open and expand a lineage graph,
invoke an endpoint from its form. Every request the browser makes is watched: one that
would leave the machine fails the test (the console must work offline).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.registry.test_serving import World, feature_world
from tests.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ServerHandle,
    database_url_for,
    start_server,
    unique,
)

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.slow


def sql(client: httpx.Client, statement: str) -> list[list[Any]]:
    answer = client.post("/api/2.0/sql/statements", json={"statement": statement})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"]["state"] == "SUCCEEDED", (statement, body)
    return body.get("result", {}).get("data_array", [])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    directory = tmp_path_factory.mktemp("console")
    with database_url_for("sqlite", directory) as url:
        handle = start_server(url, directory / "storage")
        try:
            yield handle
        finally:
            handle.stop()


def wait_until(page: Any, expression: str, timeout: float = 15.0) -> None:
    """Poll ``expression`` in the page until it is true. (Playwright's wait_for_function
    evaluates its predicate with eval, which the console's Content-Security-Policy
    refuses, as it should.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        time.sleep(0.05)


class Browser:
    """One headless Chromium for the module; a fresh context (cookies, storage) per test."""

    def __init__(self) -> None:
        if not Path(CHROMIUM).exists():
            pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
        self.playwright = sync_api.sync_playwright().start()
        self.browser = self.playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )

    def close(self) -> None:
        self.browser.close()
        self.playwright.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    opened = Browser()
    yield opened
    opened.close()


class Session:
    """A browser context signed in (or not) to ``server``, recording where it went."""

    def __init__(self, browser: Browser, server: ServerHandle) -> None:
        self.server = server
        self.context = browser.browser.new_context(
            base_url=server.url, viewport={"width": 1280, "height": 800}
        )
        self.outside: list[str] = []
        self.context.route("**/*", self._only_local)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)

    def _only_local(self, route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def sign_in(self, token: str) -> None:
        self.page.goto("/")
        assert "/console/signin" in self.page.url
        self.page.fill("#token", token)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(re.compile(r"^(?!.*signin).*$"))

    def cookie(self, name: str) -> dict[str, Any] | None:
        return next((c for c in self.context.cookies() if c["name"] == name), None)

    def close(self) -> None:
        self.context.close()
        assert self.outside == [], f"requests left the machine: {self.outside}"


@pytest.fixture
def session(browser: Browser, server: ServerHandle) -> Iterator[Session]:
    opened = Session(browser, server)
    yield opened
    opened.close()


@pytest.fixture
def other(browser: Browser, server: ServerHandle) -> Iterator[Session]:
    opened = Session(browser, server)
    yield opened
    opened.close()


# -- sign-in, cookie, CSRF ---------------------------------------------------------------------


def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_revokes_it(
    session: Session, server: ServerHandle
) -> None:
    page = session.page
    page.goto("/console/signin")
    page.fill("#token", "dapi-not-a-token")
    page.click("button[type=submit]")
    assert "not valid" in page.locator(".error").inner_text()
    session.sign_in(server.admin_token)
    assert page.locator("h1").inner_text() == "Catalogs"
    cookie = session.cookie("steward_session")
    assert cookie is not None
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["secure"] is False  # plain HTTP here; over TLS it is Secure
    assert 7.9 * 3600 < cookie["expires"] - time.time() <= 8 * 3600
    # The session is a token of the admin's own, listed as such; the page script cannot read it.
    assert page.evaluate("document.cookie").find("steward_session") == -1
    session_token = cookie["value"].partition(":")[2]
    me = server.client(session_token).get("/api/2.0/preview/scim/v2/Me")
    assert me.status_code == 200
    page.click("form.signout button")
    page.wait_for_url(re.compile(r".*/console/signin"))
    assert session.cookie("steward_session") is None
    assert server.client(session_token).get("/api/2.0/preview/scim/v2/Me").status_code == 401
    page.goto("/console/sql")
    assert "/console/signin" in page.url  # signed out means signed out
    # A session whose token is revoked elsewhere ends at the next page.
    session.sign_in(server.admin_token)
    cookie = session.cookie("steward_session")
    assert cookie is not None
    token_id, _, token = cookie["value"].partition(":")
    revoked = server.client(token).post("/api/2.0/token/delete", json={"token_id": token_id})
    assert revoked.status_code == 200, revoked.text
    page.goto("/")
    assert "/console/signin" in page.url
    assert session.cookie("steward_session") is None


def test_every_form_needs_its_csrf_token(session: Session, server: ServerHandle) -> None:
    session.sign_in(server.admin_token)
    cookie = session.cookie("steward_session")
    assert cookie is not None
    jar = {"steward_session": cookie["value"]}
    with httpx.Client(base_url=server.url, cookies=jar) as forged:
        refused = forged.post("/console/sql/run", data={"statement": "CREATE CATALOG forged"})
        assert refused.status_code == 403 and "CSRF" in refused.text
        wrong = forged.post(
            "/console/sql/run",
            data={"statement": "CREATE CATALOG forged", "csrf_token": "0" * 64},
        )
        assert wrong.status_code == 403
        # The sign-in form itself needs the nonce of its own cookie.
        assert forged.post("/console/signin", data={"token": server.admin_token}).status_code == 403
        # A form with a value it does not take is a 400 page, not a traceback.
        csrf = forged.get("/console/sql").text.split('name="csrf-token" content="')[1][:64]
        bad = forged.post(
            "/console/permissions/table/a.b.c",
            data={"action": "steal", "principal": "x", "privilege": "SELECT"},
            headers={"x-csrf-token": csrf},
        )
        assert bad.status_code == 400 and "action" in bad.text
        # Every console page says: no framing, only this site's scripts.
        headers = forged.get("/").headers
        assert headers["x-frame-options"] == "DENY"
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
    names = [row[0] for row in sql(server.admin, "SHOW CATALOGS")]
    assert "forged" not in names


# -- the catalog explorer and permissions -------------------------------------------------------


def _table_world(server: ServerHandle) -> tuple[str, str]:
    catalog = unique("cx")
    table = f"{catalog}.sales.orders"
    admin = server.admin
    sql(admin, f"CREATE CATALOG {catalog} COMMENT 'console tests'")
    sql(admin, f"CREATE SCHEMA {catalog}.sales")
    sql(
        admin,
        f"CREATE TABLE {table} (id BIGINT NOT NULL COMMENT 'order id', ssn STRING, amount DOUBLE)",
    )
    sql(admin, f"ALTER TABLE {table} ALTER COLUMN ssn SET TAGS ('pii' = 'ssn')")
    sql(admin, f"INSERT INTO {table} VALUES (1, '111-11-1111', 9.5)")
    return catalog, table


def test_browse_to_a_table_and_grant_and_revoke_for_another_user(
    session: Session, server: ServerHandle
) -> None:
    catalog, table = _table_world(server)
    analyst, analyst_token = server.create_user()
    analyst_api = server.client(analyst_token)
    sql(server.admin, f"GRANT USE CATALOG ON CATALOG {catalog} TO `{analyst}`")
    sql(server.admin, f"GRANT USE SCHEMA ON SCHEMA {catalog}.sales TO `{analyst}`")
    session.sign_in(server.admin_token)
    page = session.page
    page.click(f"text={catalog}")
    page.click("text=sales")
    page.click("a:text-is('orders')")
    assert page.locator("h1").inner_text().startswith("Table")
    columns = page.locator("table.columns")
    assert "order id" in columns.inner_text() and "BIGINT" in columns.inner_text().upper()
    assert "pii=ssn" in columns.inner_text()
    # The picker offers a table's privileges only (the tab loads after the page).
    page.wait_for_selector("#grant-privilege option", state="attached")
    options = page.locator("#grant-privilege option").all_inner_texts()
    assert "SELECT" in options and "MODIFY" in options and "USE CATALOG" not in options
    query = {"statement": f"SELECT count(*) FROM {table}"}
    before = analyst_api.post("/api/2.0/sql/statements", json=query).json()
    assert before["status"]["state"] == "FAILED"
    page.fill("#grant-principal", analyst)
    page.select_option("#grant-privilege", "SELECT")
    page.click("form.grant button")
    page.wait_for_selector(f"text=Granted SELECT to {analyst}")
    after = analyst_api.post("/api/2.0/sql/statements", json=query).json()
    assert after["status"]["state"] == "SUCCEEDED", after
    page.click(f"button[aria-label='Revoke SELECT from {analyst}']")
    page.wait_for_selector(f"text=Revoked SELECT from {analyst}")
    again = analyst_api.post("/api/2.0/sql/statements", json=query).json()
    assert again["status"]["state"] == "FAILED"
    # The grant and the revoke are in the audit log as the admin's, from the console.
    events = server.admin.get(
        "/api/2.1/steward/audit", params={"action": "updatePermissions", "object": table}
    ).json()["events"]
    assert len(events) >= 2
    assert all("steward-console" in (e.get("user_agent") or "") for e in events[:2])


def test_a_user_only_sees_what_they_may(session: Session, server: ServerHandle) -> None:
    catalog, table = _table_world(server)
    _, token = server.create_user()
    session.sign_in(token)
    page = session.page
    assert catalog not in page.locator("main").inner_text()
    assert "No catalog you can see yet" in page.locator("main").inner_text()
    page.goto(f"/console/tables/{table}")
    assert "Not found" in page.locator("h1").inner_text()
    page.goto(f"/console/search?q={catalog}")
    assert "Nothing you can see" in page.locator("main").inner_text()


# -- SQL -----------------------------------------------------------------------------------------


def test_sql_results_errors_with_their_position_and_history(
    session: Session, server: ServerHandle
) -> None:
    session.sign_in(server.admin_token)
    page = session.page
    page.goto("/console/sql")
    page.fill("#statement", "SELECT 1 AS one, 'x' AS two")
    page.click("#sql-form button[type=submit]")
    page.wait_for_selector("table.results")
    assert page.locator("table.results").inner_text().split() == ["one", "two", "1", "x"]
    page.fill("#statement", "SELECT 1\nFORM nowhere")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(".sql-error")
    marked = page.locator(".line.marked")
    assert marked.get_attribute("data-line") == "2"
    assert page.locator("mark.at").count() == 1
    history = page.locator("#sql-history li").all_inner_texts()
    assert len(history) == 2 and history[0].startswith("SELECT 1") and "FORM" in history[0]
    assert history[1] == "SELECT 1 AS one, 'x' AS two"


# -- audit -----------------------------------------------------------------------------------------


def test_the_audit_log_follows_live_and_shows_the_chain_verified(
    session: Session, server: ServerHandle
) -> None:
    session.sign_in(server.admin_token)
    page = session.page
    page.goto("/console/audit")
    page.click("text=Verify the chain now")
    page.wait_for_selector("text=Chain verified")
    page.check("#follow-toggle")
    catalog = unique("followed")
    time.sleep(0.5)
    sql(server.admin, f"CREATE CATALOG {catalog}")
    page.wait_for_selector(f"#audit-rows td:text-is('{catalog}')", timeout=10_000)
    # Filtered as in the CLI: only failures.
    page.goto("/console/audit?failed=true")
    statuses = page.locator("#audit-rows tr td:nth-child(5)").all_inner_texts()
    assert statuses and all(int(s.split()[0]) >= 400 for s in statuses)


# -- lineage and serving ---------------------------------------------------------------------------


@pytest.fixture
def served(server: ServerHandle, tmp_path: Path) -> Iterator[tuple[World, str]]:
    world = World(server, tmp_path)
    name = feature_world(world)
    yield world, name
    world.close()


def test_lineage_of_a_served_model_from_feature_table_to_endpoint(
    session: Session, server: ServerHandle, served: tuple[World, str]
) -> None:
    world, endpoint = served
    session.sign_in(server.admin_token)
    page = session.page
    page.goto(f"/console/lineage?name={endpoint}")
    page.wait_for_selector("#graph[data-rendered=true]")
    status = page.locator("#graph-status").inner_text()
    assert status.startswith("2 nodes")  # the endpoint and the model version it serves
    # Select the model node with the keyboard (left of the endpoint) and expand upstream.
    page.focus("#graph")
    page.keyboard.press("ArrowLeft")
    assert world.model in page.locator("#node-panel h2").inner_text()
    page.keyboard.press("u")
    wait_until(page, "document.getElementById('graph-status').textContent.startsWith('3 nodes')")
    page.keyboard.press("ArrowLeft")
    assert page.locator("#node-panel h2").inner_text() == world.feats


def test_a_hidden_upstream_is_a_placeholder(
    session: Session, server: ServerHandle, served: tuple[World, str]
) -> None:
    world, endpoint = served
    # The consumer may QUERY the endpoint but see neither the model nor the feature table.
    session.sign_in(world.consumer_token)
    page = session.page
    page.goto(f"/console/lineage?name={endpoint}")
    page.wait_for_selector("#graph[data-rendered=true]")
    page.focus("#graph")
    page.keyboard.press("ArrowLeft")
    assert page.locator("#node-panel h2").inner_text() == "Hidden object"
    assert world.model not in page.content()


def test_invoke_an_endpoint_from_its_form(
    session: Session, server: ServerHandle, served: tuple[World, str]
) -> None:
    world, endpoint = served
    session.sign_in(world.consumer_token)
    page = session.page
    page.goto("/console/serving")
    page.click(f"text={endpoint}")
    # The form is the query schema: the lookup key, and the model's inputs (a is looked
    # up by id when left out). The consumer may not read the model: QUERY is enough.
    labels = page.locator("form.invoke label").all_inner_texts()
    assert [label.split()[0] for label in labels] == ["id", "a", "b"]
    page.fill("input[name='input:id']", "3")
    page.fill("input[name='input:b']", "2.0")
    page.click("form.invoke button")
    page.wait_for_selector("pre.answer")
    answer = page.locator("pre.answer").inner_text()
    assert '"predictions"' in answer and "9.0" in answer  # 5 + 2*3.0 (a of id 3) - 1*2


# -- wide and large lineage graphs -------------------------------------------------------------


def _event(inputs: list[dict[str, str]], outputs: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-12-06T10:00:00Z",
        "run": {"runId": unique("run")},
        "job": {"namespace": "tests", "name": unique("job")},
        "inputs": inputs,
        "outputs": outputs,
    }


def _lineage_root(server: ServerHandle) -> tuple[str, dict[str, str]]:
    catalog = unique("lin")
    for statement in (
        f"CREATE CATALOG {catalog}",
        f"CREATE SCHEMA {catalog}.s",
        f"CREATE TABLE {catalog}.s.root (id BIGINT)",
    ):
        sql(server.admin, statement)
    root = f"{catalog}.s.root"
    return root, {"namespace": "steward", "name": root}


def test_a_wide_layer_is_paged(session: Session, server: ServerHandle) -> None:
    root, node = _lineage_root(server)
    outputs = [{"namespace": "s3", "name": f"wide/{index:03d}"} for index in range(100)]
    assert server.admin.post("/api/v1/lineage", json=_event([node], outputs)).status_code == 201
    session.sign_in(server.admin_token)
    page = session.page
    page.goto(f"/console/lineage?name={root}")
    page.wait_for_selector("#graph[data-rendered=true]")
    count = "window.stewardLineage.cy.nodes().length"
    assert page.evaluate(count) == 1 + 40 + 1  # the root, a page, and "+60 more"
    more = page.evaluate("window.stewardLineage.cy.nodes('[?more]').map(n => n.data('label'))")
    assert more == ["+60 more\u2026"]
    page.evaluate("() => { window.stewardLineage.cy.nodes('[?more]').first().emit('tap'); }")
    page.click("#node-panel button:text-is('Show them')")
    wait_until(page, f"{count} === 1 + 80 + 1")
    page.evaluate("() => { window.stewardLineage.cy.nodes('[?more]').first().emit('tap'); }")
    page.click("#node-panel button:text-is('Show them')")
    wait_until(page, f"{count} === 101")


def test_a_graph_of_a_thousand_nodes_renders_and_expands(
    session: Session, server: ServerHandle
) -> None:
    """1,111 nodes three levels deep, then one more level under a leaf. The timings are
    printed (benchmarks/console_lineage.py measures them); the test checks the work."""
    root, node = _lineage_root(server)
    level = [node]
    for depth in range(1, 4):
        below = []
        for index, parent in enumerate(level):
            children = [
                {"namespace": "s3", "name": f"tree/{depth}/{index}/{child}"} for child in range(10)
            ]
            posted = server.admin.post("/api/v1/lineage", json=_event([parent], children))
            assert posted.status_code == 201, posted.text
            below += children
        level = below
    leaf = level[0]
    extra = [{"namespace": "s3", "name": f"tree/4/{child}"} for child in range(5)]
    assert server.admin.post("/api/v1/lineage", json=_event([leaf], extra)).status_code == 201
    session.sign_in(server.admin_token)
    page = session.page
    page.goto(f"/console/lineage?name={root}&depth=3")
    page.wait_for_selector("#graph[data-rendered=true]", timeout=60_000)
    assert page.evaluate("window.stewardLineage.cy.nodes().length") == 1111
    leaf_id = page.evaluate(
        f"window.stewardLineage.cy.nodes().filter(n => n.data('name') === 's3/{leaf['name']}')"
        ".first().id()"
    )
    assert leaf_id, "the leaf is on the graph"
    page.evaluate(f"window.stewardLineage.expand({leaf_id!r}, 'downstream')")
    wait_until(page, "window.stewardLineage.cy.nodes().length === 1116", timeout=30)
    # Still responsive: a click selects and describes a node at once.
    page.evaluate(f"() => {{ window.stewardLineage.cy.getElementById({leaf_id!r}).emit('tap'); }}")
    assert page.locator("#node-panel h2").inner_text() == f"s3/{leaf['name']}"
    timings = page.evaluate("window.stewardLineageTimings")
    print(
        f"lineage of 1,111 nodes: first render {timings['firstRender']:.0f} ms, "
        f"expand {timings['expansions'][0]:.0f} ms"
    )


# -- the API's own documentation, offline -------------------------------------------------------


def test_the_api_docs_load_from_the_package(session: Session, server: ServerHandle) -> None:
    page = session.page
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .info .title")
    assert "Steward" in page.locator(".swagger-ui .info .title").inner_text()
    html = httpx.get(f"{server.url}/docs").text
    assert "/console/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()


def test_pages_fit_a_narrow_window_and_copy_full_names(
    session: Session, server: ServerHandle
) -> None:
    catalog, table = _table_world(server)
    session.sign_in(server.admin_token)
    page = session.page
    page.set_viewport_size({"width": 420, "height": 800})
    page.goto(f"/console/tables/{table}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    copy = page.locator(f"h1 button.copy[data-copy='{table}']")
    assert copy.count() == 1
    # Keyboard: "/" goes to the search box, Enter searches.
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.type(catalog)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/console/search\?q="))
    assert table in page.locator("main").inner_text()


def test_column_lineage_on_demand(session: Session, server: ServerHandle) -> None:
    catalog, table = _table_world(server)
    copy = f"{catalog}.sales.order_totals"
    sql(server.admin, f"CREATE TABLE {copy} AS SELECT id, amount * 2 AS doubled FROM {table}")
    session.sign_in(server.admin_token)
    page = session.page
    page.goto(f"/console/lineage?name={table}")
    page.wait_for_selector("#graph[data-rendered=true]")
    assert "sql \u00d71" in page.locator("#node-panel").inner_text()  # the edge, its kind and count
    page.focus("#graph")
    page.keyboard.press("c")
    page.wait_for_selector("#column-edges li")
    listed = page.locator("#column-edges li").all_inner_texts()
    assert f"{table}.amount \u2192 {copy}.doubled (sql \u00d71)" in listed
    assert f"{table}.id \u2192 {copy}.id (sql \u00d71)" in listed
