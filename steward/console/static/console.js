// Steward console: copy buttons, keyboard shortcuts, SQL history and the audit log's live follow.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) return;
    var text = button.getAttribute("data-copy") || "";
    var done = function () { button.textContent = "copied"; setTimeout(function () { button.textContent = "copy"; }, 1200); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
    } else { fallbackCopy(text); done(); }
  });
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text; document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    area.remove();
  }
  // "/" focuses the search box, as on many sites; not while typing somewhere.
  document.addEventListener("keydown", function (event) {
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
    if (event.key === "/" && !typing) {
      var search = document.getElementById("q");
      if (search) { event.preventDefault(); search.focus(); }
    }
  });

  // SQL editor: Ctrl/Cmd+Enter runs; each statement run is kept in this browser's history.
  var HISTORY = "steward.sql.history";
  function history() { try { return JSON.parse(localStorage.getItem(HISTORY) || "[]"); } catch (e) { return []; } }
  function showHistory() {
    var list = document.getElementById("sql-history");
    if (!list) return;
    list.innerHTML = "";
    history().forEach(function (statement) {
      var item = document.createElement("li");
      item.textContent = statement; item.title = statement; item.tabIndex = 0;
      var use = function () { document.getElementById("statement").value = statement; };
      item.addEventListener("click", use);
      item.addEventListener("keydown", function (e) { if (e.key === "Enter") use(); });
      list.appendChild(item);
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    showHistory();
    var area = document.getElementById("statement");
    if (area) {
      area.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          htmx.trigger(document.getElementById("sql-form"), "submit");
        }
      });
    }
    var toggle = document.getElementById("follow-toggle");
    if (toggle) setUpFollow(toggle);
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.target.id !== "sql-form") return;
    var statement = document.getElementById("statement").value.trim();
    if (!statement) return;
    var kept = history().filter(function (s) { return s !== statement; });
    kept.unshift(statement);
    localStorage.setItem(HISTORY, JSON.stringify(kept.slice(0, 30)));
    showHistory();
  });

  // Audit log: while "Follow live" is on, what committed since is put on top every 2 s.
  function setUpFollow(toggle) {
    var timer = null;
    var poll = function () {
      var poller = document.getElementById("follow-poller");
      var url = poller && poller.getAttribute("data-url");
      if (!url) return;
      htmx.ajax("GET", url, { target: "#audit-rows", swap: "afterbegin" });
    };
    toggle.addEventListener("change", function () {
      if (toggle.checked) { poll(); timer = setInterval(poll, 2000); }
      else { clearInterval(timer); timer = null; }
    });
  }
})();
