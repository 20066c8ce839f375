// lambdalet console: the little the server-rendered pages need to be live. Every request
// goes to the same API any client uses, with the viewer's own session or none
// (--auth none); changes carry X-Lambdalet-Console: 1, which the API asks of a session.
"use strict";

(function () {
  const fnEl = document.getElementById("function");
  if (!fnEl) return; // the list pages need no script
  const NAME = fnEl.dataset.function;
  const enc = encodeURIComponent(NAME);

  async function api(method, path, body, headers) {
    const h = Object.assign({ "X-Lambdalet-Console": "1" }, headers || {});
    if (body !== undefined && !("Content-Type" in h)) h["Content-Type"] = "application/json";
    const resp = await fetch(path, { method, headers: h, body, credentials: "same-origin" });
    return resp;
  }

  async function json(path) {
    const r = await api("GET", path);
    if (!r.ok) throw new Error(path + ": " + r.status + " " + (await r.text()));
    return r.json();
  }

  function errorText(text) {
    try {
      const v = JSON.parse(text);
      return (v.errorType || v.Type || "Error") + ": " + (v.message || v.Message || v.errorMessage || text);
    } catch (_) {
      return text;
    }
  }

  // ---- tabs ---------------------------------------------------------------------------
  const tabs = Array.from(document.querySelectorAll("nav.tabs button[data-tab]"));
  function show(tab) {
    for (const b of tabs) {
      const on = b.dataset.tab === tab;
      b.setAttribute("aria-selected", on ? "true" : "false");
      const section = document.getElementById("tab-" + b.dataset.tab);
      if (section) section.hidden = !on;
    }
    if (tab === "monitor") drawCharts();
    if (location.hash !== "#" + tab) history.replaceState(null, "", "#" + tab);
  }
  for (const b of tabs) b.addEventListener("click", () => show(b.dataset.tab));

  // ---- monitor: charts, totals, queue, recent invocations -------------------------------
  const charts = {};
  let minutes = [];
  const chartSpecs = {
    "chart-invocations": [
      ["Invocations", "#0972d3", (m) => m.invocations],
      ["Errors", "#d91515", (m) => m.errors],
      ["Throttles", "#8d6605", (m) => m.throttles],
    ],
    "chart-duration": [
      ["p50", "#0972d3", (m) => m.p50Ms],
      ["p90", "#8d6605", (m) => m.p90Ms],
      ["p99", "#d91515", (m) => m.p99Ms],
    ],
    "chart-concurrency": [["Running at once", "#037f0c", (m) => m.maxConcurrency]],
    "chart-cold": [
      ["Cold starts", "#d91515", (m) => m.coldStarts],
      ["Warm", "#037f0c", (m) => m.invocations - m.coldStarts],
    ],
  };

  function seriesData(id) {
    const xs = minutes.map((m) => m.startMs / 1000);
    return [xs].concat(chartSpecs[id].map(([, , get]) => minutes.map((m) => {
      const v = get(m);
      return v === null || v === undefined ? null : v;
    })));
  }

  function drawCharts() {
    if (typeof uPlot === "undefined") return;
    for (const id of Object.keys(chartSpecs)) {
      const el = document.getElementById(id);
      if (!el || el.offsetParent === null) continue; // hidden: drawn when shown
      const width = Math.max(el.clientWidth, 200);
      if (!charts[id]) {
        charts[id] = new uPlot({
          width, height: 200,
          scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
          series: [{}].concat(chartSpecs[id].map(([label, stroke]) => ({
            label, stroke, width: 2, spanGaps: false,
            // Durations are sparse (none in a minute without invocations): a lone minute
            // shows as a point. Counts are a line.
            points: { show: id === "chart-duration" },
          }))),
          axes: [{}, { size: 50 }],
        }, seriesData(id), el);
      } else {
        charts[id].setSize({ width, height: 200 });
        charts[id].setData(seriesData(id));
      }
    }
  }
  window.addEventListener("resize", () => drawCharts());

  function card(label, value) {
    return "<div class=\"card\"><b>" + value + "</b><span>" + label + "</span></div>";
  }

  async function refreshMetrics() {
    const v = await json("/lambdalet/v1/functions/" + enc + "/metrics?minutes=60");
    minutes = v.minutes;
    const total = minutes.reduce((a, m) => a + m.invocations, 0);
    document.getElementById("chart-invocations").dataset.total = String(total);
    const errors = minutes.reduce((a, m) => a + m.errors, 0);
    const throttles = minutes.reduce((a, m) => a + m.throttles, 0);
    const cold = minutes.reduce((a, m) => a + m.coldStarts, 0);
    const last = [...minutes].reverse().find((m) => m.p50Ms !== null);
    document.getElementById("totals").innerHTML =
      card("invocations, last hour", total) + card("errors", errors) + card("throttles", throttles) +
      card("cold starts", cold) + card("p50, last active minute", last ? fmtMs(last.p50Ms) : "-") +
      card("running now", v.totals.concurrentExecutions);
    drawCharts();
  }

  async function refreshQueue() {
    const v = await json("/lambdalet/v1/queue");
    const q = (v.functions || []).find((f) => f.function === NAME) || {};
    for (const dd of document.querySelectorAll("#queue dd[data-q]")) {
      const k = dd.dataset.q;
      dd.textContent = k === "oldestAgeSeconds"
        ? (q[k] === undefined || q[k] === null ? "-" : q[k] + " s")
        : String(q[k] || 0);
    }
  }

  function fmtMs(v) {
    if (v === null || v === undefined) return "-";
    return v < 1000 ? v.toFixed(v < 10 ? 2 : 1) + " ms" : (v / 1000).toFixed(2) + " s";
  }

  async function refreshRecent() {
    const v = await json("/lambdalet/v1/functions/" + enc + "/logs?limit=20");
    const body = document.querySelector("#recent tbody");
    body.textContent = "";
    for (const r of (v.records || []).slice().reverse()) {
      const tr = document.createElement("tr");
      for (const text of [r.startedAt, r.requestId, r.version, r.outcome, fmtMs(r.durationMs)]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      tr.lastChild.className = "num";
      if (String(r.outcome).toLowerCase() !== "success") tr.children[3].className = "error";
      body.appendChild(tr);
    }
  }

  async function refresh() {
    const jobs = [refreshMetrics(), refreshQueue(), refreshRecent()];
    for (const r of await Promise.allSettled(jobs)) {
      if (r.status === "rejected") console.warn("console refresh:", r.reason);
    }
  }

  // ---- logs: the live tail -------------------------------------------------------------
  const tail = document.getElementById("log-tail");
  const tailState = document.getElementById("log-tail-state");
  const MAX_LINES = 2000;
  function addLine(text) {
    const div = document.createElement("div");
    div.className = "log-line";
    if (text.startsWith("START ")) div.classList.add("log-start");
    else if (text.startsWith("END ")) div.classList.add("log-end");
    else if (text.startsWith("REPORT ")) div.classList.add("log-report");
    else if (/\b(ERROR|Error|Traceback|Exception)\b/.test(text)) div.classList.add("log-error");
    div.textContent = text;
    const atEnd = tail.scrollTop + tail.clientHeight >= tail.scrollHeight - 4;
    tail.appendChild(div);
    while (tail.childElementCount > MAX_LINES) tail.firstElementChild.remove();
    if (atEnd) tail.scrollTop = tail.scrollHeight;
  }
  function setTailState(text, kind) {
    tailState.textContent = text;
    tailState.className = "badge " + kind;
  }
  const source = new EventSource("/lambdalet/v1/functions/" + enc + "/logs/stream?recent=20");
  source.onopen = () => setTailState("live", "ok");
  source.onerror = () => setTailState("reconnecting", "warn");
  source.addEventListener("record", (e) => {
    const r = JSON.parse(e.data);
    // A runtime keeps a multi-line record (a traceback) on one line with \r, as in Lambda.
    for (const line of r.log.replace(/\r/g, "\n").split("\n")) {
      if (line !== "") addLine(line);
    }
  });
  source.addEventListener("lagged", (e) => {
    addLine("[" + JSON.parse(e.data).missed + " records skipped: the tail fell behind]");
  });
  document.getElementById("log-clear").addEventListener("click", () => { tail.textContent = ""; });

  // ---- test: invoke with a payload -----------------------------------------------------
  const status = document.getElementById("test-status");
  function setStatus(text, kind) {
    status.textContent = text;
    status.className = kind;
  }
  document.getElementById("test-invoke").addEventListener("click", async (ev) => {
    const button = ev.currentTarget;
    const payload = document.getElementById("test-payload").value;
    try {
      JSON.parse(payload);
    } catch (e) {
      setStatus("The event is not JSON: " + e.message, "bad");
      return;
    }
    button.disabled = true;
    setStatus("Invoking…", "muted");
    document.getElementById("test-response").textContent = "";
    document.getElementById("test-log").textContent = "";
    const started = performance.now();
    try {
      const r = await api("POST", "/2015-03-31/functions/" + enc + "/invocations", payload,
        { "X-Amz-Log-Type": "Tail" });
      const text = await r.text();
      const took = performance.now() - started;
      document.getElementById("test-request-id").textContent = r.headers.get("x-amzn-requestid") || "";
      document.getElementById("test-duration").textContent = took.toFixed(0) + " ms round trip";
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { /* not JSON */ }
      if (!r.ok) {
        setStatus("Failed", "bad");
        document.getElementById("test-response").textContent = r.status + " " + errorText(text);
      } else {
        setStatus(r.headers.get("x-amz-function-error") ? "Failed" : "Succeeded",
          r.headers.get("x-amz-function-error") ? "bad" : "ok");
        document.getElementById("test-response").textContent = shown;
      }
      const log = r.headers.get("x-amz-log-result");
      if (log) {
        const bytes = Uint8Array.from(atob(log), (c) => c.charCodeAt(0));
        document.getElementById("test-log").textContent =
          new TextDecoder().decode(bytes).replace(/\r/g, "\n");
      }
    } catch (e) {
      setStatus("Failed", "bad");
      document.getElementById("test-response").textContent = String(e);
    } finally {
      button.disabled = false;
      refresh();
    }
  });

  // ---- configuration: enable/disable, aliases, versions ---------------------------------
  const configStatus = document.getElementById("config-status");
  async function change(method, path, body, done) {
    const r = await api(method, path, body);
    if (!r.ok) {
      configStatus.textContent = errorText(await r.text());
      configStatus.className = "error";
      return false;
    }
    if (done) done(r);
    return true;
  }
  document.getElementById("toggle-enabled").addEventListener("click", async () => {
    const enabled = fnEl.dataset.enabled === "true";
    const path = "/2017-10-31/functions/" + enc + "/concurrency";
    const ok = enabled
      ? await change("PUT", path, JSON.stringify({ ReservedConcurrentExecutions: 0 }))
      : await change("DELETE", path);
    if (ok) location.reload();
    else show("config");
  });
  for (const tr of document.querySelectorAll("#aliases tr[data-alias]")) {
    tr.querySelector(".alias-point").addEventListener("click", async () => {
      const version = tr.querySelector("select").value;
      const alias = tr.dataset.alias;
      await change("PUT", "/2015-03-31/functions/" + enc + "/aliases/" + encodeURIComponent(alias),
        JSON.stringify({ FunctionVersion: version }), () => {
          tr.querySelector(".alias-version").textContent = version;
          configStatus.textContent = alias + " now points at version " + version + ".";
          configStatus.className = "muted";
        });
    });
  }
  document.getElementById("publish-version").addEventListener("click", async () => {
    if (await change("POST", "/2015-03-31/functions/" + enc + "/versions", "{}")) {
      location.hash = "#config";
      location.reload();
    }
  });

  // ---- start ---------------------------------------------------------------------------
  const first = location.hash.replace("#", "");
  show(tabs.some((b) => b.dataset.tab === first) ? first : "monitor");
  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, 5000);
})();
