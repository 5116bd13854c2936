// The inbox: live rows over /console/events, announced politely without moving focus, and j/k/Enter to move and
// open, / to search. Rows come as server-rendered, escaped HTML fragments; nothing here puts case data into
// innerHTML.
(function () {
  "use strict";
  var table = document.getElementById("inbox");
  if (!table) return;
  var body = document.getElementById("inbox-rows");
  var status = document.getElementById("live-status");
  var filters = table.getAttribute("data-filters") || "";

  function rows() { return Array.prototype.slice.call(body.querySelectorAll('tr[data-testid="inbox-row"]')); }
  function rowOf(id) { return body.querySelector('tr[data-case-id="' + id + '"]'); }

  // ids: those cases; null: the first page again (after the stream (re)connects, for changes told to nobody).
  function refresh(ids) {
    var url = "/console/inbox/rows?" + filters + (ids ? (filters ? "&" : "") + "ids=" + ids.join(",") : "");
    fetch(url, {credentials: "same-origin", headers: {"Accept": "text/html"}}).then(function (resp) {
      if (!resp.ok) throw new Error(String(resp.status));
      return resp.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString("<table><tbody>" + html + "</tbody></table>", "text/html");
      var fresh = Array.prototype.slice.call(doc.querySelectorAll('tr[data-testid="inbox-row"]'));
      var seen = {}, added = 0, changed = 0, gone = 0;
      fresh.forEach(function (tr) {
        var id = tr.getAttribute("data-case-id");
        seen[id] = true;
        var old = rowOf(id);
        if (old && old.innerHTML === tr.innerHTML) return;  // nothing new in this row
        if (old) { changed += 1; } else { added += 1; }
        var node = document.importNode(tr, true);
        node.classList.add("fresh");
        if (old) {
          if (old.classList.contains("selected")) node.classList.add("selected");
          body.replaceChild(node, old);
        } else {
          var before = rows().find(function (r) { return Number(r.getAttribute("data-case-id")) < Number(id); });
          body.insertBefore(node, before || null);
        }
      });
      (ids || []).forEach(function (id) {  // changed and no longer in this queue
        var old = rowOf(id);
        if (old && !seen[id]) { old.remove(); gone += 1; }
      });
      announce(added, changed, gone);
    }).catch(function () { /* the next change or a reload brings it */ });
  }

  // A summary ("2 hồ sơ mới") in the polite live region: read out when the reader is idle, focus stays put.
  // Emptied first, so the same words twice in a row are announced twice.
  var pending = null;
  function announce(added, changed, gone) {
    if (!status || !(added || changed || gone)) return;
    var parts = [];
    [["data-new", added], ["data-changed", changed], ["data-gone", gone]].forEach(function (p) {
      if (p[1]) parts.push(String(status.getAttribute(p[0]) || "{n}").replace("{n}", String(p[1])));
    });
    status.textContent = "";
    clearTimeout(pending);
    pending = setTimeout(function () { status.textContent = parts.join(" · "); }, 100);
  }

  if (table.getAttribute("data-live") === "1" && window.EventSource) {
    var source = new EventSource("/console/events");
    source.addEventListener("cases", function (e) {
      var ids = String(e.data).split(",").filter(function (x) { return /^\d+$/.test(x); });
      if (ids.length) refresh(ids);
    });
    source.addEventListener("open", function () { refresh(null); });
    source.addEventListener("resync", function () { refresh(null); });
  }

  // Keyboard (the keys are listed on the page): j / k move the selection from the focused or selected row (rows
  // arriving live do not shift it), Enter opens it, / goes to the search box. Never while typing in a field.
  function current() {
    var all = rows();
    var at = all.findIndex(function (r) { return r.contains(document.activeElement); });
    return at >= 0 ? at : all.findIndex(function (r) { return r.classList.contains("selected"); });
  }
  function select(i) {
    var all = rows();
    if (!all.length) return;
    var selected = Math.max(0, Math.min(all.length - 1, i));
    all.forEach(function (r, n) { r.classList.toggle("selected", n === selected); });
    var link = all[selected].querySelector("a.code");
    if (link) link.focus();
  }
  document.addEventListener("keydown", function (e) {
    var target = e.target || document.body;
    var tag = target.tagName || "";
    if (/INPUT|TEXTAREA|SELECT/.test(tag) || target.isContentEditable || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j") { select(current() + 1); e.preventDefault(); }
    else if (e.key === "k") { select(Math.max(0, current() - 1)); e.preventDefault(); }
    else if (e.key === "/") {
      var search = document.getElementById("q");
      if (search) { search.focus(); e.preventDefault(); }
    } else if (e.key === "Enter" && target === document.body) {  // a focused link or button does its own Enter
      var row = body.querySelector("tr.selected");
      var link = row && row.querySelector("a.code");
      if (link) link.click();
    }
  });
})();
