/* The ward's live page: polls /api/ward (docs/live-page.md) and draws it, charts in plain SVG.
 * A token (http_token_env) comes from the address's fragment, #token=..., or a prompt after a
 * 401; it is kept for the tab only (sessionStorage) and sent as a bearer Authorization header. */
"use strict";
(function () {
  const EVERY_MS = 2000;
  const SEV_RANK = { critical: 2, warning: 1, normal: 0 };
  const TREND = { rising: "▲ rising", falling: "▼ falling", steady: "▶ steady", unknown: "– too few" };
  const PALETTE = ["#c62828", "#1f5f99", "#b26a00", "#6a1b9a", "#2e7d32", "#00838f",
                   "#ad1457", "#4e342e", "#546e7a", "#9e9d24", "#283593", "#37474f"];
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";

  function tokenFromFragment() {
    const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem("bppipe-token", decodeURIComponent(m[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
    return sessionStorage.getItem("bppipe-token");
  }
  let token = tokenFromFragment();

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function badge(sev) { return el("span", { class: "badge " + sev }, sev); }
  function clock(iso) { return iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : "–"; }
  function bp(r) { return Math.round(r.systolic) + "/" + Math.round(r.diastolic); }
  function label(s) { return s ? s.replace(/_/g, " ") : "–"; }
  function risk(v) { return v === null || v === undefined ? "–" : v.toFixed(2); }

  function spark(values) {
    const s = svgEl("svg", { viewBox: "0 0 100 24", width: "100", height: "24", class: "spark" });
    if (values.length > 1) {
      const lo = Math.min(...values, 90), hi = Math.max(...values, 160);
      const pts = values.map((v, i) => (i * 100 / (values.length - 1)).toFixed(1) + "," +
                                       (22 - (v - lo) * 20 / (hi - lo)).toFixed(1));
      s.appendChild(svgEl("line", { x1: 0, x2: 100, y1: 22 - (140 - lo) * 20 / (hi - lo),
                                    y2: 22 - (140 - lo) * 20 / (hi - lo), stroke: "#e0a0a0",
                                    "stroke-dasharray": "2 2" }));
      s.appendChild(svgEl("polyline", { points: pts.join(" "), fill: "none", stroke: "#1f5f99",
                                        "stroke-width": 1.5 }));
    }
    return s;
  }

  function drawPatients(ps) {
    ps = ps.slice().sort((a, b) => (SEV_RANK[b.latest.severity] - SEV_RANK[a.latest.severity]) ||
                                   (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const body = $("patients").tBodies[0];
    const rows = ps.map((p) => {
      const r = p.latest;
      const tr = el("tr", { class: "sev-" + r.severity, "data-patient": p.id });
      tr.appendChild(el("td", { class: "id" }, p.id));
      tr.appendChild(el("td", { class: "bp" }, bp(r)));
      tr.appendChild(el("td", {}, label(r.category)));
      const sev = el("td", {});
      sev.appendChild(badge(r.severity));
      if (r.anomaly_type) sev.appendChild(el("span", { class: "muted" }, " " + label(r.anomaly_type)));
      tr.appendChild(sev);
      tr.appendChild(el("td", { class: "trend" }, TREND[p.trend] || p.trend));
      tr.appendChild(el("td", {}, risk(r.ml_risk)));
      const sp = el("td", {});
      sp.appendChild(spark(p.readings.map((x) => x.systolic)));
      tr.appendChild(sp);
      tr.appendChild(el("td", { class: "time" }, clock(r.time)));
      return tr;
    });
    body.replaceChildren(...rows);
  }

  function drawEvents(evs) {
    $("events").replaceChildren(...evs.map((e) => {
      const r = e.reading;
      const li = el("li", { class: e.alert ? "alert" : "anomaly" });
      li.appendChild(el("span", { class: "muted" }, clock(r.time)));
      if (e.alert) li.appendChild(el("span", { class: "badge alert" }, "ALERT"));
      li.appendChild(badge(r.severity));
      li.appendChild(el("span", { class: "who" }, e.patient_id));
      li.appendChild(el("span", { class: "bp" }, bp(r) + " mmHg"));
      li.appendChild(el("span", { class: "muted" }, label(r.anomaly_type || r.category)));
      return li;
    }));
    if (!evs.length) $("events").appendChild(el("li", { class: "muted" }, "none yet"));
  }

  /* Bars on a 400×140 chart: stacks[i] is a list of [value, colour]. */
  function bars(svg, stacks, labels) {
    const W = 400, H = 140, L = 34, B = 18, top = 6;
    const max = Math.max(1, ...stacks.map((s) => s.reduce((a, v) => a + v[0], 0)));
    const bw = (W - L) / stacks.length;
    const nodes = [];
    for (const f of [0, 0.5, 1]) {
      const y = top + (H - B - top) * (1 - f);
      nodes.push(svgEl("line", { x1: L, x2: W, y1: y, y2: y, stroke: "#dde3ea" }));
      nodes.push(svgEl("text", { x: L - 4, y: y + 3, "text-anchor": "end" },
                       String(Math.round(max * f * 10) / 10)));
    }
    stacks.forEach((s, i) => {
      let y = H - B;
      for (const [v, colour] of s) {
        const h = v * (H - B - top) / max;
        y -= h;
        if (h > 0) nodes.push(svgEl("rect", { x: L + i * bw + 0.5, y: y, width: Math.max(bw - 1, 1),
                                               height: h, fill: colour }));
      }
    });
    labels.forEach(([i, t]) => nodes.push(svgEl("text", { x: L + i * bw + bw / 2, y: H - 4,
      "text-anchor": i === 0 ? "start" : i === stacks.length - 1 ? "end" : "middle" }, t)));
    svg.replaceChildren(...nodes);
  }

  function drawCharts(d) {
    const rc = d.rate.counts;
    bars($("rate-chart"), rc.map((v) => [[v, "#1f5f99"]]),
         [[0, "-60 s"], [29, "-30 s"], [rc.length - 1, "now"]]);
    const at = d.anomalies_over_time;
    const colour = (i) => PALETTE[i % PALETTE.length];
    const last = at.buckets.length - 1;
    bars($("types-chart"), at.buckets.map((b) => b.counts.map((v, i) => [v, colour(i)])),
         [[0, clock(at.buckets[0].start)], [last, clock(at.buckets[last].start)]]);
    $("types-legend").replaceChildren(...at.types.map((t, i) => {
      const total = at.buckets.reduce((a, b) => a + (b.counts[i] || 0), 0);
      const s = el("span", {});
      s.appendChild(el("i", { style: "background:" + colour(i) }));
      s.appendChild(document.createTextNode(label(t) + " (" + total + ")"));
      return s;
    }));
    const h = d.ml_risk_histogram;
    bars($("risk-chart"), h.counts.map((v, i) => [[v, i >= h.bins / 2 ? "#c62828" : "#2e7d32"]]),
         h.counts.map((_, i) => [i, (i / h.bins).toFixed(1)]));
  }

  // The alarm burden panel (docs/alarms.md, "The burden"): its own element, hidden without
  // [alarms]; figures the server left undefined (null) show as a dash.
  function drawBurden(b) {
    const panel = $("alarm-burden");
    panel.hidden = !b;
    if (!b) return;
    const fix = (v, n) => (v === null || v === undefined ? "–" : v.toFixed(n));
    const pct = (v) => (v === null || v === undefined ? "–" : Math.round(v * 100) + " %");
    const secs = (v) => (v === null || v === undefined ? "–" : Math.round(v) + " s");
    $("alarm-burden-totals").textContent = b.pipeline.alarms + " alarms, " +
      fix(b.pipeline.per_patient_day, 2) + " per patient-day (" + b.patients + " patients, " +
      fix(b.patient_days, b.patient_days < 10 ? 3 : 1) + " patient-days); " + b.delayed_readings +
      " readings delayed by confirmation";
    const row = (name, prio, f) => {
      const tr = el("tr", {});
      [name, prio, f.alarms, fix(f.per_patient_day, 3), pct(f.share_acknowledged),
       secs(f.ack_p50_s), secs(f.ack_p90_s), f.escalations, f.delayed_readings,
       pct(f.top10_share)].forEach((v) => tr.appendChild(el("td", {}, String(v))));
      return tr;
    };
    const rows = [row("all", "", b.pipeline)];
    for (const [name, f] of Object.entries(b.by_condition)) rows.push(row(label(name), f.priority, f));
    $("alarm-burden-table").tBodies[0].replaceChildren(...rows);
  }

  function draw(d) {
    $("k-patients").textContent = d.patients.length;
    $("k-rate").textContent = d.readings_per_second.toFixed(1);
    $("k-anomalies").textContent = d.totals.anomalies;
    $("k-alerts").textContent = d.totals.alerts;
    drawPatients(d.patients);
    drawEvents(d.events);
    drawCharts(d);
    drawBurden(d.alarm_burden);
    const s = $("status");
    s.className = "status";
    s.textContent = "updated " + clock(d.generated_at);
  }

  function fail(text) {
    const s = $("status");
    s.className = "status error";
    s.textContent = text;
  }

  async function poll() {
    try {
      const res = await fetch("/api/ward", { cache: "no-store",
        headers: token ? { Authorization: "Bearer " + token } : {} });
      if (res.status === 401) {
        const t = window.prompt("This ward asks for a token (http_token_env):");
        if (t) { token = t; sessionStorage.setItem("bppipe-token", t); }
        else fail("a token is required (open the page as /#token=...)");
      } else if (!res.ok) {
        fail("bppipe answered " + res.status);
      } else {
        draw(await res.json());
      }
    } catch (e) {
      fail("bppipe unreachable: " + e.message);
    }
    setTimeout(poll, EVERY_MS);
  }
  poll();
})();
