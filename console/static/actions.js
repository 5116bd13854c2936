// Forms marked data-api are sent with fetch() to the staff JSON API: the session's CSRF token in X-CSRF-Token,
// the form's Idempotency-Key from this render (a double click or a retry sends once), then the page reloads
// (the new state, and new keys). Messages are written with textContent.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var lang = (document.querySelector('meta[name="console-lang"]') || {}).content || "vi";
  var vi = lang === "vi";

  function body(form) {
    var out = {};
    var extra = form.getAttribute("data-extra");
    if (extra) { var fixed = JSON.parse(extra); Object.keys(fixed).forEach(function (k) { out[k] = fixed[k]; }); }
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name) return;
      if (el.type === "checkbox") { out[el.name] = el.checked; return; }
      var v = el.value.trim();
      if (v !== "") out[el.name] = v;
    });
    return out;
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-api]"), function (form) {
    var result = form.querySelector(".result");
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var button = form.querySelector('button[type="submit"]');
      if (button.disabled) return;
      button.disabled = true;
      if (result) result.textContent = "…";
      var headers = {"Content-Type": "application/json", "X-CSRF-Token": csrf};
      if (form.getAttribute("data-key")) headers["Idempotency-Key"] = form.getAttribute("data-key");
      fetch(form.getAttribute("data-api"), {
        method: form.getAttribute("data-method") || "POST",
        credentials: "same-origin",
        headers: headers,
        body: JSON.stringify(body(form))
      }).then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (data) {
          if (!resp.ok) {
            var detail = data && (data.detail && (data.detail.message || data.detail)) || data.error || resp.status;
            throw new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
          }
          if (result) result.textContent = vi ? "Đã thực hiện." : "Done.";
          window.location.reload();  // a fresh render: the new state, and new keys for the next action
        });
      }).catch(function (err) {
        if (result) result.textContent = (vi ? "Không thực hiện được: " : "Failed: ") + err.message;
        button.disabled = false;  // the same key: a retry of this very request is still sent once
      });
    });
  });
})();
