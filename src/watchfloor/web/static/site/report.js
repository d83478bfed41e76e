// Optional helper for the report form: fill in the location from the phone.
// The form works without this script; it only adds a button.
(function () {
  "use strict";
  var picker = document.getElementById("map-picker");
  var button = document.getElementById("use-location");
  var status = document.getElementById("location-status");
  if (!picker || !button || !("geolocation" in navigator)) { return; }
  picker.hidden = false;
  button.addEventListener("click", function () {
    status.textContent = "Finding where you are…";
    navigator.geolocation.getCurrentPosition(function (pos) {
      document.getElementById("lon").value = pos.coords.longitude.toFixed(6);
      document.getElementById("lat").value = pos.coords.latitude.toFixed(6);
      status.textContent = "Location added (to within about " + Math.round(pos.coords.accuracy) + " m).";
    }, function () {
      status.textContent = "Could not find your location. Type the place instead.";
    }, { enableHighAccuracy: true, timeout: 10000 });
  });
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
}());
