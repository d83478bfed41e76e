// Operations-room dashboard: one MapLibre map drawn from the region's own data,
// panels fed by /api/ops/<region>/... . No external tiles, fonts or glyphs: only
// circle, line, fill and heatmap layers, labels in HTML popups.
(function () {
  "use strict";

  const root = document.getElementById("ops");
  const region = root.dataset.region;
  const api = "/api/ops/" + encodeURIComponent(region);
  const csrf = root.dataset.csrf || "";
  const state = { planId: undefined, shift: "current", layersReady: false, loadedAt: null, counts: {} };
  window.wfState = state;

  maplibregl.setWorkerUrl(root.dataset.worker);

  const RISK_COLOURS = ["interpolate", ["linear"], ["get", "risk_norm"],
    0, "#2c7bb6", 0.25, "#abd9e9", 0.5, "#fdae61", 0.75, "#f46d43", 1, "#a50026"];
  const TENSION_COLOURS = ["match", ["get", "level"],
    1, "#fee5d9", 2, "#fcae91", 3, "#fb6a4a", 4, "#de2d26", 5, "#a50f15", "#cccccc"];
  const UNIT_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
    "#a6761d", "#1f78b4", "#b2df8a", "#fb9a99", "#6a3d9a", "#b15928"];

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  async function getJSON(url) {
    const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.detail || body.message || res.statusText);
    return body;
  }

  async function postJSON(url, payload) {
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(payload),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const detail = Array.isArray(body.detail) ? body.detail.map((d) => d.msg).join("; ") : body.detail;
      throw new Error(detail || body.message || res.statusText);
    }
    return body;
  }

  // Ask for every layer at once, before the map library has started: the
  // requests overlap its start-up instead of waiting for it one after another.
  const first = {
    roads: getJSON(api + "/basemap"),
    layers: getJSON(api + "/layers?shift=" + state.shift),
    status: getJSON(api + "/status?shift=" + state.shift),
    reports: getJSON(api + "/reports"),
  };
  for (const p of Object.values(first)) p.catch(() => {}); // reported where awaited

  const bounds = JSON.parse(root.dataset.bounds);
  const map = new maplibregl.Map({
    fadeDuration: 0,
    renderWorldCopies: false,
    container: "map",
    style: {
      version: 8,
      sources: {},
      layers: [{ id: "background", type: "background", paint: { "background-color": "#f3f1ec" } }],
    },
    bounds: bounds,
    fitBoundsOptions: { padding: 20 },
    attributionControl: { compact: true, customAttribution: "Roads and sites © OpenStreetMap contributors" },
  });
  window.wfMap = map;

  state.frames = 0; // frames drawn before the page was first rendered
  map.on("render", () => { if (!state.rendered) state.frames++; });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");

  const empty = { type: "FeatureCollection", features: [] };

  // Overview data is cut per zoom on the server (simplified roads, minor roads
  // only when zoomed in), so the tiler need not keep full detail at every zoom.
  const GEOJSON_OPTS = { maxzoom: 15, buffer: 32, tolerance: 1.0 };
  const SOURCES = ["roads", "tension", "isochrones", "reports", "patrols", "sites", "arv", "incident"];

  function addLayers(data) {
    for (const id of SOURCES) {
      map.addSource(id, Object.assign({ type: "geojson", data: data[id] || empty }, GEOJSON_OPTS));
    }

    map.addLayer({ id: "roads-minor", type: "line", source: "roads", filter: ["==", ["get", "group"], "minor"],
      paint: { "line-color": "#d6d2c8", "line-width": ["interpolate", ["linear"], ["zoom"], 9, 0.3, 15, 2] } });
    map.addLayer({ id: "roads-middle", type: "line", source: "roads", filter: ["==", ["get", "group"], "middle"],
      paint: { "line-color": "#c4b69a", "line-width": ["interpolate", ["linear"], ["zoom"], 9, 0.7, 15, 3.5] } });
    map.addLayer({ id: "roads-major", type: "line", source: "roads", filter: ["==", ["get", "group"], "major"],
      paint: { "line-color": "#e0a84f", "line-width": ["interpolate", ["linear"], ["zoom"], 9, 1.3, 15, 5] } });
    map.addLayer({ id: "tension-areas", type: "fill", source: "tension",
      paint: { "fill-color": TENSION_COLOURS, "fill-opacity": 0.45, "fill-outline-color": "#a50f15" } });
    map.addLayer({ id: "arv-isochrones", type: "fill", source: "isochrones",
      paint: { "fill-color": ["interpolate", ["linear"], ["coalesce", ["get", "budget_s"], 900], 300, "#08519c", 600, "#3182bd", 900, "#6baed6"],
        "fill-opacity": 0.12, "fill-outline-color": "#3182bd" } });
    map.addLayer({ id: "reports-heat", type: "heatmap", source: "reports", maxzoom: 14,
      paint: { "heatmap-radius": 22, "heatmap-opacity": 0.55, "heatmap-intensity": 1 } });
    map.addLayer({ id: "reports-points", type: "circle", source: "reports", minzoom: 10,
      paint: { "circle-radius": 3.5, "circle-color": ["match", ["get", "queue"], "hate_crime", "#984ea3", "ct", "#e41a1c", "#4d4d4d"],
        "circle-stroke-color": "#fff", "circle-stroke-width": 0.8 } });
    map.addLayer({ id: "patrol-routes", type: "line", source: "patrols", filter: ["==", ["get", "type"], "route"],
      paint: { "line-color": ["get", "colour"], "line-width": 3, "line-opacity": 0.85 } });
    map.addLayer({ id: "sites-risk", type: "circle", source: "sites",
      paint: { "circle-radius": ["interpolate", ["linear"], ["get", "risk_norm"], 0, 3, 1, 9],
        "circle-color": RISK_COLOURS, "circle-stroke-color": "#222", "circle-stroke-width": 0.6 } });
    map.addLayer({ id: "patrol-visits", type: "circle", source: "patrols", filter: ["==", ["get", "type"], "visit"],
      paint: { "circle-radius": 4, "circle-color": "#fff", "circle-stroke-color": ["get", "colour"], "circle-stroke-width": 2.5 } });
    map.addLayer({ id: "arv-bases", type: "circle", source: "arv",
      paint: { "circle-radius": 8, "circle-color": "#08519c", "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
    map.addLayer({ id: "incident", type: "circle", source: "incident",
      paint: { "circle-radius": 9, "circle-color": "#000", "circle-opacity": 0.2, "circle-stroke-color": "#000", "circle-stroke-width": 2 } });
    state.layersReady = true;
  }

  // Minor roads of a large county come only when zoomed in, for the area in view.
  const MINOR_MIN_ZOOM = 12.5;
  function deferMinorRoads() {
    let have = null; // [west, south, east, north] of the minor roads loaded
    let asking = false;
    map.addSource("roads-detail", Object.assign({ type: "geojson", data: empty }, GEOJSON_OPTS));
    map.addLayer({ id: "roads-detail", type: "line", source: "roads-detail", minzoom: MINOR_MIN_ZOOM,
      paint: { "line-color": "#d6d2c8", "line-width": ["interpolate", ["linear"], ["zoom"], 12, 0.6, 15, 2] } }, "roads-middle");
    const check = async () => {
      if (asking || map.getZoom() < MINOR_MIN_ZOOM) return;
      const b = map.getBounds();
      const view = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
      if (have && view[0] >= have[0] && view[1] >= have[1] && view[2] <= have[2] && view[3] <= have[3]) return;
      // Ask for a margin around the view, so small pans need nothing new.
      const dx = (view[2] - view[0]) * 0.25, dy = (view[3] - view[1]) * 0.25;
      const box = [view[0] - dx, view[1] - dy, view[2] + dx, view[3] + dy];
      asking = true;
      try {
        const q = "west=" + box[0].toFixed(5) + "&south=" + box[1].toFixed(5) + "&east=" + box[2].toFixed(5) + "&north=" + box[3].toFixed(5);
        const minor = await getJSON(api + "/basemap/minor?" + q);
        map.getSource("roads-detail").setData(minor);
        have = box;
        state.counts.roadsDetail = minor.features.length;
      } catch (err) {
        have = null;
      } finally {
        asking = false;
      }
    };
    map.on("moveend", check);
    check();
  }

  function colourUnits(fc) {
    for (const f of fc.features) f.properties.colour = UNIT_COLOURS[f.properties.unit_index % UNIT_COLOURS.length];
    return fc;
  }

  // The plan's layers (one request): drawn only when they are the plan the status names.
  function setPlanLayers(layers) {
    colourUnits(layers.patrols);
    for (const id of ["sites", "patrols", "arv", "isochrones", "tension"]) {
      map.getSource(id).setData(layers[id]);
      state.counts[id] = layers[id].features.length;
    }
    state.patrols = layers.patrols;
    state.planId = layers.plan_id; // set once the new plan's data is on the map
    state.drawn = false; // true once it is drawn (every source loaded, map idle)
    whenDrawn(() => { state.drawn = true; });
  }

  async function loadPlanLayers() {
    const t0 = performance.now();
    const [layers, reports] = await Promise.all([
      getJSON(api + "/layers?shift=" + state.shift),
      getJSON(api + "/reports"),
    ]);
    setPlanLayers(layers);
    map.getSource("reports").setData(reports);
    state.counts.reports = reports.features.length;
    state.layerLoadMs = performance.now() - t0;
  }

  // --- panels -------------------------------------------------------------------

  function fillList(id, items, render) {
    const list = document.getElementById(id);
    list.replaceChildren();
    if (!items.length) { list.append(el("li", { class: "muted" }, "none")); return; }
    for (const item of items) list.append(render(item));
  }

  function renderStatus(status) {
    const plan = status.plan;
    const box = document.getElementById("plan-status");
    box.replaceChildren();
    if (!plan) {
      box.append(el("p", {}, "No plan yet: declare an event or press re-plan."));
    } else {
      box.append(el("p", { id: "plan-timing" }, "Plan in force since " + new Date(plan.created_at).toLocaleTimeString() +
        ", computed in " + plan.timings_s.total.toFixed(2) + " s"));
      box.append(el("p", { class: "muted" }, "Trigger: " + plan.trigger));
      const parts = Object.entries(plan.timings_s).filter(([k]) => k !== "total")
        .map(([k, v]) => k + " " + v.toFixed(2) + " s").join(", ");
      box.append(el("p", { class: "muted small" }, parts));
      if (plan.patrol) {
        box.append(el("p", { class: "small" }, "Patrols: attacker's best expected gain " +
          Number(plan.patrol.guarantee).toFixed(2) + " over " + plan.patrol.n_game_sites + " sites" +
          (plan.patrol.exact ? " (exact)" : " (riskiest sites only)") + ", seed " + plan.patrol.seed));
      }
      if (plan.arv && plan.arv.covered_share !== null && plan.arv.covered_share !== undefined) {
        box.append(el("p", { class: "small" }, "ARVs: " + Math.round(plan.arv.covered_share * 100) +
          " % of demand within its area's response standard; shaded: reach in " +
          Math.round(plan.arv.standard_s / 60) + " min (" + plan.arv.model + ", " + plan.arv.status + ")"));
      }
      for (const note of plan.notes || []) box.append(el("p", { class: "muted small" }, "Note: " + note));
    }
    const failed = status.jobs.find((j) => j.status === "failed");
    const latest = status.jobs[0];
    if (latest && latest.status === "failed") {
      box.append(el("p", { class: "error", id: "plan-error" }, "Last re-plan failed: " + latest.error + " (the plan above stays in force)"));
    } else if (latest && (latest.status === "queued" || latest.status === "running")) {
      box.append(el("p", { class: "busy" }, "Re-planning: " + latest.trigger));
    } else if (failed) {
      box.append(el("p", { class: "muted small" }, "Earlier failure: " + failed.error));
    }
    const sit = status.situation;
    document.getElementById("threat-level").textContent = sit.threat_level.toUpperCase();
    document.getElementById("threat-level").className = "threat threat-" + sit.threat_level;

    const diff = status.diff;
    fillList("diff-risen", diff ? diff.risen.slice(0, 8) : [], (r) =>
      el("li", {}, (r.name || r.site_id) + ": " + (r.old_rank ? "#" + r.old_rank + " → " : "new → ") + "#" + r.new_rank +
        (r.reason ? " (" + r.reason + ")" : "")));
    fillList("diff-units", diff ? diff.changed_units.filter((u) => u.shift === "current").slice(0, 12) : [], (u) =>
      el("li", {}, u.unit + ": +" + u.added.length + " / −" + u.removed.length + " sites"));
    fillList("timeline", status.timeline, (e) => {
      const li = el("li", { class: "tl-" + e.kind });
      li.append(el("time", {}, new Date(e.occurred_at).toLocaleString()), " ", el("span", {}, e.summary));
      return li;
    });
    fillList("alerts", status.alerts, (a) => el("li", {}, "[" + a.region + "] " + a.summary));
    fillList("queues", status.queues, (q) => {
      const li = el("li");
      const link = el("a", { href: q.href }, q.label);
      li.append(link, " ", el("strong", {}, q.count + " new"), " / " + q.open + " open");
      return li;
    });
    fillList("units", status.units, (u) => {
      const li = el("li");
      const dot = el("span", { class: "dot" });
      dot.style.background = UNIT_COLOURS[u.unit_index % UNIT_COLOURS.length];
      li.append(dot, u.unit + ": " + u.n_visits + " visits, " + Math.round(u.travel_s / 60) + " min travel ");
      li.append(el("a", { href: u.briefing, target: "_blank" }, "briefing"));
      return li;
    });
  }

  async function refresh() {
    let status;
    try {
      status = await getJSON(api + "/status?shift=" + state.shift);
    } catch (err) {
      document.getElementById("plan-status").replaceChildren(el("p", { class: "error" }, String(err.message)));
      return;
    }
    applyStatus(status);
    const planId = status.plan ? status.plan.plan_id : null;
    if (planId !== state.planId && state.layersReady && !state.loading) {
      state.loading = true;
      try {
        await loadPlanLayers();
      } finally {
        state.loading = false;
      }
    }
  }

  function applyStatus(status) {
    state.status = status;
    renderStatus(status);
    state.loadedAt = Date.now();
  }

  // --- actions ------------------------------------------------------------------

  function formPayload(form) {
    const out = {};
    for (const [k, v] of new FormData(form).entries()) if (v !== "") out[k] = v;
    return out;
  }

  async function submitForm(form, path, transform) {
    const msg = form.querySelector(".form-msg");
    msg.textContent = "Sending...";
    msg.className = "form-msg";
    try {
      const job = await postJSON(api + path, transform(formPayload(form)));
      msg.textContent = "Re-plan started (" + job.trigger + ")";
      pollJob(job.job_id, msg);
    } catch (err) {
      msg.textContent = err.message;
      msg.className = "form-msg error";
    }
  }

  async function pollJob(jobId, msg) {
    for (let i = 0; i < 120; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const job = await getJSON("/api/ops/jobs/" + jobId);
      if (job.status === "done") {
        msg.textContent = "New plan in " + job.timings_s.total.toFixed(2) + " s";
        break;
      }
      if (job.status === "failed") {
        msg.textContent = "Re-plan failed: " + job.error + " (last good plan stays in force)";
        msg.className = "form-msg error";
        break;
      }
    }
    await refresh();
  }

  document.getElementById("declare-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    submitForm(ev.target, "/events", (p) => {
      if (p.at) p.at = new Date(p.at).toISOString();
      return p;
    });
  });
  document.getElementById("threat-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    submitForm(ev.target, "/threat", (p) => p);
  });
  document.getElementById("shift-select").addEventListener("change", async (ev) => {
    state.shift = ev.target.value;
    state.planId = null;
    await refresh();
  });

  // Click on the map: dispatch advice for an incident at that point.
  map.on("click", async (ev) => {
    const hit = map.queryRenderedFeatures(ev.point, { layers: ["sites-risk", "arv-bases"] });
    if (hit.length && hit[0].layer.id === "sites-risk") {
      const p = hit[0].properties;
      const box = el("div", { class: "popup" });
      box.append(el("strong", {}, p.name || p.site_id), el("br"), p.kind + " · rank " + p.rank + " · risk " + Number(p.risk).toFixed(2));
      const ul = el("ul");
      box.append(ul);
      new maplibregl.Popup().setLngLat(ev.lngLat).setDOMContent(box).addTo(map);
      getJSON(api + "/sites/" + encodeURIComponent(p.site_id)).then((site) => {
        for (const r of site.reasons.slice(0, 5)) ul.append(el("li", {}, r));
      }).catch((err) => ul.append(el("li", { class: "error" }, err.message)));
    }
    const { lng, lat } = ev.lngLat;
    map.getSource("incident").setData({ type: "FeatureCollection",
      features: [{ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: [lng, lat] } }] });
    const panel = document.getElementById("dispatch");
    panel.replaceChildren(el("p", { class: "muted" }, "Computing dispatch advice..."));
    try {
      const advice = await getJSON(api + "/dispatch?lon=" + lng.toFixed(6) + "&lat=" + lat.toFixed(6));
      panel.replaceChildren(el("p", {}, "Incident at " + lng.toFixed(4) + ", " + lat.toFixed(4) + ":"));
      const ol = el("ol", { id: "dispatch-list" });
      for (const u of advice.units) {
        ol.append(el("li", {}, u.unit + ": " + (u.eta_s === null ? "unreachable" : Math.round(u.eta_s / 60) + " min " + Math.round(u.eta_s % 60) + " s") +
          (u.status && u.status !== "available" ? " (" + u.status + ")" : "")));
      }
      panel.append(ol);
      state.dispatch = advice;
    } catch (err) {
      panel.replaceChildren(el("p", { class: "error" }, err.message));
    }
  });

  // The page is rendered once every source has its data, every tile is loaded
  // and the map is idle: window.wfState.rendered, with renderMs since navigation.
  function whenDrawn(callback) {
    const done = () => SOURCES.every((id) => map.isSourceLoaded(id)) && map.loaded();
    const check = () => {
      if (done()) callback();
      else map.once("idle", check);
    };
    map.once("idle", check);
  }

  function markRendered() {
    whenDrawn(() => {
      state.renderMs = performance.now();
      state.rendered = true;
      state.drawn = true;
    });
  }

  map.on("load", async () => {
    let roads, layers, status, reports;
    try {
      [roads, layers, status, reports] = await Promise.all([first.roads, first.layers, first.status, first.reports]);
    } catch (err) {
      document.getElementById("plan-status").replaceChildren(el("p", { class: "error" }, String(err.message)));
      addLayers({});
      await refresh();
      return;
    }
    colourUnits(layers.patrols);
    addLayers(Object.assign({ roads: roads, reports: reports }, layers));
    state.counts = { roads: roads.features.length, reports: reports.features.length };
    for (const id of ["sites", "patrols", "arv", "isochrones", "tension"]) state.counts[id] = layers[id].features.length;
    state.patrols = layers.patrols;
    state.planId = layers.plan_id;
    applyStatus(status);
    markRendered();
    if (roads.minor_deferred) deferMinorRoads();
    // The plan may have changed between the two first requests.
    const planId = status.plan ? status.plan.plan_id : null;
    if (planId !== state.planId) await refresh();
  });

  setInterval(() => { if (document.visibilityState === "visible") refresh(); }, 5000);
})();
