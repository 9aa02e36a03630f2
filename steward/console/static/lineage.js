// Steward console: the interactive lineage graph (Cytoscape.js).
//
// The graph grows from one object, a level at a time: each expansion asks the console for
// that node's neighbours (the lineage API's answer for the signed-in user, hidden objects
// already redacted) and places them one column left (upstream) or right (downstream).
// Positions are computed here, column by column, in time linear in the nodes added, so a
// graph of a thousand nodes lays out at once; a node with more new neighbours than PAGE
// shows PAGE of them and a "+N more" node that brings the next page.
(function () {
  "use strict";
  var PAGE = 40;
  var COLUMN = 280;
  var ROW = 54;
  var container = document.getElementById("graph");
  if (!container) return;
  var root = container.getAttribute("data-root");
  var depth = parseInt(new URLSearchParams(location.search).get("depth") || "1", 10) || 1;
  var panel = document.getElementById("node-panel");
  var status = document.getElementById("graph-status");
  var layers = new Map();      // node id -> column (0 = the root, <0 upstream, >0 downstream)
  var columns = new Map();     // column -> node ids, in the order they were placed
  var deferred = new Map();    // "more" node id -> {from, direction, ids, answer}
  var redactions = 0;
  // What the first view cost, in ms: the answer's arrival, placing it (this file's layout
  // and adding the elements), and the first frame drawn (from the request).
  var timings = (window.stewardLineageTimings = {
    fetched: null, placed: null, firstRender: null, expansions: []
  });

  var cy = cytoscape({
    container: container,
    wheelSensitivity: 0.3,
    minZoom: 0.05,
    maxZoom: 3,
    style: [
      { selector: "node", style: {
        "shape": "round-rectangle", "width": 220, "height": 34, "background-color": "#e8eef5",
        "border-width": 1, "border-color": "#1f4e79", "label": "data(label)", "font-size": 11,
        "text-valign": "center", "text-halign": "center", "text-wrap": "ellipsis", "text-max-width": 210,
        // Labels too small to read are not drawn: a thousand-node overview renders at once.
        "min-zoomed-font-size": 7 } },
      { selector: "node[type = 'MODEL']", style: { "background-color": "#efe6f7", "border-color": "#5b2a86" } },
      { selector: "node[type = 'SERVING_ENDPOINT']", style: { "shape": "cut-rectangle", "background-color": "#e6f4ea", "border-color": "#1d6b35" } },
      { selector: "node[type = 'EXTERNAL']", style: { "background-color": "#f3f3f3", "border-color": "#888" } },
      { selector: "node[?redacted]", style: { "background-color": "#f6f6f6", "border-style": "dashed", "border-color": "#999", "color": "#777" } },
      { selector: "node[?more]", style: { "shape": "round-tag", "background-color": "#fff8e1", "border-color": "#b58900", "width": 140 } },
      { selector: "node[?root]", style: { "border-width": 3 } },
      { selector: "node:selected", style: { "border-width": 3, "border-color": "#f0a500" } },
      { selector: "edge", style: {
        "width": 1.5, "line-color": "#9aa7b4", "target-arrow-color": "#9aa7b4", "target-arrow-shape": "triangle",
        "curve-style": "bezier", "label": "data(label)", "font-size": 9, "color": "#5b6470",
        "text-background-color": "#fff", "text-background-opacity": 0.8, "min-zoomed-font-size": 7 } }
    ],
    elements: []
  });

  function say(text) { if (status) status.textContent = text; }

  // ``start``: a catalog object's full name, or a node of the graph (external datasets
  // have no catalog name: they are asked for by the id the API gave them).
  function fetchGraph(start, direction, levels, columnsToo) {
    var by = typeof start === "string" ? "name=" + encodeURIComponent(start)
      : start.data("type") === "EXTERNAL" ? "node_id=" + encodeURIComponent(start.id())
      : "name=" + encodeURIComponent(start.data("name"));
    var url = "/console/lineage/data?" + by + "&direction=" + direction +
      "&depth=" + levels + (columnsToo ? "&include_columns=true" : "");
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.message || ("HTTP " + response.status));
        return body;
      });
    });
  }

  // Redacted ids are numbered per answer: made unique per expansion, so two hidden nodes
  // of two answers never merge into one.
  function localIds(answer) {
    var ids = new Map();
    redactions += 1;
    answer.nodes.forEach(function (n) {
      ids.set(n.id, n.redacted ? "hidden:" + redactions + ":" + n.id : n.id);
    });
    return ids;
  }

  function label(node) {
    if (node.redacted) return "hidden";
    return (node.name || node.id) + (node.version ? " v" + node.version : "");
  }

  function edgeLabel(edge) { return edge.kind + " \u00d7" + edge.count; }

  // Place ``answer`` around ``from`` (already on the graph, or the root): breadth first,
  // upstream to the left and downstream to the right, at most PAGE new nodes per parent.
  function merge(answer, from, direction) {
    var ids = localIds(answer);
    var byId = new Map();
    answer.nodes.forEach(function (n) { byId.set(ids.get(n.id), n); });
    var up = new Map(), down = new Map();
    answer.edges.forEach(function (e) {
      var s = ids.get(e.source), t = ids.get(e.target);
      if (!down.has(s)) down.set(s, []);
      if (!up.has(t)) up.set(t, []);
      down.get(s).push({ other: t, edge: e });
      up.get(t).push({ other: s, edge: e });
    });
    var start = from || rootId(answer, ids);
    var added = [];
    var queue = [start];
    if (!layers.has(start)) place(start, 0, byId.get(start), added, true);
    var seen = new Set([start]);
    var edges = [];
    while (queue.length) {
      var at = queue.shift();
      ["upstream", "downstream"].forEach(function (way) {
        if (direction !== "both" && direction !== way) return;
        if (at !== start && way !== wayOf(at, start)) return;  // keep walking away from the start
        var next = ((way === "upstream" ? up : down).get(at) || []);
        var fresh = [];
        next.forEach(function (link) {
          edges.push(link.edge);
          if (!seen.has(link.other) && !layers.has(link.other)) fresh.push(link.other);
          seen.add(link.other);
        });
        fresh.sort(function (a, b) { return label(byId.get(a)).localeCompare(label(byId.get(b))); });
        var column = layers.get(at) + (way === "upstream" ? -1 : 1);
        fresh.slice(0, PAGE).forEach(function (id) {
          place(id, column, byId.get(id), added, false);
          queue.push(id);
        });
        if (fresh.length > PAGE) deferMore(at, way, fresh.slice(PAGE), byId, column, added);
      });
    }
    cy.batch(function () {
      added.forEach(function (element) { cy.add(element); });
      edges.forEach(function (e) {
        var s = ids.get(e.source), t = ids.get(e.target);
        var id = "e:" + s + "->" + t + ":" + e.kind;
        if (cy.getElementById(id).nonempty() || cy.getElementById(s).empty() || cy.getElementById(t).empty()) return;
        cy.add({ group: "edges", data: { id: id, source: s, target: t, label: edgeLabel(e), edge: e } });
      });
    });
    return added.length;
  }

  // The direction a node lies in from the start node of an expansion (by column).
  function wayOf(id, start) { return layers.get(id) < layers.get(start) ? "upstream" : "downstream"; }

  function rootId(answer, ids) {
    var found = answer.nodes.find(function (n) { return !n.redacted && n.name === root; });
    return found ? ids.get(found.id) : ids.get(answer.nodes[0].id);
  }

  function place(id, column, node, added, isRoot) {
    layers.set(id, column);
    if (!columns.has(column)) columns.set(column, []);
    var row = columns.get(column);
    row.push(id);
    added.push({ group: "nodes", data: {
      id: id, label: label(node), type: node.type, name: node.name, redacted: !!node.redacted,
      version: node.version || null, root: !!isRoot
    }, position: { x: column * COLUMN, y: (row.length - 1) * ROW } });
  }

  function deferMore(from, way, rest, byId, column, added) {
    var id = "more:" + from + ":" + way + ":" + rest.length + ":" + redactions;
    layers.set(id, column);
    if (!columns.has(column)) columns.set(column, []);
    columns.get(column).push(id);
    deferred.set(id, { from: from, way: way, ids: rest, byId: byId });
    added.push({ group: "nodes", data: { id: id, label: "+" + rest.length + " more\u2026", more: true },
      position: { x: column * COLUMN, y: (columns.get(column).length - 1) * ROW } });
  }

  function showMore(node) {
    var more = deferred.get(node.id());
    if (!more) return;
    var started = performance.now();
    deferred.delete(node.id());
    var column = layers.get(node.id());
    var slot = columns.get(column);
    slot.splice(slot.indexOf(node.id()), 1);
    node.remove();
    var added = [];
    more.ids.slice(0, PAGE).forEach(function (id) { place(id, column, more.byId.get(id), added, false); });
    if (more.ids.length > PAGE) deferMore(more.from, more.way, more.ids.slice(PAGE), more.byId, column, added);
    cy.batch(function () {
      added.forEach(function (element) { cy.add(element); });
      more.ids.slice(0, PAGE).forEach(function (id) {
        var s = more.way === "upstream" ? id : more.from, t = more.way === "upstream" ? more.from : id;
        cy.add({ group: "edges", data: { id: "e:" + s + "->" + t + ":more", source: s, target: t, label: "" } });
      });
    });
    recenter(column);
    timings.expansions.push(performance.now() - started);
    counts();
  }

  // A column's nodes centred on the row of the node they came from.
  function recenter(column) {
    var ids = columns.get(column) || [];
    var offset = -((ids.length - 1) * ROW) / 2;
    cy.batch(function () {
      ids.forEach(function (id, index) {
        var element = cy.getElementById(id);
        if (element.nonempty()) element.position({ x: column * COLUMN, y: offset + index * ROW });
      });
    });
  }

  function counts() {
    say(cy.nodes().length + " nodes, " + cy.edges().length + " edges" +
      (deferred.size ? " (" + deferred.size + " groups paged: click \u201c+N more\u201d)" : ""));
  }

  function expand(node, way) {
    if (node.data("redacted") || node.data("more")) return;
    var started = performance.now();
    say("Loading " + way + " of " + node.data("name") + "\u2026");
    fetchGraph(node, way, 1, false).then(function (answer) {
      var before = new Set(columns.keys());
      var added = merge(answer, node.id(), way);
      columns.forEach(function (_ids, column) { if (!before.has(column) || true) recenter(column); });
      timings.expansions.push(performance.now() - started);
      counts();
      if (!added) say(node.data("name") + " has no further " + way + " lineage you can see. " + status.textContent);
    }, function (error) { say("Could not load lineage: " + error.message); });
  }

  function columnLineage(node) {
    var list = document.getElementById("column-edges");
    list.textContent = "Loading\u2026";
    fetchGraph(node, "both", 1, true).then(function (answer) {
      var names = new Map(answer.nodes.map(function (n) { return [n.id, n.redacted ? "hidden" : n.name]; }));
      var rows = (answer.column_edges || []);
      list.innerHTML = "";
      if (!rows.length) { list.textContent = "No column lineage recorded for it."; return; }
      rows.forEach(function (c) {
        var item = document.createElement("li");
        item.textContent = names.get(c.source) + "." + (c.source_column || "?") + " \u2192 " +
          names.get(c.target) + "." + (c.target_column || "?") + "  (" + c.kind + " \u00d7" + c.count + ")";
        list.appendChild(item);
      });
    }, function (error) { list.textContent = "Could not load column lineage: " + error.message; });
  }

  function pageOf(node) {
    var name = encodeURIComponent(node.data("name"));
    if (node.data("type") === "MODEL") return "/console/models/" + name;
    if (node.data("type") === "SERVING_ENDPOINT") return "/console/serving/" + name;
    if (node.data("type") === "TABLE" || node.data("type") === "FEATURE_TABLE") return "/console/tables/" + name;
    return null;
  }

  function describe(node) {
    panel.innerHTML = "";
    var heading = document.createElement("h2");
    if (node.data("more")) {
      heading.textContent = node.data("label");
      panel.appendChild(heading);
      panel.appendChild(button("Show them", function () { showMore(node); }));
      return;
    }
    if (node.data("redacted")) {
      heading.textContent = "Hidden object";
      panel.appendChild(heading);
      var note = document.createElement("p");
      note.textContent = "Something is connected here that you may not see (you need BROWSE on it, or a privilege on it).";
      panel.appendChild(note);
      return;
    }
    heading.textContent = node.data("name");
    panel.appendChild(heading);
    var facts = document.createElement("p");
    facts.className = "meta";
    facts.textContent = node.data("type") + (node.data("version") ? " \u00b7 version " + node.data("version") : "") +
      " \u00b7 " + node.indegree() + " in, " + node.outdegree() + " out";
    panel.appendChild(facts);
    panel.appendChild(button("Upstream +1", function () { expand(node, "upstream"); }));
    panel.appendChild(button("Downstream +1", function () { expand(node, "downstream"); }));
    panel.appendChild(button("Column lineage", function () { columnLineage(node); }));
    var href = pageOf(node);
    if (href) {
      var link = document.createElement("a");
      link.href = href; link.textContent = "Open"; link.style.marginLeft = "8px";
      panel.appendChild(link);
    }
    var edgesList = document.createElement("ul");
    node.connectedEdges().forEach(function (e) {
      var info = e.data("edge");
      if (!info) return;
      var item = document.createElement("li");
      item.textContent = cy.getElementById(e.data("source")).data("label") + " \u2192 " +
        cy.getElementById(e.data("target")).data("label") + ": " + info.kind + " \u00d7" + info.count +
        ", last " + (info.last_seen || "").replace("T", " ").slice(0, 19) + " UTC";
      edgesList.appendChild(item);
    });
    panel.appendChild(edgesList);
    var columnsList = document.createElement("ul");
    columnsList.id = "column-edges";
    panel.appendChild(columnsList);
  }

  function button(text, action) {
    var b = document.createElement("button");
    b.type = "button"; b.textContent = text;
    b.addEventListener("click", action);
    return b;
  }

  cy.on("tap", "node", function (event) {
    cy.elements().unselect();
    event.target.select();
    describe(event.target);
  });

  // Keyboard: arrows move the selection (left/right along edges, up/down within a column),
  // u / d expand the selected node upstream / downstream, c shows its column lineage.
  container.addEventListener("keydown", function (event) {
    var selected = cy.nodes(":selected").first();
    if (selected.empty()) selected = cy.nodes("[?root]").first();
    if (selected.empty()) return;
    var next = null;
    if (event.key === "ArrowLeft") next = selected.incomers("node").first();
    else if (event.key === "ArrowRight") next = selected.outgoers("node").first();
    else if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      var ids = columns.get(layers.get(selected.id())) || [];
      var at = ids.indexOf(selected.id()) + (event.key === "ArrowUp" ? -1 : 1);
      if (at >= 0 && at < ids.length) next = cy.getElementById(ids[at]);
    } else if (event.key === "u") expand(selected, "upstream");
    else if (event.key === "d") expand(selected, "downstream");
    else if (event.key === "c") columnLineage(selected);
    else if (event.key === "Enter" && selected.data("more")) showMore(selected);
    else return;
    event.preventDefault();
    if (next && next.nonempty()) {
      cy.elements().unselect(); next.select(); describe(next);
      cy.center(next);
    }
  });

  // For the browser tests and benchmarks/console_lineage.py.
  window.stewardLineage = {
    cy: cy,
    expand: function (id, way) { expand(cy.getElementById(id), way); }
  };

  var started = performance.now();
  say("Loading lineage of " + root + "\u2026");
  fetchGraph(root, "both", depth, false).then(function (answer) {
    timings.fetched = performance.now() - started;
    var placing = performance.now();
    merge(answer, null, "both");
    columns.forEach(function (_ids, column) { recenter(column); });
    timings.placed = performance.now() - placing;
    cy.fit(undefined, 30);
    var rootNode = cy.nodes("[?root]").first();
    if (rootNode.nonempty()) { rootNode.select(); describe(rootNode); }
    cy.one("render", function () {
      timings.firstRender = performance.now() - started;
      container.setAttribute("data-rendered", "true");
    });
    cy.forceRender();
    counts();
    if (answer.truncated) say(status.textContent + " \u2014 the neighbourhood was larger than one answer holds: expand from the edges.");
  }, function (error) { say("Could not load lineage: " + error.message); });
})();
