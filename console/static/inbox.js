// The inbox: live rows over /console/events, and j/k/Enter to move and open. Rows come as server-rendered,
// escaped HTML fragments; nothing here puts case data into innerHTML.
(function () {
  "use strict";
  var table = document.getElementById("inbox");
  if (!table) return;
  var body = document.getElementById("inbox-rows");
  var status = document.getElementById("live-status");
  var filters = table.getAttribute("data-filters") || "";
  var lang = (document.querySelector('meta[name="console-lang"]') || {}).content || "vi";

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
      var seen = {}, changed = 0;
      fresh.forEach(function (tr) {
        var id = tr.getAttribute("data-case-id");
        seen[id] = true;
        var old = rowOf(id);
        if (old && old.innerHTML === tr.innerHTML) return;  // nothing new in this row
        changed += 1;
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
        if (old && !seen[id]) old.remove();
      });
      if (changed && status) status.textContent = lang === "vi" ? "Có cập nhật mới." : "New updates.";
    }).catch(function () { /* the next change or a reload brings it */ });
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

  // Keyboard: j / k move the selection, Enter opens the selected case.
  var selected = -1;
  function select(i) {
    var all = rows();
    if (!all.length) return;
    selected = Math.max(0, Math.min(all.length - 1, i));
    all.forEach(function (r, n) { r.classList.toggle("selected", n === selected); });
    var link = all[selected].querySelector("a.code");
    if (link) link.focus();
  }
  document.addEventListener("keydown", function (e) {
    var tag = (e.target && e.target.tagName) || "";
    if (/INPUT|TEXTAREA|SELECT/.test(tag) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j") { select(selected + 1); e.preventDefault(); }
    else if (e.key === "k") { select(selected - 1); e.preventDefault(); }
    else if (e.key === "Enter" && selected >= 0 && tag !== "A") {
      var link = rows()[selected] && rows()[selected].querySelector("a.code");
      if (link) link.click();
    }
  });
})();
