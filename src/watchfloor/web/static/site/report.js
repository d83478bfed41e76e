// Optional helpers for the report form. The form works without this script:
// the place text and the "at or near" list are always there. With it:
// - a map of the force's own roads (MapLibre served from this site, no outside
//   tiles or fonts) to pick the place: tap it, or move the map with the
//   keyboard and use its middle; the choice fills the lon/lat fields;
// - a button that fills them from the phone's location.
(function () {
  "use strict";
  // Photos over the limits the form states are named before sending, so the
  // reporter chooses others instead of meeting a refusal after the upload.
  var photos = document.getElementById("photos");
  var photosCheck = document.getElementById("photos-check");
  function photoProblem() {
    var maxCount = Number(photos.dataset.maxCount);
    var maxBytes = Number(photos.dataset.maxBytes);
    if (photos.files.length > maxCount) {
      return "Choose at most " + maxCount + " photos.";
    }
    for (var i = 0; i < photos.files.length; i += 1) {
      if (photos.files[i].size > maxBytes) {
        return photos.files[i].name + " is larger than " +
          Math.floor(maxBytes / (1024 * 1024)) + " MB: choose a smaller photo.";
      }
    }
    return "";
  }
  if (photos && photosCheck && photos.form) {
    photos.addEventListener("change", function () {
      var problem = photoProblem();
      photosCheck.textContent = problem;
      photosCheck.hidden = !problem;
    });
    photos.form.addEventListener("submit", function (event) {
      var problem = photoProblem();
      if (problem) {
        event.preventDefault();
        photosCheck.textContent = problem;
        photosCheck.hidden = false;
        photos.focus();
      }
    });
  }
})();

(function () {
  "use strict";
  var picker = document.getElementById("map-picker");
  var status = document.getElementById("location-status");
  var lonField = document.getElementById("lon");
  var latField = document.getElementById("lat");
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
  if (!picker || !lonField || !latField) { return; }

  var map = null;
  var marker = null;
  var clearButton = document.getElementById("clear-location");

  function setPosition(lon, lat, how) {
    lonField.value = lon.toFixed(6);
    latField.value = lat.toFixed(6);
    if (map) {
      if (!marker) {
        marker = new maplibregl.Marker({ color: "#1d70b8" });
      }
      marker.setLngLat([lon, lat]).addTo(map);
    }
    if (clearButton) { clearButton.hidden = false; }
    status.textContent = how + " Position: " + lat.toFixed(5) + ", " + lon.toFixed(5) + ".";
  }

  function clearPosition() {
    lonField.value = "";
    latField.value = "";
    if (marker) { marker.remove(); }
    if (clearButton) { clearButton.hidden = true; }
    status.textContent = "Map position removed. Type the place instead, or pick it again.";
  }

  function startMap() {
    var mapPart = document.getElementById("map-part");
    var container = document.getElementById("pick-map");
    if (!mapPart || !container || !picker.dataset.roads || typeof maplibregl === "undefined") {
      return;
    }
    if (picker.dataset.worker) { maplibregl.setWorkerUrl(picker.dataset.worker); }
    fetch(picker.dataset.roads, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) { throw new Error("no map"); }
      return response.json();
    }).then(function (roads) {
      mapPart.hidden = false;
      map = new maplibregl.Map({
        container: container,
        style: {
          version: 8,
          sources: { roads: { type: "geojson", data: roads } },
          layers: [
            { id: "land", type: "background", paint: { "background-color": "#f4f2ec" } },
            { id: "roads-minor", type: "line", source: "roads",
              filter: ["==", ["get", "group"], "minor"],
              paint: { "line-color": "#c9c4b8", "line-width": 1 } },
            { id: "roads-middle", type: "line", source: "roads",
              filter: ["==", ["get", "group"], "middle"],
              paint: { "line-color": "#a59f91", "line-width": 2 } },
            { id: "roads-major", type: "line", source: "roads",
              filter: ["==", ["get", "group"], "major"],
              paint: { "line-color": "#7d7563", "line-width": 3 } }
          ]
        },
        bounds: [[roads.bbox[0], roads.bbox[1]], [roads.bbox[2], roads.bbox[3]]],
        fitBoundsOptions: { padding: 10 },
        attributionControl: false,
        dragRotate: false,
        pitchWithRotate: false,
        touchPitch: false
      });
      map.touchZoomRotate.disableRotation();
      map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
      map.getCanvas().setAttribute("aria-label",
        "Map of roads. Arrow keys move it, plus and minus zoom.");
      map.on("click", function (event) {
        setPosition(event.lngLat.lng, event.lngLat.lat, "Place picked on the map.");
      });
      map.on("load", function () { container.setAttribute("data-ready", "true"); });
      if (lonField.value && latField.value) {
        setPosition(parseFloat(lonField.value), parseFloat(latField.value), "Place kept.");
      }
    }).catch(function () {
      mapPart.hidden = true;
    });
    document.getElementById("use-map-centre").addEventListener("click", function () {
      if (!map) { return; }
      var centre = map.getCenter();
      setPosition(centre.lng, centre.lat, "Middle of the map used.");
    });
    if (clearButton) { clearButton.addEventListener("click", clearPosition); }
  }

  picker.hidden = false;
  startMap();

  var locate = document.getElementById("use-location");
  if (locate && "geolocation" in navigator) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      status.textContent = "Finding where you are…";
      navigator.geolocation.getCurrentPosition(function (pos) {
        setPosition(pos.coords.longitude, pos.coords.latitude,
          "Location added (to within about " + Math.round(pos.coords.accuracy) + " m).");
        if (map) { map.easeTo({ center: [pos.coords.longitude, pos.coords.latitude], zoom: 15 }); }
      }, function () {
        status.textContent = "Could not find your location. Type the place instead.";
      }, { enableHighAccuracy: true, timeout: 10000 });
    });
  }
}());
