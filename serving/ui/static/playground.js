// The multihead playground: lists the served models, builds an input form from a model's
// signature and card, calls the gateway's own REST API and draws every head.
// Plain JS, no build step, no inline code (the page's CSP allows scripts and styles from
// this origin only). The API key typed into the page lives in `state.key` and nowhere
// else: never localStorage, never a cookie, never a URL.
"use strict";

(function () {
  // Units for regression heads whose model card names none (the card's `unit` wins).
  const UNITS = { age: "years", price: "EUR" };
  // A class head with more labels than this is drawn as its top entries, most likely first.
  const MAX_BARS = 10;

  const state = { key: "", models: [], byName: {}, metadata: {}, diagramUrl: null };
  const $ = (id) => document.getElementById(id);

  // -- small DOM helpers --------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  // Shared with manage.js (loaded after this file), so that it builds its controls alike.
  window.multiheadUi = Object.freeze({ el });
  const svgNS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    const node = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }
  function setStatus(text, isError) {
    const s = $("status");
    s.textContent = text || "";
    s.classList.toggle("error", Boolean(isError));
  }
  const pct = (p) => (100 * p).toFixed(1) + "%";
  function fmt(x) {
    if (typeof x !== "number" || !isFinite(x)) return String(x);
    return x.toLocaleString("en-US", { maximumFractionDigits: Math.abs(x) >= 100 ? 1 : 2 });
  }

  // -- HTTP ----------------------------------------------------------------------------
  function headers(json) {
    const h = {};
    if (json) h["Content-Type"] = "application/json";
    if (state.key) h.Authorization = "Bearer " + state.key;
    return h;
  }
  async function call(method, path, body) {
    const started = performance.now();
    const resp = await fetch(path, {
      method, headers: headers(body !== undefined), cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await resp.text();
    const ms = performance.now() - started;
    let data = null;
    try { data = JSON.parse(text); } catch (e) { data = { error: text }; }
    return { ok: resp.ok, status: resp.status, data, ms, text };
  }
  function errorText(r) {
    const msg = (r.data && r.data.error) || ("HTTP " + r.status);
    if (r.status === 401) return msg + " Enter an API key above and press Use key.";
    return msg;
  }

  // -- copyable snippets ---------------------------------------------------------------
  const shellQuote = (s) => "'" + s.replace(/'/g, "'\\''") + "'";
  function curlLine(path, body) {
    const parts = ["curl -s -X POST " + shellQuote(location.origin + path),
      "-H 'Content-Type: application/json'"];
    if (state.key) parts.push('-H "Authorization: Bearer $MULTIHEAD_API_KEY"');
    parts.push("-d " + shellQuote(JSON.stringify(body)));
    return parts.join(" ");
  }
  function sdkLine(expr) {
    const key = state.key ? ', api_key=os.environ["MULTIHEAD_API_KEY"]' : "";
    const imports = state.key ? "import os; " : "";
    return imports + "from multihead_client import Client; " +
      "Client(" + JSON.stringify(location.origin) + key + ")." + expr;
  }
  // JSON literals of strings, numbers and lists are Python literals too.
  const py = (v) => JSON.stringify(v);

  function copyBlock(title, text, id) {
    const pre = el("pre", { id, text });
    const btn = el("button", { type: "button", text: "Copy", "aria-label": "Copy " + title });
    btn.addEventListener("click", () => {
      const done = () => { btn.textContent = "Copied"; setTimeout(() => { btn.textContent = "Copy"; }, 1500); };
      const fallback = () => {
        const range = document.createRange();
        range.selectNodeContents(pre);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        btn.textContent = "Selected: press Ctrl+C";
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else fallback();
    });
    return el("div", {}, el("div", { class: "code-head" }, el("span", { text: title }), btn), pre);
  }

  function renderOutcome(out, prefix, r, drawn, snippets) {
    out.replaceChildren();
    out.hidden = false;
    out.append(el("p", { class: "meta", id: prefix + "-latency",
      text: "HTTP " + r.status + " in " + r.ms.toFixed(1) + " ms" }));
    if (!r.ok) out.append(el("p", { class: "error", id: prefix + "-error", role: "alert",
      text: errorText(r) }));
    else out.append(drawn);
    const raw = el("details", { id: prefix + "-raw" }, el("summary", { text: "Raw JSON" }),
      el("pre", { id: prefix + "-json", text: JSON.stringify(r.data, null, 2) }));
    out.append(raw,
      copyBlock("curl", snippets.curl, prefix + "-curl"),
      copyBlock("Python SDK", snippets.sdk, prefix + "-sdk"));
  }

  // -- drawing heads -------------------------------------------------------------------
  function bars(entries, topLabel) {
    const box = el("div", { class: "bars" });
    for (const [label, p] of entries) {
      const fill = el("div", { class: "bar-fill" });
      fill.style.width = Math.max(0, Math.min(1, p)) * 100 + "%"; // CSSOM: allowed by the CSP
      box.append(el("div", { class: "bar-row" + (label === topLabel ? " is-top" : ""),
        "data-label": label, "data-value": p },
      el("span", { class: "bar-label", text: label }),
      el("div", { class: "bar-track", role: "img", "aria-label": label + " " + pct(p) }, fill),
      el("span", { class: "bar-num", text: pct(p) })));
    }
    return box;
  }

  function headBox(head, kind, value, description) {
    return el("div", { class: "head", "data-head": head, "data-kind": kind,
      "data-value": typeof value === "number" ? value : JSON.stringify(value) },
    el("div", { class: "head-title", text: head + (description ? " — " + description : "") }));
  }

  function drawClasses(name, probs, labels, chosen) {
    const box = headBox(name, "multiclass", probs);
    let entries = probs.map((p, i) => [labels && labels[i] !== undefined ? String(labels[i]) : String(i), p]);
    const top = entries.reduce((a, b) => (b[1] > a[1] ? b : a), entries[0] || ["", 0]);
    if (entries.length > MAX_BARS) entries = entries.slice().sort((a, b) => b[1] - a[1]).slice(0, MAX_BARS);
    const label = chosen !== undefined ? String(chosen) : top[0];
    box.dataset.label = label;
    box.append(el("div", { class: "head-value", text: label }), bars(entries, label));
    return box;
  }

  function drawBinary(name, p, labels) {
    const box = headBox(name, "binary", p);
    const positive = labels && labels.length === 2 ? String(labels[1]) : name;
    const label = labels && labels.length === 2 ? String(p >= 0.5 ? labels[1] : labels[0]) : null;
    if (label !== null) box.dataset.label = label;
    box.append(el("div", { class: "head-value", text: label !== null ? label + " (" + positive + " " + pct(p) + ")" : pct(p) }),
      bars([["P(" + positive + ")", p]], null));
    return box;
  }

  function drawRegression(name, v, unit) {
    const box = headBox(name, "regression", v);
    box.append(el("div", { class: "head-value", text: fmt(v) + (unit ? " " + unit : "") }));
    return box;
  }

  function drawOther(name, v) {
    const box = headBox(name, "output", v);
    box.append(el("pre", { text: JSON.stringify(v) }));
    return box;
  }

  // One example's outputs (head name -> value) drawn per head of the model listing.
  function drawHeads(model, row) {
    const wrap = el("div", { class: "heads", id: "predict-heads" });
    const heads = model.heads && model.heads.length ? model.heads : Object.keys(row)
      .filter((k) => !(k.endsWith("_label") && k.slice(0, -6) in row))
      .map((k) => ({ name: k, kind: "output", labels: null }));
    for (const h of heads) {
      if (!(h.name in row)) continue;
      let v = row[h.name];
      if (Array.isArray(v) && v.length === 1 && h.kind !== "multiclass") v = v[0];
      if (h.kind === "multiclass" && Array.isArray(v)) wrap.append(drawClasses(h.name, v, h.labels, row[h.name + "_label"]));
      else if (h.kind === "binary" && typeof v === "number") wrap.append(drawBinary(h.name, v, h.labels));
      else if (h.kind === "regression" && typeof v === "number") wrap.append(drawRegression(h.name, v, unitOf(model.name, h.name)));
      else wrap.append(drawOther(h.name, v));
    }
    return wrap;
  }

  // The unit of a regression head: the model card's (in the listing), else the table's.
  function unitOf(modelName, head) {
    const m = state.byName[modelName];
    const h = m && (m.heads || []).find((x) => x.name === head);
    return (h && h.unit) || UNITS[head] || "";
  }

  // -- models --------------------------------------------------------------------------
  async function loadModels() {
    setStatus("Loading models…");
    const r = await call("GET", "/v1/models");
    if (!r.ok) { setStatus(errorText(r), true); return; }
    state.models = r.data.models || [];
    state.byName = Object.fromEntries(state.models.map((m) => [m.name, m]));
    renderModelTable();
    // Model management (manage.js) adds its controls to the table it is told about.
    document.dispatchEvent(new CustomEvent("multihead:models",
      { detail: { models: state.models, key: state.key } }));
    const select = $("model-select");
    const previous = select.value;
    select.replaceChildren(...state.models.map((m) => el("option", { value: m.name, text: m.name })));
    if (previous && state.byName[previous]) select.value = previous;
    setStatus(state.models.length + " models served.");
    await chooseModel();
  }

  function renderModelTable() {
    const body = $("models-table").tBodies[0];
    body.replaceChildren(...state.models.map((m) => {
      const versions = (m.versions || []).map((v) => el("span", { class: "tag", text: "v" + v.version + " " + v.state }));
      const labels = Object.entries(m.labels || {}).map(([k, v]) => el("span", { class: "tag", text: k + " → v" + v }));
      const inputs = (m.inputs || []).map((i) => el("span", { class: "tag", text: i.name + ": " + i.kind }));
      const heads = (m.heads || []).map((h) => el("span", { class: "tag", text: h.name + ": " + h.kind }));
      const btn = el("button", { type: "button", text: "Try", "aria-label": "Try " + m.name, "data-model": m.name });
      btn.addEventListener("click", async () => {
        $("model-select").value = m.name;
        await chooseModel();
        location.hash = "#predict";
        $("model-select").focus();
      });
      return el("tr", { "data-model": m.name },
        el("th", { scope: "row", text: m.name }),
        el("td", { "data-title": "versions" }, ...versions),
        el("td", { "data-title": "labels" }, ...(labels.length ? labels : [el("span", { text: "—" })])),
        el("td", { "data-title": "inputs" }, ...inputs),
        el("td", { "data-title": "heads" }, ...heads),
        el("td", {}, btn));
    }));
  }

  function modelPath(name) {
    const v = $("version-select").value;
    const base = "/v1/models/" + encodeURIComponent(name);
    if (v.startsWith("version:")) return base + "/versions/" + v.slice(8);
    if (v.startsWith("label:")) return base + "/labels/" + encodeURIComponent(v.slice(6));
    return base;
  }
  function versionKwarg() {
    const v = $("version-select").value;
    if (v.startsWith("version:")) return ", version=" + v.slice(8);
    if (v.startsWith("label:")) return ", label=" + py(v.slice(6));
    return "";
  }

  async function chooseModel() {
    const m = state.byName[$("model-select").value];
    if (!m) return;
    const versions = (m.versions || []).filter((v) => v.state === "AVAILABLE");
    $("version-select").replaceChildren(
      el("option", { value: "", text: "newest available" }),
      ...versions.map((v) => el("option", { value: "version:" + v.version, text: "version " + v.version })),
      ...Object.entries(m.labels || {}).map(([k, v]) => el("option", { value: "label:" + k, text: "label " + k + " (v" + v + ")" })));
    const sigs = m.signatures && m.signatures.length ? m.signatures : ["serving_default"];
    $("signature-select").replaceChildren(...sigs.map((s) => el("option", { value: s, text: s })));
    if (sigs.includes("serving_default")) $("signature-select").value = "serving_default";
    $("model-description").textContent = m.description || "";
    $("predict-out").hidden = true;
    await renderInputs();
    await loadDiagram();
  }

  // -- the input form ------------------------------------------------------------------
  // The listing describes serving_default; other signatures come from TF Serving's metadata.
  async function signatureInputs(m, signature) {
    if (signature === "serving_default" && m.inputs && m.inputs.length) return m.inputs;
    if (!state.metadata[m.name]) {
      const r = await call("GET", "/v1/models/" + encodeURIComponent(m.name) + "/metadata");
      if (!r.ok) { setStatus(errorText(r), true); return []; }
      state.metadata[m.name] = r.data.metadata.signature_def.signature_def;
    }
    const sig = state.metadata[m.name][signature];
    if (!sig) return [];
    const cards = Object.fromEntries((m.inputs || []).map((i) => [i.name, i]));
    return Object.entries(sig.inputs).map(([name, t]) => {
      const shape = t.tensor_shape.unknown_rank ? null : t.tensor_shape.dim.map((d) => Number(d.size));
      const kind = t.dtype === "DT_STRING" ? ((cards[name] || {}).kind === "image" ? "image" : "text")
        : /FLOAT|DOUBLE|HALF/.test(t.dtype) ? "float" : "int";
      return { name, dtype: t.dtype, kind, shape, description: (cards[name] || {}).description };
    });
  }

  function vectorLength(input) {
    const s = input.shape;
    return s && s.length === 2 && s[1] > 0 ? s[1] : null;
  }

  async function renderInputs() {
    const m = state.byName[$("model-select").value];
    const box = $("input-fields");
    box.replaceChildren(el("legend", { text: "Inputs" }));
    if (!m) return;
    const inputs = await signatureInputs(m, $("signature-select").value);
    box.dataset.inputs = JSON.stringify(inputs.map((i) => i.name));
    for (const input of inputs) {
      const id = "in-" + input.name;
      const hintText = [input.description, input.max_tokens ? "up to " + input.max_tokens + " tokens" : ""]
        .filter(Boolean).join("; ");
      const hint = hintText ? el("p", { class: "hint", id: id + "-hint", text: hintText }) : null;
      const row = el("div", { class: "row", "data-input": input.name, "data-kind": input.kind });
      const kind = input.kind === "string" ? "text" : input.kind;
      if (kind === "text") {
        row.append(el("label", { for: id, text: input.name + " (text)" }),
          el("textarea", { id, rows: input.max_tokens > 40 ? 4 : 2, "aria-describedby": hint ? id + "-hint" : null }), hint);
      } else if (kind === "image") {
        const file = el("input", { id, type: "file", accept: "image/png,image/jpeg", "aria-describedby": hint ? id + "-hint" : null });
        const preview = el("img", { class: "preview", id: id + "-preview", alt: "chosen picture", hidden: true });
        file.addEventListener("change", () => {
          if (preview.src) URL.revokeObjectURL(preview.src);
          if (file.files[0]) { preview.src = URL.createObjectURL(file.files[0]); preview.hidden = false; }
        });
        row.append(el("label", { for: id, text: input.name + " (PNG or JPEG picture)" }), file, preview, hint);
      } else if ((kind === "float" || kind === "int") && vectorLength(input)) {
        const n = vectorLength(input);
        const group = el("fieldset", { class: "vector", id });
        group.append(el("legend", { text: input.name + " (" + n + " numbers)" }));
        for (let i = 0; i < n; i++) {
          group.append(el("div", {}, el("label", { for: id + "-" + i, text: input.name + "[" + i + "]" }),
            el("input", { id: id + "-" + i, type: "number", step: kind === "int" ? "1" : "any", value: "0", required: true })));
        }
        row.append(group, hint);
      } else if (kind === "float" || kind === "int") {
        const scalar = input.shape && input.shape.length === 1;
        row.append(el("label", { for: id, text: input.name + (scalar ? " (number)" : " (numbers, comma separated)") }),
          el("input", { id, type: scalar ? "number" : "text", step: "any", value: scalar ? "0" : "",
            "aria-describedby": hint ? id + "-hint" : null }), hint);
      } else {
        row.append(el("label", { for: id, text: input.name + " (" + input.kind + ")" }),
          el("input", { id, type: "text" }), hint);
      }
      box.append(row);
    }
    state.inputs = inputs;
  }

  function readFileB64(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
      reader.onerror = () => reject(new Error("could not read " + file.name));
      reader.readAsDataURL(file);
    });
  }

  // One instance from the form: {name: value}; `sdk` holds the Python value per input.
  async function readInstance() {
    const instance = {}, sdk = {};
    for (const input of state.inputs || []) {
      const id = "in-" + input.name;
      const kind = input.kind === "string" ? "text" : input.kind;
      if (kind === "text") {
        instance[input.name] = $(id).value;
        sdk[input.name] = "[" + py($(id).value) + "]";
      } else if (kind === "image") {
        const file = $(id).files[0];
        if (!file) throw new Error("Choose a picture for the input " + input.name + ".");
        instance[input.name] = { b64: await readFileB64(file) };
        sdk[input.name] = "[open(" + py(file.name) + ", \"rb\").read()]";
      } else if (vectorLength(input)) {
        const values = [];
        for (let i = 0; i < vectorLength(input); i++) {
          const x = Number($(id + "-" + i).value);
          if ($(id + "-" + i).value.trim() === "" || !isFinite(x)) throw new Error(input.name + "[" + i + "] must be a number.");
          values.push(x);
        }
        instance[input.name] = values;
        sdk[input.name] = "[" + py(values) + "]";
      } else {
        const raw = $(id).value.trim();
        const values = raw === "" ? [] : raw.split(/[\s,]+/).map(Number);
        if (values.some((x) => !isFinite(x))) throw new Error(input.name + " must be numbers separated by commas.");
        const v = input.shape && input.shape.length === 1 ? (values[0] ?? 0) : values;
        instance[input.name] = v;
        sdk[input.name] = "[" + py(v) + "]";
      }
    }
    return { instance, sdk };
  }

  async function predict(event) {
    event.preventDefault();
    const m = state.byName[$("model-select").value];
    if (!m) return;
    const btn = $("predict-btn");
    let read;
    try { read = await readInstance(); } catch (e) { setStatus(e.message, true); return; }
    setStatus("");
    const signature = $("signature-select").value;
    const body = { instances: [read.instance] };
    if (signature !== "serving_default") body.signature_name = signature;
    const path = modelPath(m.name) + ":predict";
    btn.disabled = true;
    try {
      const r = await call("POST", path, body);
      let drawn = null;
      if (r.ok) {
        let row = (r.data.predictions || [])[0];
        // TF Serving answers a lone output's value bare, without its name.
        if (row === null || typeof row !== "object" || Array.isArray(row)) {
          const names = (m.heads || []).map((h) => h.name);
          row = { [names.length === 1 ? names[0] : "output"]: row };
        }
        drawn = drawHeads(m, row);
      }
      const sdkInputs = "{" + Object.entries(read.sdk).map(([k, v]) => py(k) + ": " + v).join(", ") + "}";
      const sig = signature !== "serving_default" ? ", signature=" + py(signature) : "";
      renderOutcome($("predict-out"), "predict", r, drawn, {
        curl: curlLine(path, body),
        sdk: sdkLine("predict(" + py(m.name) + ", " + sdkInputs + versionKwarg() + sig + ")"),
      });
    } catch (e) {
      setStatus("The request failed: " + e.message, true);
    } finally { btn.disabled = false; }
  }

  async function loadDiagram() {
    const img = $("diagram"), caption = $("diagram-caption");
    const m = state.byName[$("model-select").value];
    if (!m) return;
    // Fetched (not an <img src>) so that the API key travels in the header; shown as a blob.
    const resp = await fetch(modelPath(m.name) + "/diagram", { headers: headers(false) });
    if (state.diagramUrl) { URL.revokeObjectURL(state.diagramUrl); state.diagramUrl = null; }
    if (!resp.ok) {
      img.hidden = true;
      img.removeAttribute("src");
      let msg = "HTTP " + resp.status;
      try { msg = (await resp.json()).error || msg; } catch (e) { /* not JSON */ }
      caption.textContent = "No diagram: " + msg;
      return;
    }
    state.diagramUrl = URL.createObjectURL(await resp.blob());
    img.src = state.diagramUrl;
    img.alt = "Architecture diagram of " + m.name;
    img.hidden = false;
    caption.textContent = "Architecture of " + m.name + " (inputs, layers, heads)";
  }

  // -- task forms ----------------------------------------------------------------------
  function gauge(score) {
    const s = svg("svg", { class: "gauge", viewBox: "0 0 120 70", role: "img",
      "aria-label": "similarity " + pct(score) });
    const arc = "M10 60 A50 50 0 0 1 110 60";
    s.append(svg("path", { d: arc, class: "track", fill: "none", "stroke-width": 12 }));
    s.append(svg("path", { d: arc, class: "fill", fill: "none", "stroke-width": 12,
      pathLength: 100, "stroke-dasharray": Math.max(0, Math.min(1, score)) * 100 + " 100" }));
    const t = svg("text", { x: 60, y: 58, "text-anchor": "middle" });
    t.textContent = pct(score);
    s.append(t);
    return s;
  }

  async function similarity(event) {
    event.preventDefault();
    const left = $("sim-left").value, right = $("sim-right").value;
    const body = { pairs: [[left, right]] };
    const r = await guarded($("similarity-btn"), () => call("POST", "/v1/similarity", body));
    if (!r) return;
    let drawn = null;
    if (r.ok) {
      const score = r.data.scores[0];
      drawn = el("div", { class: "head", id: "similarity-score", "data-head": "similarity", "data-kind": "binary", "data-value": score },
        el("div", { class: "head-title", text: "similarity (model version " + r.data.model_version + ")" }), gauge(score));
    }
    renderOutcome($("similarity-out"), "similarity", r, drawn, {
      curl: curlLine("/v1/similarity", body), sdk: sdkLine("similarity(" + py(left) + ", " + py(right) + ")"),
    });
  }

  async function profile(event) {
    event.preventDefault();
    const posts = $("profile-posts").value.split("\n").map((p) => p.trim()).filter(Boolean);
    if (!posts.length) { setStatus("Type at least one post.", true); return; }
    const body = { authors: [posts] };
    const r = await guarded($("profile-btn"), () => call("POST", "/v1/profile", body));
    if (!r) return;
    let drawn = null;
    if (r.ok) {
      const p = r.data.profiles[0];
      drawn = el("div", { class: "heads", id: "profile-heads" });
      for (const [name, v] of Object.entries(p)) {
        if (typeof v === "number") drawn.append(drawRegression(name, v, unitOf("profiler", name)));
        else if (v && v.distribution) {
          const labels = Object.keys(v.distribution), probs = Object.values(v.distribution);
          drawn.append(labels.length === 2 ? drawBinary(name, probs[1], labels) : drawClasses(name, probs, labels, v.label));
        } else drawn.append(drawOther(name, v));
      }
    }
    renderOutcome($("profile-out"), "profile", r, drawn, {
      curl: curlLine("/v1/profile", body), sdk: sdkLine("profile(" + py(posts) + ")"),
    });
  }

  async function answer(event) {
    event.preventDefault();
    const text = $("answer-text").value, question = $("answer-question").value;
    const topK = Math.max(1, Math.min(50, Math.round(Number($("answer-topk").value) || 5)));
    const body = { text, question, top_k: topK };
    const r = await guarded($("answer-btn"), () => call("POST", "/v1/answer", body));
    if (!r) return;
    let drawn = null;
    if (r.ok) {
      const answers = r.data.answers;
      drawn = el("div", { class: "head", id: "answer-ranked", "data-head": "answer", "data-kind": "multiclass",
        "data-label": answers.length ? answers[0].answer : "" },
      el("div", { class: "head-value", text: answers.length ? answers[0].answer : "—" }),
      bars(answers.map((a) => [a.answer, a.score]), answers.length ? answers[0].answer : null));
    }
    renderOutcome($("answer-out"), "answer", r, drawn, {
      curl: curlLine("/v1/answer", body),
      sdk: sdkLine("answer(" + py(text) + ", " + py(question) + ", top_k=" + topK + ")"),
    });
  }

  async function guarded(btn, fn) {
    btn.disabled = true;
    setStatus("");
    try { return await fn(); } catch (e) {
      setStatus("The request failed: " + e.message, true);
      return null;
    } finally { btn.disabled = false; }
  }

  // -- wiring --------------------------------------------------------------------------
  function report(promise) {
    promise.catch((e) => setStatus("Error: " + e.message, true));
  }
  document.addEventListener("DOMContentLoaded", () => {
    $("key-form").addEventListener("submit", (e) => {
      e.preventDefault();
      state.key = $("api-key").value.trim();
      state.metadata = {};
      report(loadModels());
    });
    document.addEventListener("multihead:reload", () => report(loadModels()));
    $("model-select").addEventListener("change", () => report(chooseModel()));
    $("version-select").addEventListener("change", () => report(loadDiagram()));
    $("signature-select").addEventListener("change", () => report(renderInputs()));
    $("predict-form").addEventListener("submit", (e) => report(predict(e)));
    $("similarity-form").addEventListener("submit", (e) => report(similarity(e)));
    $("profile-form").addEventListener("submit", (e) => report(profile(e)));
    $("answer-form").addEventListener("submit", (e) => report(answer(e)));
    report(loadModels());
  });
})();
