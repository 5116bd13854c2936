// The console's map: the wards as the only base layer (no tiles), coloured by their open cases, and the open
// cases with a location as dots. Text from the server is only ever set with textContent.
(function () {
  "use strict";
  var el = document.getElementById("map");
  if (!el || !window.L) { return; }
  var lang = el.dataset.lang || "vi";
  var status = document.getElementById("map-status");
  var COLOURS = ["#f7f7f7", "#fee8c8", "#fdbb84", "#fc8d59", "#e34a33", "#b30000"];
  var STATUS_COLOURS = { received: "#6a51a3", triage: "#6a51a3", forwarded: "#2171b5", in_progress: "#238b45",
                         reopened: "#d94801" };

  el.style.height = Math.max(420, window.innerHeight - el.getBoundingClientRect().top - 24) + "px";
  var map = L.map(el, { zoomControl: false, attributionControl: false, minZoom: 7 });
  L.control.zoom({ zoomInTitle: el.dataset.zoomIn, zoomOutTitle: el.dataset.zoomOut }).addTo(map);
  var dots = L.canvas({ padding: 0.2 });  // thousands of points draw on one canvas; wards stay SVG paths
  map.setView([10.78, 106.7], 10);

  function node(tag, text, cls) {
    var n = document.createElement(tag);
    if (text !== undefined && text !== null) { n.textContent = String(text); }
    if (cls) { n.className = cls; }
    return n;
  }

  function thresholds(counts) {
    var max = 0;
    counts.forEach(function (c) { if (c > max) { max = c; } });
    var steps = [];
    if (max <= 5) {
      for (var j = 1; j <= Math.max(max, 1); j++) { steps.push(j); }
      return steps;
    }
    for (var i = 1; i <= 5; i++) { steps.push(Math.ceil(max * i / 5)); }
    return steps;  // class k holds counts in (steps[k-2], steps[k-1]]
  }

  function colour(count, steps) {
    if (!count) { return COLOURS[0]; }
    for (var i = 0; i < steps.length; i++) { if (count <= steps[i]) { return shade(i, steps); } }
    return COLOURS[COLOURS.length - 1];
  }

  function shade(i, steps) {  // spread however many classes there are over the whole ramp
    return COLOURS[Math.round((i + 1) * (COLOURS.length - 1) / steps.length)];
  }

  function legend(steps) {
    var box = document.getElementById("map-legend");
    box.replaceChildren();
    var low = 1;
    [0].concat(steps).forEach(function (high, i) {
      var row = node("div");
      var swatch = node("span", null, "swatch");
      swatch.style.background = i === 0 ? COLOURS[0] : shade(i - 1, steps);
      row.appendChild(swatch);
      row.appendChild(node("span", i === 0 ? "0" : (low === high ? String(high) : low + "–" + high)));
      if (i > 0) { low = high + 1; }
      box.appendChild(row);
    });
  }

  function table(data) {
    var body = document.querySelector("#map-wards tbody");
    body.replaceChildren();
    data.wards.forEach(function (w) {
      var tr = node("tr");
      var td = node("td");
      var a = node("a", lang === "en" ? w.name_en : w.name);
      a.href = "/console/?queue=open&ward=" + encodeURIComponent(w.ward);
      td.appendChild(a);
      tr.appendChild(td);
      tr.appendChild(node("td", w.open, "num"));
      body.appendChild(tr);
    });
    var without = document.getElementById("map-without-ward");
    without.textContent = data.without_ward ? (lang === "en" ? "Without a ward: " : "Chưa xác định phường/xã: ")
      + data.without_ward : "";
    document.getElementById("map-truncated").hidden = !data.points_truncated;
  }

  function fail(text) { status.textContent = text; }

  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status === 401) { window.location.href = "/console/login?next=" + encodeURIComponent("/console/map"); }
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    });
  }

  // The table by ward is the map's text alternative (and the keyboard's way to a ward): it does not wait for
  // the boundaries, nor fail with them.
  var numbers = get(el.dataset.dataUrl);
  numbers.then(table, function () {});
  Promise.all([get(el.dataset.wardsUrl), numbers]).then(function (both) {
    var geo = both[0], data = both[1];
    var counts = {};
    data.wards.forEach(function (w) { counts[w.ward] = w.open; });
    var steps = thresholds(data.wards.map(function (w) { return w.open; }));
    var layer = L.geoJSON(geo, {
      style: function (f) {
        return { color: "#555", weight: 1, fillOpacity: 0.75, fillColor: colour(counts[f.properties.code], steps) };
      },
      onEachFeature: function (f, shape) {
        var tip = node("div");
        tip.appendChild(node("strong", lang === "en" ? f.properties.full_name_en : f.properties.full_name));
        tip.appendChild(node("div", el.dataset.openLabel + ": " + (counts[f.properties.code] || 0)));
        shape.bindTooltip(tip, { sticky: true });
        shape.on("click", function () {
          window.location.href = "/console/?queue=open&ward=" + encodeURIComponent(f.properties.code);
        });
      }
    }).addTo(map);
    var mainland = L.latLngBounds([]);  // Côn Đảo, 180 km out at sea, would shrink the city to a corner
    layer.eachLayer(function (shape) {
      if (shape.feature.properties.type !== "Đặc khu") { mainland.extend(shape.getBounds()); }
    });
    map.fitBounds(mainland.isValid() ? mainland : layer.getBounds());
    data.points.forEach(function (p) {
      var dot = L.circleMarker([p.lat, p.lon], { renderer: dots, radius: p.urgent ? 6 : 4, weight: 1, color: "#fff",
                                                 fillColor: STATUS_COLOURS[p.status] || "#333", fillOpacity: 0.9 });
      var pop = node("div");
      var a = node("a", p.code);
      a.href = "/console/cases/" + encodeURIComponent(p.id);
      pop.appendChild(a);
      pop.appendChild(node("div", [p.status, p.field || ""].join(" · ")));
      dot.bindPopup(pop);
      dot.addTo(map);
    });
    legend(steps);
    status.textContent = el.dataset.openLabel + ": " + data.open;
  }).catch(function (e) {
    fail(e && e.message === "503" ? el.dataset.noBoundaries : (lang === "en" ? "The map could not load." :
      "Không tải được bản đồ."));
  });
})();
