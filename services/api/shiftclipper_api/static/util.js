// Helpers shared by the UI modules: DOM shortcuts, the API client and time formatting.
export const $ = (sel) => document.querySelector(sel);

// The API key lives here (not in app.js's state) so every module's requests use the current one.
export const session = { key: localStorage.getItem("shiftclipper.apiKey") || "" };

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    Object.assign(this, { status, code: err.code, field: err.field });
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { "X-API-Key": session.key };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = resp.status === 204 ? null : await resp.json().catch(() => null);
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

// <video src>, <a href> and EventSource send no headers: the key goes in the query string.
export const withKey = (path) => `${path}${path.includes("?") ? "&" : "?"}api_key=${encodeURIComponent(session.key)}`;
export const jobPath = (jobId, rest = "") => `/jobs/${encodeURIComponent(jobId)}${rest}`;
export const artifactUrl = (jobId, name) => withKey(jobPath(jobId, `/artifacts/${name}`));

/** The artefact name (`clips/000.mp4`, `debug/overlay.mp4`) of one of the job's object keys, or null. */
export function artifactName(jobId, key) {
  const prefix = `jobs/${jobId}/`;
  return key && key.startsWith(prefix) ? key.slice(prefix.length) : null;
}

export function fmtTime(s) {
  if (s == null || !isFinite(s)) return "–";
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}

export function fmtEta(s) {
  if (s == null || !isFinite(s)) return "";
  if (s < 60) return `${Math.max(1, Math.round(s))} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.filter((c) => c != null));
  return node;
}

export const round4 = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
