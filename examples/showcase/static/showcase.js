// The showcase's landing page: plain JavaScript, same-origin fetches only.
// The key comes from the URL fragment (#key=..., printed at start-up) or the form, and is
// kept in sessionStorage for this tab; every API call sends it as X-API-Key. Without a key,
// or when the API refuses it (401), the page asks for it instead of showing the refusal.
"use strict";

const $ = (id) => document.getElementById(id);

function currentKey() { return sessionStorage.getItem("conduit-showcase-key") || ""; }

function setKey(key) {
  sessionStorage.setItem("conduit-showcase-key", key);
  $("key-state").textContent = key ? "key set" : "no key yet";
  if (key) $("key-prompt").hidden = true;
}

// Show the prompt (index.html says where the server printed the key) and wait for the form.
function askForKey(refused) {
  $("key-prompt-why").textContent = refused
    ? "The server did not accept that key. It makes a new one each time it starts (unless " +
      "CONDUIT_SHOWCASE_API_KEY is set), so a key from an earlier run no longer works."
    : "This page needs the showcase's API key.";
  $("key-state").textContent = refused ? "key refused" : "no key yet";
  $("status").textContent = "status: waiting for the API key";
  for (const id of ["m-total", "m-rps", "m-p50", "m-p99", "m-mem"]) $(id).textContent = "–";
  if ($("key-prompt").hidden) {
    $("key-prompt").hidden = false;
    $("api-key").focus();
  }
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, body) {
  if (!currentKey()) throw new ApiError(401, "no API key");
  const options = { headers: { "X-API-Key": currentKey(), "Accept": "application/json" } };
  if (body !== undefined) {
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const why = data.detail || data.message || data.error || response.statusText;
    throw new ApiError(response.status, `${response.status} ${typeof why === "string" ? why : JSON.stringify(why)}`);
  }
  return data;
}

// An error for the page: a refused or missing key asks for the key; true if it was that.
function keyProblem(err) {
  if (!(err instanceof ApiError) || err.status !== 401) return false;
  askForKey(Boolean(currentKey()));
  return true;
}

function showError(err) {
  if (err && keyProblem(err)) err = null;
  $("error").textContent = err ? String(err.message || err) : "";
}

async function refreshStatus() {
  try {
    const s = await api("/api/status");
    const index = s.index ? `docs index: ${s.index.state} (${s.index.indexed_files}/${s.index.files} files, ${s.index.chunks} chunks)` : "";
    $("status").textContent = [index, s.router ? `router: ${s.router}` : "", s.model ? `model: ${s.model}` : ""]
      .filter(Boolean).join(" · ");
    return s;
  } catch (err) { if (!keyProblem(err)) $("status").textContent = "status: " + err.message; return null; }
}

async function search(event) {
  event.preventDefault();
  showError(null);
  const list = $("search-results");
  list.textContent = "";
  try {
    const data = await api("/api/search", { query: $("search-q").value, top_k: 5 });
    for (const hit of data.results) {
      const li = document.createElement("li");
      li.className = "hit";
      const title = document.createElement("strong");
      title.textContent = `${hit.title || hit.id}`;
      const meta = document.createElement("span");
      meta.className = "muted";
      meta.textContent = ` ${hit.source || ""} · score ${hit.score}`;
      const snippet = document.createElement("span");
      snippet.className = "snippet";
      snippet.textContent = (hit.text || "").slice(0, 300);
      li.append(title, meta, snippet);
      list.append(li);
    }
    if (!data.results.length) list.textContent = data.index === "ready" ? "no results" : "no results yet: still indexing";
  } catch (err) { showError(err); }
}

async function ask(event) {
  event.preventDefault();
  showError(null);
  $("answer-box").hidden = true;
  $("ask-btn").disabled = true;
  try {
    const data = await api("/api/ask", { question: $("ask-q").value });
    $("answer").textContent = data.answer;
    $("answer-model").textContent = data.model || "(none)";
    $("answer-confidence").textContent = data.confidence != null ? `confidence ${(data.confidence * 100).toFixed(0)}%` : "";
    $("answer-why").textContent = data.reasoning || "";
    $("answer-sources").textContent = "sources: " + data.sources.map((s) => s.id).join(", ") + " · provider: " + data.provider_mode;
    $("answer-box").hidden = false;
  } catch (err) { showError(err); }
  finally { $("ask-btn").disabled = false; }
}

async function pollMetrics() {
  try {
    const m = await api("/metrics");
    $("m-total").textContent = m.throughput.total_requests;
    $("m-rps").textContent = m.throughput.requests_per_second.toFixed(2);
    $("m-p50").textContent = `${m.latency.p50_ms.toFixed(1)} ms`;
    $("m-p99").textContent = `${m.latency.p99_ms.toFixed(1)} ms`;
    $("m-mem").textContent = `${m.memory.current_mb.toFixed(0)} MB`;
  } catch (err) { if (!keyProblem(err)) $("m-total").textContent = err.message; }
}

document.addEventListener("DOMContentLoaded", () => {
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromFragment) { setKey(fromFragment); history.replaceState(null, "", location.pathname); }
  else setKey(currentKey());
  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    setKey($("api-key").value.trim());
    showError(null);
    refreshStatus();
    pollMetrics();
  });
  $("search-form").addEventListener("submit", search);
  $("ask-form").addEventListener("submit", ask);
  refreshStatus();
  pollMetrics();
  setInterval(pollMetrics, 2000);
  setInterval(refreshStatus, 5000);
});
