// leafvcu dashboard: polls the firmware's JSON interface (docs/dashboard.md) and changes parameters through it.
// tools/webbuild.py puts uPlot (npm, already minified) in front of this file as /app.js; no other code, no CDN.
"use strict";
(function () {
  const POLL_MS = 100;          // /api/live at 10 Hz
  const PLOT_S = 30;            // seconds of history in the plot
  const PLOT = ["udc", "speed", "torque", "pedal"];
  let csrf = null;
  let hv = 0;
  let params = [];
  let tab = "live";
  const hist = [[]].concat(PLOT.map(() => []));
  let plot = null;

  const $ = (id) => document.getElementById(id);

  function say(text, ok) {
    const m = $("msg");
    m.textContent = text;
    m.className = ok ? "msg ok" : "msg";
  }

  async function api(method, path, body) {
    const opt = { method: method, headers: {}, credentials: "same-origin", cache: "no-store" };
    if (method === "POST") {
      opt.headers["Content-Type"] = "application/json";
      if (csrf) opt.headers["X-CSRF-Token"] = csrf;
      opt.body = JSON.stringify(body || {});
    }
    const r = await fetch(path, opt);
    let d = null;
    try { d = await r.json(); } catch (e) { d = { error: "HTTP " + r.status }; }
    if (r.status === 401) setSession(false);
    return { status: r.status, data: d };
  }

  async function change(path, body) {
    const r = await api("POST", path, body);
    if (r.status === 200) say(r.data.reply || "OK", true);
    else say(r.data.error || ("HTTP " + r.status), false);
    return r;
  }

  function setSession(on, token) {
    csrf = on ? (token || csrf) : null;
    $("loginform").hidden = on;
    $("loggedin").hidden = !on;
    document.body.classList.toggle("authed", on);
    renderParams();
  }

  // --- live values and the plot ------------------------------------------------------------------------------
  function cell(name) {
    let c = $("live-" + name);
    if (!c) {
      const d = document.createElement("div");
      d.className = "cell";
      const b = document.createElement("b");
      b.textContent = name;
      c = document.createElement("span");
      c.id = "live-" + name;
      d.appendChild(b);
      d.appendChild(c);
      $("live").appendChild(d);
    }
    return c;
  }

  function makePlot() {
    if (typeof uPlot === "undefined") return null;
    const colors = ["#c0392b", "#8e44ad", "#e67e22", "#27ae60"];
    const series = [{}].concat(PLOT.map((n, i) => ({ label: n, stroke: colors[i], width: 1.5 })));
    const w = Math.max(280, $("chart").clientWidth || 600);
    return new uPlot({ width: w, height: 220, series: series, scales: { x: { time: false } },
      axes: [{ label: "s" }, {}] }, hist, $("chart"));
  }

  async function pollLive() {
    try {
      const r = await api("GET", "/api/live");
      if (r.status === 200) {
        const live = r.data.live;
        for (const k in live) cell(k).textContent = live[k];
        const t = r.data.t / 1000;
        hist[0].push(t);
        PLOT.forEach((n, i) => hist[i + 1].push(parseFloat(live[n])));
        while (hist[0].length && hist[0][0] < t - PLOT_S) hist.forEach((a) => a.shift());
        if (tab === "live") {
          if (!plot) plot = makePlot();
          if (plot) plot.setData(hist);
        }
        $("status").textContent = "mode " + live.mode + " · HV " + (live.hv === "1" || live.hv === 1 ? "on" : "off") +
          " · " + live.udc + " V · " + live.speed + " rpm";
      }
    } catch (e) { /* the board is out of reach for a moment: keep polling */ }
    setTimeout(pollLive, POLL_MS);
  }

  // --- parameters ----------------------------------------------------------------------------------------------
  async function loadParams() {
    const r = await api("GET", "/api/params");
    if (r.status !== 200) return;
    params = r.data.params;
    hv = r.data.hv;
    renderParams();
  }

  function editable(p) {
    // HV-locked rows stay editable with HV on: the firmware refuses them with the console's own message.
    return csrf && p.web;
  }

  function renderParams() {
    $("hvnote").hidden = !hv;
    const body = $("params").tBodies[0];
    body.textContent = "";
    for (const p of params) {
      const tr = document.createElement("tr");
      const name = document.createElement("td");
      name.textContent = p.name;
      if (p.hvlock) { const s = document.createElement("span"); s.className = "lock"; s.textContent = "HV lock"; name.appendChild(s); }
      if (!p.web) { const s = document.createElement("span"); s.className = "console"; s.textContent = "console only"; name.appendChild(s); }
      const val = document.createElement("td");
      val.className = "value";
      const inp = document.createElement("input");
      inp.id = "param-" + p.name;
      inp.value = p.value;
      inp.inputMode = "numeric";
      inp.disabled = !editable(p);
      const go = document.createElement("button");
      go.type = "button";
      go.id = "set-" + p.name;
      go.textContent = "Set";
      go.disabled = !csrf || !p.web;
      go.addEventListener("click", async () => {
        const r = await change("/api/params", { name: p.name, value: inp.value.trim() });
        if (r.status === 200) loadParams();
      });
      val.appendChild(inp);
      val.appendChild(go);
      const range = document.createElement("td");
      range.className = "range";
      range.textContent = p.unit.indexOf("=") >= 0 ? p.min + ".." + p.max + " (" + p.unit + ")" :
        p.min + ".." + p.max + " " + p.unit;
      range.title = "default " + p.default;
      const help = document.createElement("td");
      help.className = "help";
      help.textContent = p.help + " (default " + p.default + ")";
      tr.append(name, val, range, help);
      body.appendChild(tr);
    }
  }

  function download() {
    const out = {};
    for (const p of params) out[p.name] = p.value;
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([JSON.stringify({ params: out }, null, 1)], { type: "application/json" }));
    a.download = "leafvcu-params.json";
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  async function upload(ev) {
    const f = ev.target.files[0];
    ev.target.value = "";
    if (!f) return;
    let d;
    try { d = JSON.parse(await f.text()); } catch (e) { say("not a JSON file", false); return; }
    const table = d && d.params ? d.params : d;
    const r = await change("/api/params", { params: table });
    if (r.status === 200) loadParams();
  }

  // --- status and faults -------------------------------------------------------------------------------------
  async function loadStatus() {
    const r = await api("GET", "/api/status");
    if (r.status !== 200) return;
    $("statusline").textContent = r.data.status;
    $("errors").textContent = r.data.errors.join("\n");
    if (r.data.session && !csrf) setSession(true, r.data.csrf);
    if (!r.data.session && csrf) setSession(false);
    if (r.data.hv !== hv) { hv = r.data.hv; renderParams(); }
  }

  function show(name) {
    tab = name;
    for (const b of document.querySelectorAll("nav button")) b.classList.toggle("on", b.dataset.tab === name);
    for (const s of document.querySelectorAll("main section")) s.hidden = s.id !== "tab-" + name;
    if (name === "params") loadParams();
    if (name === "faults") loadStatus();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("loginform").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const r = await change("/api/login", { pin: $("pin").value.trim() });
      $("pin").value = "";
      if (r.status === 200) { setSession(true, r.data.csrf); say("logged in: changes allowed", true); }
    });
    $("logout").addEventListener("click", async () => { await change("/api/logout", {}); setSession(false); });
    $("save").addEventListener("click", () => change("/api/save", {}));
    $("clear").addEventListener("click", async () => { await change("/api/clear", {}); loadStatus(); });
    $("download").addEventListener("click", download);
    $("upload").addEventListener("change", upload);
    for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => show(b.dataset.tab));
    loadStatus();
    loadParams();
    pollLive();
    setInterval(loadStatus, 2000);
  });
})();
