// The report page's charts, drawn from the full table the server rendered (the table stays: it is the text form
// of every chart). The groups with the most cases, as the table lists them; names come from the table's text.
(function () {
  "use strict";
  if (!window.Chart) { return; }
  Chart.defaults.animation = false;
  var root = document.getElementById("reports");
  var lang = root ? root.dataset.lang : "vi";

  function groups(canvas) {
    var table = document.getElementById(canvas.dataset.table);
    var limit = parseInt(canvas.dataset.groups, 10) || 20;
    var out = [];
    if (!table) { return out; }
    table.querySelectorAll("tbody tr[data-received]").forEach(function (tr) {
      if (out.length >= limit) { return; }
      var head = tr.querySelector("th");
      out.push({ name: head ? head.textContent.trim() : "", received: parseInt(tr.dataset.received, 10) || 0,
                 handled: parseInt(tr.dataset.handled, 10) || 0,
                 rate: tr.dataset.rate === "" ? null : parseFloat(tr.dataset.rate) });
    });
    return out;
  }

  function percent(value) {
    return value.toLocaleString(lang === "en" ? "en-GB" : "vi-VN", { maximumFractionDigits: 1 }) + " %";
  }

  function fit(canvas, bars) {  // a bar's height per group, however many groups there are
    canvas.parentNode.style.height = (bars * 30 + 70) + "px";
  }

  document.querySelectorAll("canvas.report-chart").forEach(function (canvas) {
    var data = groups(canvas);
    if (canvas.dataset.kind === "rate") {
      data = data.filter(function (g) { return g.rate !== null; });
      if (!data.length) { canvas.hidden = true; return; }
      fit(canvas, data.length);
      new Chart(canvas, {
        type: "bar",
        data: { labels: data.map(function (g) { return g.name; }),
                datasets: [{ label: canvas.dataset.label, backgroundColor: "#2171b5",
                             data: data.map(function (g) { return Math.round(g.rate * 1000) / 10; }) }] },
        options: { indexAxis: "y", responsive: true, maintainAspectRatio: false,
                   plugins: { tooltip: { callbacks: { label: function (c) { return percent(c.parsed.x); } } } },
                   scales: { x: { min: 0, max: 100, ticks: { callback: function (v) { return v + " %"; } } } } }
      });
      return;
    }
    if (!data.length) { canvas.hidden = true; return; }
    fit(canvas, data.length * 1.6);
    new Chart(canvas, {
      type: "bar",
      data: { labels: data.map(function (g) { return g.name; }),
              datasets: [
                { label: canvas.dataset.labelReceived, backgroundColor: "#9ecae1", borderColor: "#3182bd", borderWidth: 1,
                  data: data.map(function (g) { return g.received; }) },
                { label: canvas.dataset.labelHandled, backgroundColor: "#238b45",
                  data: data.map(function (g) { return g.handled; }) }] },
      options: { indexAxis: "y", responsive: true, maintainAspectRatio: false,
                 scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  });
})();
