// Model management in the playground: with an admin key (and the gateway in model control
// mode explicit, so that server metadata lists "model_repository"), the models table gets
// load / unload buttons and a version label form, and lists the repository's models that
// are not loaded. Every action is one call of the OIP model repository extension
// (POST /v2/repository/...), the same calls tritonclient makes; labels travel in a load's
// config override: {"parameters": {"version_labels": {"string_value": "stable=1"}}}.
// The key comes from playground.js with each "multihead:models" event and is kept nowhere.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  let key = "";

  const { el } = window.multiheadUi;
  function say(text, isError) {
    const s = $("manage-status");
    s.textContent = text || "";
    s.classList.toggle("error", Boolean(isError));
  }
  async function call(method, path, body) {
    const headers = { Authorization: "Bearer " + key };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, { method, headers, cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    return { ok: resp.ok, status: resp.status, data };
  }

  // Management is offered when the server says the extension works and the key opens it.
  async function available() {
    if (!key) return null;
    const meta = await call("GET", "/v2");
    if (!meta.ok || !(meta.data.extensions || []).includes("model_repository")) return null;
    const index = await call("POST", "/v2/repository/index");
    return index.ok ? index.data : null;
  }

  async function act(what, path, body) {
    say(what + "…");
    const r = await call("POST", path, body);
    if (!r.ok) { say(what + " failed: " + ((r.data && r.data.error) || "HTTP " + r.status), true); return; }
    say(what + ": done on every worker.");
    document.dispatchEvent(new CustomEvent("multihead:reload"));
  }
  const modelPath = (name) => "/v2/repository/models/" + encodeURIComponent(name);
  const labelsText = (labels) => Object.entries(labels).map(([k, v]) => k + "=" + v).join(",");
  function setLabels(name, labels) {
    return act("Labels of " + name + " → " + (labelsText(labels) || "none"), modelPath(name) + "/load",
      { parameters: { config: JSON.stringify({ parameters: { version_labels: { string_value: labelsText(labels) } } }) } });
  }

  function button(text, label, onClick) {
    const b = el("button", { type: "button", text, "aria-label": label });
    b.addEventListener("click", async () => {
      b.disabled = true;
      try { await onClick(); } catch (e) { say(label + " failed: " + e.message, true); }
      finally { b.disabled = false; }
    });
    return b;
  }

  function controls(m) {
    const box = el("div", { class: "manage", "data-manage": m.name });
    box.append(button("Unload", "Unload " + m.name, () => act("Unload " + m.name, modelPath(m.name) + "/unload")));
    const versions = (m.versions || []).filter((v) => v.state === "AVAILABLE").map((v) => v.version);
    if (!versions.length) return box;
    const labelInput = el("input", { type: "text", value: "stable", "aria-label": "Label of " + m.name,
      "data-label-input": m.name, spellcheck: "false" });
    const versionSelect = el("select", { "aria-label": "Version for the label of " + m.name,
      "data-label-version": m.name },
    ...versions.map((v) => el("option", { value: String(v), text: "v" + v })),
    el("option", { value: "", text: "remove" }));
    box.append(labelInput, versionSelect, button("Set label", "Set label of " + m.name, () => {
      const label = labelInput.value.trim();
      if (!label) { say("Type a label name first.", true); return null; }
      const labels = Object.assign({}, m.labels || {});
      if (versionSelect.value) labels[label] = Number(versionSelect.value); else delete labels[label];
      return setLabels(m.name, labels);
    }));
    return box;
  }

  function decorate(models, index) {
    const body = $("models-table").tBodies[0];
    for (const row of body.querySelectorAll("tr[data-model]")) {
      const m = models.find((x) => x.name === row.dataset.model);
      if (m && !row.querySelector(".manage")) row.lastElementChild.append(controls(m));
    }
    const served = new Set(models.map((m) => m.name));
    const shown = new Set([...body.querySelectorAll("tr[data-model]")].map((r) => r.dataset.model));
    const waiting = [...new Set(index.filter((e) => !served.has(e.name) && !shown.has(e.name))
      .map((e) => e.name))];
    for (const name of waiting) {
      const states = index.filter((e) => e.name === name).map((e) =>
        el("span", { class: "tag state-" + e.state, text: (e.version ? "v" + e.version + " " : "") + e.state + (e.reason ? " (" + e.reason + ")" : "") }));
      body.append(el("tr", { class: "not-loaded", "data-model": name, "data-loaded": "false" },
        el("th", { scope: "row", text: name }),
        el("td", { "data-title": "versions" }, ...states),
        el("td", { "data-title": "labels" }, el("span", { text: "—" })),
        el("td", { "data-title": "inputs" }), el("td", { "data-title": "heads" }),
        el("td", {}, el("div", { class: "manage", "data-manage": name },
          button("Load", "Load " + name, () => act("Load " + name, modelPath(name) + "/load"))))));
    }
  }

  document.addEventListener("multihead:models", async (event) => {
    key = event.detail.key || "";
    try {
      const index = await available();
      if (index === null) { say(""); return; }
      decorate(event.detail.models, index);
    } catch (e) {
      say("Model management is not available: " + e.message, true);
    }
  });
})();
