// The dashboard's charts, drawn from the tables the server rendered (the tables stay: they are the
// accessible form of the same numbers). Labels come from the tables' text, never from HTML.
(function () {
  "use strict";
  if (!window.Chart) { return; }
  var COLOURS = ["#2171b5", "#d94801", "#238b45", "#6a51a3", "#b30000", "#737373", "#e7a600", "#1b9e77"];
  Chart.defaults.animation = false;
  document.querySelectorAll("canvas.chart").forEach(function (canvas) {
    var table = document.getElementById(canvas.dataset.table);
    if (!table) { return; }
    var labels = [], values = [];
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      var head = tr.querySelector("th"), cell = tr.querySelector("td.num");
      if (!head || !cell) { return; }
      labels.push(head.textContent.trim());
      values.push(parseInt(cell.textContent, 10) || 0);
    });
    if (!labels.length || values.every(function (v) { return v === 0; })) { canvas.hidden = true; return; }
    var kind = canvas.dataset.chart;
    new Chart(canvas, {
      type: kind,
      data: { labels: labels, datasets: [{ data: values, backgroundColor: kind === "doughnut"
        ? ["#238b45", "#e7a600", "#b30000"] : COLOURS }] },
      options: { responsive: true, aspectRatio: kind === "doughnut" ? 2.2 : 1.8,
                 plugins: { legend: { display: kind === "doughnut" } },
                 scales: kind === "bar" ? { y: { beginAtZero: true, ticks: { precision: 0 } } } : {} }
    });
  });
})();
