// Fill the map point from the browser's location when the citizen asks for it.
document.getElementById("locate")?.addEventListener("click", () => {
  if (!navigator.geolocation) return;
  navigator.geolocation.getCurrentPosition((pos) => {
    document.getElementById("lat").value = pos.coords.latitude.toFixed(6);
    document.getElementById("lon").value = pos.coords.longitude.toFixed(6);
  });
});

// One report per click: the server already folds a resend with the same key into one case; this spares the wait.
const reportForm = document.getElementById("report");
reportForm?.addEventListener("submit", () => {
  const send = document.getElementById("send");
  if (send) send.disabled = true;
});
// A page restored by Back must be usable again.
window.addEventListener("pageshow", () => {
  const send = document.getElementById("send");
  if (send) send.disabled = false;
});
