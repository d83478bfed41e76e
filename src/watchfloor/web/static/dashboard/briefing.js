// Route map of a unit's shift briefing: the region's roads, the route and numbered stops.
(function () {
  "use strict";
  const box = document.getElementById("briefing-map");
  const data = JSON.parse(document.getElementById("briefing-data").textContent);
  maplibregl.setWorkerUrl(box.dataset.worker);
  const map = new maplibregl.Map({
    container: box,
    style: { version: 8, sources: {}, layers: [{ id: "bg", type: "background", paint: { "background-color": "#f6f4ef" } }] },
    bounds: JSON.parse(box.dataset.bounds),
    fitBoundsOptions: { padding: 30 },
    preserveDrawingBuffer: true,
    attributionControl: { compact: true, customAttribution: "© OpenStreetMap contributors" },
  });
  window.wfBriefingMap = map;
  map.on("load", async () => {
    const name = window.location.pathname.split("/")[3];
    const res = await fetch("/api/ops/" + encodeURIComponent(name) + "/basemap", { credentials: "same-origin" });
    const roads = res.ok ? await res.json() : { type: "FeatureCollection", features: [] };
    map.addSource("roads", { type: "geojson", data: roads });
    map.addSource("brief", { type: "geojson", data: data });
    map.addLayer({ id: "roads", type: "line", source: "roads",
      paint: { "line-color": ["match", ["get", "group"], "major", "#e0a84f", "middle", "#c4b69a", "#d9d5cc"], "line-width": 1.2 } });
    map.addLayer({ id: "route", type: "line", source: "brief", filter: ["==", ["get", "type"], "route"],
      paint: { "line-color": "#c0392b", "line-width": 4 } });
    map.addLayer({ id: "stops", type: "circle", source: "brief", filter: ["==", ["get", "type"], "visit"],
      paint: { "circle-radius": 7, "circle-color": "#fff", "circle-stroke-color": "#c0392b", "circle-stroke-width": 3 } });
    for (const f of data.features) {
      if (f.properties.type !== "visit") continue;
      const label = document.createElement("div");
      label.className = "stop-label";
      label.textContent = String(f.properties.order);
      new maplibregl.Marker({ element: label, anchor: "bottom-left" }).setLngLat(f.geometry.coordinates).addTo(map);
    }
  });
})();
