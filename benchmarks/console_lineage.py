"""The console's lineage graph at 1,111 nodes, in Debian's headless Chromium.

A throwaway server gets a lineage tree of ``--fanout`` children per node over three levels
below one catalog table (10 → 1,111 nodes), recorded through the OpenLineage endpoint.
The console then opens the table's lineage three levels deep, as a user would, and the
browser reports (``window.stewardLineageTimings``):

- **answer arrived**: from the page's request for the graph to its JSON parsed;
- **placed**: the console's column layout of that answer and adding its elements;
- **first render**: from the request to the first frame drawn with every node placed;
- **expand**: expanding a leaf one level downstream (a request, the merge, the frame);
- the same graph laid out again by Cytoscape's stock ``breadthfirst`` layout, the peer: a
  general layout any Cytoscape page would reach for, timed in the same page (its elements
  already added, so it is compared with *placed*, which adds them too).

    .venv/bin/python -m benchmarks.console_lineage [--fanout 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import log
from tests.support import CHROMIUM, CHROMIUM_ARGS, start_server


def _event(inputs: list[dict[str, str]], outputs: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-12-06T10:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "bench", "name": f"job-{uuid.uuid4().hex[:8]}"},
        "inputs": inputs,
        "outputs": outputs,
    }


def build_tree(admin: httpx.Client, fanout: int) -> tuple[str, int]:
    """A catalog table with ``fanout``³ descendants over three levels; (its name, nodes)."""
    for statement in (
        "CREATE CATALOG IF NOT EXISTS bench",
        "CREATE SCHEMA IF NOT EXISTS bench.lin",
        "CREATE TABLE IF NOT EXISTS bench.lin.root (id BIGINT)",
    ):
        answer = admin.post("/api/2.0/sql/statements", json={"statement": statement}).json()
        assert answer["status"]["state"] == "SUCCEEDED", answer
    level = [{"namespace": "steward", "name": "bench.lin.root"}]
    nodes = 1
    for depth in range(1, 4):
        below = []
        for index, parent in enumerate(level):
            children = [
                {"namespace": "s3", "name": f"lake/l{depth}/{index}/{child}"}
                for child in range(fanout)
            ]
            posted = admin.post("/api/v1/lineage", json=_event([parent], children))
            assert posted.status_code == 201, posted.text
            below += children
        nodes += len(below)
        level = below
    return "bench.lin.root", nodes


def measure(url: str, token: str, root: str, rounds: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    figures: dict[str, list[float]] = {
        "answer arrived": [],
        "placed (column layout + add)": [],
        "first render": [],
        "expand": [],
        "breadthfirst layout (peer)": [],
    }
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto("/console/signin")
        page.fill("#token", token)
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/")
        for _ in range(rounds):
            page.goto(f"/console/lineage?name={root}&depth=3")
            page.wait_for_selector("#graph[data-rendered=true]")
            shown = page.evaluate("window.stewardLineage.cy.nodes().length")
            timings = page.evaluate("window.stewardLineageTimings")
            figures["answer arrived"].append(timings["fetched"])
            figures["placed (column layout + add)"].append(timings["placed"])
            figures["first render"].append(timings["firstRender"])
            leaf = page.evaluate(
                "window.stewardLineage.cy.nodes().filter(n => n.outdegree() === 0 && "
                "!n.data('more')).first().id()"
            )
            page.evaluate(f"window.stewardLineage.expand({leaf!r}, 'downstream')")
            while not page.evaluate("window.stewardLineageTimings.expansions.length > 0"):
                time.sleep(0.01)  # (wait_for_function evals, which the console's CSP refuses)
            figures["expand"].append(page.evaluate("window.stewardLineageTimings.expansions[0]"))
            figures["breadthfirst layout (peer)"].append(
                page.evaluate(
                    "() => { const cy = window.stewardLineage.cy; const t = performance.now();"
                    " cy.layout({name: 'breadthfirst', directed: true, animate: false}).run();"
                    " return new Promise(r => cy.one('render', () => r(performance.now() - t)))"
                    ".then(v => { cy.forceRender(); return v; }); }"
                )
            )
            log(f"  {shown} nodes: { ({k: round(v[-1], 1) for k, v in figures.items()}) }")
        browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fanout", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        root_dir = Path(directory)
        server = start_server(f"sqlite:///{root_dir / 'steward.db'}", root_dir / "storage")
        try:
            began = time.perf_counter()
            root, nodes = build_tree(server.admin, args.fanout)
            log(f"lineage of {nodes} nodes recorded in {time.perf_counter() - began:.1f} s")
            figures = measure(server.url, server.admin_token, root, args.rounds)
        finally:
            server.stop()
    medians = {name: statistics.median(values) for name, values in figures.items()}
    print(f"Lineage graph of {nodes} nodes in headless Chromium (median of {args.rounds}):")
    print("| step | ms |")
    print("|---|---|")
    for name, value in medians.items():
        print(f"| {name} | {value:.0f} |")
    ratio = medians["placed (column layout + add)"] / medians["breadthfirst layout (peer)"]
    print(
        "placing the answer (column layout and adding 2,221 elements) / Cytoscape's "
        f"breadthfirst layout of the same elements: {ratio:.2f}"
    )


if __name__ == "__main__":
    main()
