// The playground's drift view: each head's live distribution (every worker pooled) beside
// the one its model card recorded on the validation split, with the population stability
// index (GET /v1/drift, open like /metrics; serving/drift.py). Plain JS in its own file (the
// page's CSP allows scripts from this origin only).
"use strict";

(function () {
  const MAX_BINS = 12;      // a head with more bins shows those with the largest shares
  const REFRESH_MS = 10000;
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else node.setAttribute(k, String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  const pct = (p) => (100 * p).toFixed(1) + "%";

  function level(row, threshold) {
    if (row.psi === null) return ["pending", "n/a"];
    if (row.psi >= threshold) return ["drift", row.psi.toFixed(3)];
    if (row.psi >= 0.1) return ["watch", row.psi.toFixed(3)];
    return ["stable", row.psi.toFixed(3)];
  }

  function bar(kind, share) {
    const fill = el("span", { class: "drift-fill " + kind });
    fill.style.width = pct(Math.min(1, share));
    return el("span", { class: "drift-track" }, fill);
  }

  function headCard(row, report) {
    const [cls, psiText] = level(row, report.threshold);
    const order = row.bins.map((b, i) => i);
    if (order.length > MAX_BINS) {
      order.sort((a, b) => Math.max(row.training[b], row.live[b]) -
                           Math.max(row.training[a], row.live[a]));
      order.length = MAX_BINS;
    }
    const table = el("table", { class: "drift-bins" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "bin" }),
        el("th", { scope: "col", text: "training" }), el("th", { scope: "col", text: "live" }))));
    const body = el("tbody");
    for (const i of order) {
      body.append(el("tr", {}, el("th", { scope: "row", text: row.bins[i] }),
        el("td", {}, bar("training", row.training[i]),
           el("span", { class: "drift-num", text: pct(row.training[i]) })),
        el("td", {}, bar("live", row.live[i]),
           el("span", { class: "drift-num", text: pct(row.live[i]) }))));
    }
    table.append(body);
    const note = row.psi === null
      ? `${row.count} of ${report.min_count} recent predictions needed for a PSI`
      : `${row.count} recent predictions`;
    return el("article", { class: "card drift-head " + cls, "data-head": row.head,
                           "data-model": row.model },
      el("h3", {}, `${row.model} v${row.version} · ${row.head}`,
         el("span", { class: "drift-psi " + cls, text: "PSI " + psiText })),
      el("p", { class: "hint", text: note }), table);
  }

  async function refresh() {
    const out = $("drift-out");
    if (!out) return;
    const resp = await fetch("/v1/drift", { cache: "no-store" });
    if (!resp.ok) {
      out.replaceChildren(el("p", { class: "error", text: `GET /v1/drift: ${resp.status}` }));
      return;
    }
    const report = await resp.json();
    const cards = report.heads.map((row) => headCard(row, report));
    out.replaceChildren(...(cards.length ? cards : [el("p", { class: "hint",
      text: "No model card here records a training distribution (export with this version " +
            "of training/ to get one)." })]));
    $("drift-threshold").textContent = String(report.threshold);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const btn = $("drift-refresh");
    if (!btn) return;
    btn.addEventListener("click", () => refresh().catch(() => {}));
    refresh().catch(() => {});
    setInterval(() => refresh().catch(() => {}), REFRESH_MS);
  });
})();
