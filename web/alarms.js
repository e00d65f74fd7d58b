/* The live page's active alarms (docs/live-page.md, docs/alarms.md "The API"): polls
 * /api/alarms, lists the alarms highest priority first and newest first within a priority,
 * with an Ack button on each alarm nobody acknowledged yet. The acknowledgement token (one of
 * [alarms] users_file) is asked once and kept for the tab only (sessionStorage); a token the
 * ward refuses is forgotten, so the next click asks again. The row shows the state the ward
 * gives it: after an Ack, "acknowledged" and by whom once the owner applied it. */
"use strict";
(function () {
  const EVERY_MS = 2000;
  const RANK = { high: 3, medium: 2, low: 1 };
  const KEY = "bppipe-ack-token";
  const $ = (id) => document.getElementById(id);
  const pending = {}; /* alarm id -> what the last Ack answered, until the list catches up */

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function clock(iso) {
    return iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : "–";
  }
  function label(s) { return s ? s.replace(/_/g, " ") : "–"; }
  function listenerHeaders() {
    const t = sessionStorage.getItem("bppipe-token"); /* live.js keeps the listener's token */
    return t ? { Authorization: "Bearer " + t } : {};
  }
  function note(text, error) {
    const n = $("alarms-note");
    n.className = error ? "muted error" : "muted";
    n.textContent = text;
  }

  async function ack(id, button) {
    let token = sessionStorage.getItem(KEY);
    if (!token) {
      token = window.prompt("Your acknowledgement token (from the ward's users file):");
      if (!token) return;
      sessionStorage.setItem(KEY, token);
    }
    button.disabled = true;
    button.textContent = "sending…";
    try {
      const res = await fetch("/api/alarms/" + encodeURIComponent(id) + "/ack",
                              { method: "POST", headers: { Authorization: "Bearer " + token } });
      const body = await res.json().catch(() => ({}));
      if (res.status === 401) {
        sessionStorage.removeItem(KEY);
        note("the ward refused that token; the next Ack asks for it again", true);
      } else if (res.ok) {
        pending[id] = body.outcome === "accepted" ? "sent to its ward" : "acknowledged";
        note((body.by ? body.by + ": " : "") + label(body.outcome) + " (" + id + ")");
      } else {
        note("Ack answered " + res.status + ": " + (body.message || body.outcome || ""), true);
      }
    } catch (e) {
      note("the ward is unreachable: " + e.message, true);
    }
    refresh();
  }

  function draw(alarms) {
    const newer = (a, b) => (a.raised_at < b.raised_at ? 1 : a.raised_at > b.raised_at ? -1 : 0);
    alarms = alarms.slice().sort((a, b) =>
      ((RANK[b.priority] || 0) - (RANK[a.priority] || 0)) || newer(a, b));
    $("k-active-alarms").textContent = alarms.length;
    const rows = alarms.map((a) => {
      const tr = el("tr", { class: "prio-" + a.priority + " state-" + a.state,
                            "data-alarm": a.alarm_id });
      const prio = el("td", {});
      prio.appendChild(el("span", { class: "badge prio " + a.priority }, a.priority));
      tr.appendChild(prio);
      tr.appendChild(el("td", { class: "id" }, a.patient_id));
      tr.appendChild(el("td", {}, label(a.condition)));
      const state = el("td", { class: "state" },
                       label(a.state) + (a.tier ? " · tier " + a.tier : ""));
      const after = a.acknowledged_by ? " by " + a.acknowledged_by
                  : pending[a.alarm_id] ? " · " + pending[a.alarm_id] : "";
      if (after) state.appendChild(el("span", { class: "muted" }, after));
      tr.appendChild(state);
      tr.appendChild(el("td", { class: "time" }, clock(a.raised_at)));
      const act = el("td", {});
      if (a.state !== "acknowledged" && !a.acknowledged_by) {
        const b = el("button", { class: "ack", type: "button" }, "Ack");
        b.addEventListener("click", () => ack(a.alarm_id, b));
        act.appendChild(b);
      }
      tr.appendChild(act);
      if (a.acknowledged_by) delete pending[a.alarm_id];
      return tr;
    });
    $("alarms").tBodies[0].replaceChildren(...rows);
    if (!rows.length) {
      const tr = el("tr", {});
      tr.appendChild(el("td", { colspan: 6, class: "muted" }, "no active alarm"));
      $("alarms").tBodies[0].replaceChildren(tr);
    }
  }

  let timer = null;
  async function refresh() {
    clearTimeout(timer);
    try {
      const res = await fetch("/api/alarms", { cache: "no-store", headers: listenerHeaders() });
      if (res.status === 404) { $("alarms-section").hidden = true; return; } /* no [alarms] */
      if (res.ok) { $("alarms-section").hidden = false; draw((await res.json()).alarms || []); }
    } catch (e) {
      /* live.js says when the ward is unreachable */
    }
    timer = setTimeout(refresh, EVERY_MS);
  }
  refresh();
})();
