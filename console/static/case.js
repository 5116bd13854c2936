// The case page (its actions are actions.js's forms): canned replies, the deadline countdown, and live
// updates (changes, "Lan is replying").
// Case data only ever reaches the page through textContent or form values.
(function () {
  "use strict";
  var root = document.getElementById("case");
  if (!root) return;
  var caseId = root.getAttribute("data-case-id");
  var me = root.getAttribute("data-me");
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var lang = (document.querySelector('meta[name="console-lang"]') || {}).content || "vi";
  var vi = lang === "vi";

  // Canned replies fill the reply box (as its value: never markup).
  Array.prototype.forEach.call(document.querySelectorAll("select[data-fills]"), function (select) {
    select.addEventListener("change", function () {
      var option = select.options[select.selectedIndex];
      var target = document.getElementById(select.getAttribute("data-fills"));
      if (option && option.getAttribute("data-text") && target) {
        target.value = option.getAttribute("data-text");
        target.dispatchEvent(new Event("input"));
        target.focus();
      }
    });
  });

  // The point and its ward on a small map: the ward's outline is the only layer (no tiles, nothing from outside).
  var mapBox = document.getElementById("case-map");
  if (mapBox && window.L) {
    var lat = parseFloat(mapBox.getAttribute("data-lat")), lon = parseFloat(mapBox.getAttribute("data-lon"));
    var ward = mapBox.getAttribute("data-ward");
    var hasPoint = isFinite(lat) && isFinite(lon);
    var map = L.map(mapBox, {attributionControl: false, zoomControl: false, scrollWheelZoom: false, minZoom: 8});
    L.control.zoom({zoomInTitle: mapBox.getAttribute("data-zoom-in"),
                    zoomOutTitle: mapBox.getAttribute("data-zoom-out")}).addTo(map);
    map.setView(hasPoint ? [lat, lon] : [10.78, 106.70], hasPoint ? 15 : 11);
    if (hasPoint) {
      L.circleMarker([lat, lon], {radius: 7, color: "#b00020", weight: 2, fillColor: "#e53935", fillOpacity: 0.9})
        .addTo(map);
    }
    if (ward) {
      fetch(mapBox.getAttribute("data-wards-url"), {credentials: "same-origin"})
        .then(function (resp) { if (!resp.ok) throw new Error(String(resp.status)); return resp.json(); })
        .then(function (feature) {  // the ward's own Feature, not the whole layer
          if (!feature || !feature.properties || String(feature.properties.code) !== ward) return;
          var outline = L.geoJSON(feature, {style: {color: "#1565c0", weight: 2, fillColor: "#1565c0",
                                                     fillOpacity: 0.08}}).addTo(map);
          outline.bringToBack();
          var bounds = outline.getBounds();
          if (hasPoint) bounds.extend([lat, lon]);
          map.fitBounds(bounds, {padding: [8, 8]});
          mapBox.setAttribute("data-ward-drawn", "1");
        })
        .catch(function () { /* the ward's name is in the facts above */ });
    }
  }

  // The deadline counts down.
  var countdown = document.getElementById("countdown");
  function span(ms) {
    var minutes = Math.ceil(Math.abs(ms) / 60000), d = Math.floor(minutes / 1440), h = Math.floor(minutes % 1440 / 60),
        m = minutes % 60;
    if (d) return d + (vi ? " ngày " : " d ") + h + (vi ? " giờ" : " h");
    if (h) return h + (vi ? " giờ " : " h ") + m + (vi ? " phút" : " min");
    return m + (vi ? " phút" : " min");
  }
  function tick() {
    var due = countdown && countdown.getAttribute("data-due");
    if (!due || countdown.getAttribute("data-paused") === "1") return;
    var left = new Date(due).getTime() - Date.now();
    countdown.textContent = left < 0 ? (vi ? "Quá hạn " : "Overdue by ") + span(left)
                                     : (vi ? "Còn " : "") + span(left) + (vi ? "" : " left");
    countdown.className = "deadline deadline-" + (left < 0 ? "overdue" : "ok");
  }
  tick();
  setInterval(tick, 30000);

  // Live: on a change, the conversation, the timeline, the status and the deadline are fetched again and
  // swapped in (server-rendered, escaped); what is being typed and the forms' keys stay as they are.
  var refreshing = false, again = false;
  function refreshParts() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    fetch(window.location.pathname, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (resp) { if (!resp.ok) throw new Error(String(resp.status)); return resp.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        ["case-head", "case-messages", "case-timeline", "case-deadline-facts"].forEach(function (id) {
          var fresh = doc.getElementById(id), old = document.getElementById(id);
          if (fresh && old) old.replaceWith(document.importNode(fresh, true));
        });
        countdown = document.getElementById("countdown");
        tick();
      })
      .then(function () { announce(false); })
      .catch(function () { announce(true); })
      .then(function () {
        refreshing = false;
        if (again) { again = false; refreshParts(); }
      });
  }

  // The live region is in the page from the start (a region that appears is often not read out): it says
  // politely that the case was refreshed in place, or that it changed and offers a reload.
  function announce(failed) {
    var notice = document.getElementById("case-updated");
    if (!notice) return;
    notice.textContent = notice.getAttribute(failed ? "data-changed" : "data-refreshed") + " ";
    if (failed) {
      var link = document.createElement("a");
      link.href = notice.getAttribute("data-href");
      link.textContent = notice.getAttribute("data-reload");
      notice.appendChild(link);
    }
  }

  // Presence: tell others we are typing (at most every 4 s), and show who else is.
  var reply = document.getElementById("reply-text");
  var lastBeat = 0;
  if (reply) {
    reply.addEventListener("input", function () {
      var now = Date.now();
      if (now - lastBeat < 4000 || !reply.value) return;
      lastBeat = now;
      fetch("/console/cases/" + caseId + "/typing", {method: "POST", credentials: "same-origin",
                                                      headers: {"X-CSRF-Token": csrf}}).catch(function () {});
    });
  }
  var typing = document.getElementById("typing");
  var typists = {};
  function showTyping() {
    var now = Date.now(), names = [];
    Object.keys(typists).forEach(function (id) {
      if (typists[id].until > now) names.push(typists[id].name); else delete typists[id];
    });
    if (typing) typing.textContent = names.length ? names.join(", ") + (vi ? " đang trả lời…" : " is replying…") : "";
  }
  setInterval(showTyping, 2000);
  if (window.EventSource) {
    var source = new EventSource("/console/events?case=" + encodeURIComponent(caseId));
    source.addEventListener("typing", function (e) {
      try {
        var beat = JSON.parse(e.data);
        if (String(beat.user) === me) return;
        typists[beat.user] = {name: String(beat.name), until: Date.now() + 10000};
        showTyping();
      } catch (err) { /* not a beat of ours */ }
    });
    source.addEventListener("cases", refreshParts);
    // Changes between this page's render and the stream's (re)connection were told to nobody: catch up once.
    source.addEventListener("open", refreshParts);
    source.addEventListener("resync", refreshParts);
  }
})();
