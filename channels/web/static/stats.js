// The public statistics page: a bar chart of reports by field and a map of reports by ward, both drawn from
// the tables the server rendered (the tables stay: they are the text form of the same numbers). No tiles:
// the wards are the map's only layer. Names are set with textContent, never as HTML.
(function () {
  "use strict";
  var root = document.getElementById("stats");
  if (!root) { return; }
  var lang = root.dataset.lang || "vi";
  var RAMP = ["#fee8c8", "#fdd49e", "#fdbb84", "#fc8d59", "#e34a33", "#b30000"];
  var NONE = "#f7f7f7", HIDDEN = "#d9d9d9";

  function rows(tableId) {
    var out = [];
    var table = document.getElementById(tableId);
    if (!table) { return out; }
    table.querySelectorAll("tbody tr[data-key]").forEach(function (tr) {
      var head = tr.querySelector("th"), cell = tr.querySelector("td.num");
      if (!head || !cell) { return; }
      out.push({ key: tr.dataset.key, name: head.textContent.trim(), hidden: cell.dataset.hidden === "1",
                 count: cell.dataset.count ? parseInt(cell.dataset.count, 10) : 0 });
    });
    return out;
  }

  function fieldChart() {
    var canvas = document.getElementById("chart-fields");
    if (!canvas || !window.Chart) { return; }
    var data = rows("t-fields");
    if (!data.length) { canvas.hidden = true; return; }
    Chart.defaults.animation = false;
    canvas.parentNode.style.height = (data.length * 34 + 50) + "px";  // one bar's height per field, however many
    new Chart(canvas, {
      type: "bar",
      data: { labels: data.map(function (r) { return r.name; }),
              datasets: [{ data: data.map(function (r) { return r.count; }), backgroundColor: "#2171b5" }] },
      options: { indexAxis: "y", responsive: true, maintainAspectRatio: false, plugins: { legend: { display: false } },
                 scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
    });
  }

  function steps(max) {  // upper bounds of the classes; class k holds counts in (steps[k-1], steps[k]]
    var out = [];
    var classes = Math.min(RAMP.length, Math.max(1, max));
    for (var i = 1; i <= classes; i++) { out.push(Math.ceil(max * i / classes)); }
    return out;
  }

  function colour(count, bounds) {
    for (var i = 0; i < bounds.length; i++) {
      if (count <= bounds[i]) { return RAMP[Math.round((i + 1) * (RAMP.length - 1) / bounds.length)]; }
    }
    return RAMP[RAMP.length - 1];
  }

  function swatch(box, fill, text) {
    var row = document.createElement("div");
    var mark = document.createElement("span");
    mark.className = "swatch";
    mark.style.background = fill;
    var label = document.createElement("span");
    label.textContent = text;
    row.appendChild(mark);
    row.appendChild(label);
    box.appendChild(row);
  }

  function wardMap() {
    var el = document.getElementById("stats-map");
    if (!el || !window.L) { return; }
    var byWard = {};
    var max = 0;
    rows("t-wards").forEach(function (r) {
      byWard[r.key] = r;
      if (!r.hidden && r.count > max) { max = r.count; }
    });
    var bounds = steps(max);
    el.hidden = false;
    var map = L.map(el, { attributionControl: false, minZoom: 8, scrollWheelZoom: false });
    map.setView([10.78, 106.7], 10);
    fetch(el.dataset.wardsUrl, { headers: { Accept: "application/geo+json" } }).then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    }).then(function (geo) {
      var layer = L.geoJSON(geo, {
        style: function (f) {
          var r = byWard[f.properties.code];
          var fill = !r ? NONE : (r.hidden ? HIDDEN : colour(r.count, bounds));
          return { color: "#555", weight: 0.8, fillOpacity: 0.85, fillColor: fill };
        },
        onEachFeature: function (f, shape) {
          var r = byWard[f.properties.code];
          var tip = document.createElement("div");
          var name = document.createElement("strong");
          name.textContent = lang === "en" ? f.properties.full_name_en : f.properties.full_name;
          var count = document.createElement("div");
          count.textContent = el.dataset.reportsLabel + ": " + (!r ? "0" : (r.hidden ? el.dataset.hiddenLabel
            : r.count.toLocaleString(lang === "en" ? "en-GB" : "vi-VN")));
          tip.appendChild(name);
          tip.appendChild(count);
          shape.bindTooltip(tip, { sticky: true });
        }
      }).addTo(map);
      var mainland = L.latLngBounds([]);  // Côn Đảo, 180 km out at sea, would shrink the city to a corner
      layer.eachLayer(function (shape) {
        if (shape.feature.properties.type !== "Đặc khu") { mainland.extend(shape.getBounds()); }
      });
      map.fitBounds(mainland.isValid() ? mainland : layer.getBounds());
      var legend = document.getElementById("stats-legend");
      swatch(legend, NONE, "0");
      var low = 1;
      bounds.forEach(function (high) {
        if (high >= low) { swatch(legend, colour(high, bounds), low === high ? String(high) : low + "–" + high); }
        low = high + 1;
      });
      swatch(legend, HIDDEN, el.dataset.hiddenLabel);
      el.dataset.drawn = "1";
    }).catch(function () {
      el.hidden = true;
      var note = document.createElement("p");
      note.className = "note";
      note.setAttribute("role", "status");
      note.textContent = el.dataset.failed;
      el.parentNode.insertBefore(note, el);
    });
  }

  fieldChart();
  wardMap();
})();
