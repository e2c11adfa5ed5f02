// ShiftClipper web UI: plain ES module, no build step. Every default comes from GET /ui/defaults.
const $ = (sel) => document.querySelector(sel);
const ACTIVE = new Set(["queued", "tracking", "exporting"]);
const FINISHED = new Set(["done", "done_no_shifts", "failed", "cancelled"]);
const STAGES = { upload: "Uploading", queue: "Waiting for a worker", decode: "Reading the video",
  track: "Finding the player", export: "Cutting clips", reel: "Building the reel" };
const ADVANCED = ["pre_roll_s", "post_roll_s", "clip_mode", "reel", "debug_overlay"];

const state = {
  key: localStorage.getItem("shiftclipper.apiKey") || "",
  defaults: null,
  job: null, // the status record of the open job
  files: new Map(), // job id -> the local File, for the preview
  seeds: [],
  cursor: { x: 0.5, y: 0.5 }, // keyboard crosshair on the paused frame, normalised
  events: null, // EventSource of the open job
  results: null,
};

// ---------- helpers ----------
class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    Object.assign(this, { status, code: err.code, field: err.field });
  }
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { "X-API-Key": state.key };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = resp.status === 204 ? null : await resp.json().catch(() => null);
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

const withKey = (path) => `${path}${path.includes("?") ? "&" : "?"}api_key=${encodeURIComponent(state.key)}`;
const artifactUrl = (jobId, name) => withKey(`/jobs/${encodeURIComponent(jobId)}/artifacts/${name}`);

function fmtTime(s) {
  if (s == null || !isFinite(s)) return "–";
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}

function fmtEta(s) {
  if (s == null || !isFinite(s)) return "";
  if (s < 60) return `${Math.max(1, Math.round(s))} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== false && v != null) node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.filter((c) => c != null));
  return node;
}

function banner(message) {
  $("#banner").textContent = message || "";
  $("#banner").hidden = !message;
}

function report(err) {
  banner(err.status === 401 ? "The API key was refused. Check it and save it again." : `Error: ${err.message}`);
}

// ---------- API key ----------
function setupKeyForm() {
  $("#api-key").value = state.key;
  $("#key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.key = $("#api-key").value.trim();
    localStorage.setItem("shiftclipper.apiKey", state.key);
    refreshJobs();
  });
}

// ---------- job list ----------
async function refreshJobs() {
  if (!state.key) {
    $("#key-state").textContent = "Enter your API key to start.";
    return;
  }
  try {
    const { jobs } = await api("/jobs?limit=50");
    banner("");
    $("#key-state").textContent = "Key saved.";
    $("#jobs-section").hidden = false;
    const list = $("#jobs-list");
    list.replaceChildren(
      ...jobs.map((job) =>
        el(
          "li",
          {},
          el(
            "button",
            { type: "button", class: "job-link", "data-job": job.job_id, onclick: () => openJob(job.job_id),
              "aria-current": state.job?.job_id === job.job_id ? "true" : false },
            el("span", { class: "job-name" }, job.name),
            el("span", { class: `pill ${job.status}` }, job.status.replace("_", " ")),
            el("span", { class: "muted" }, new Date(job.created_at).toLocaleString()),
          ),
        ),
      ),
    );
    if (!jobs.length) list.append(el("li", { class: "muted" }, "No jobs yet."));
  } catch (err) {
    $("#key-state").textContent = "";
    $("#jobs-section").hidden = true;
    report(err);
  }
}

// ---------- create + upload ----------
function uploadVideo(jobId, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", `/jobs/${encodeURIComponent(jobId)}/video?filename=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader("X-API-Key", state.key);
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (e) => e.lengthComputable && onProgress(e.loaded, e.total));
    xhr.addEventListener("load", () =>
      xhr.status < 300 ? resolve(xhr.response) : reject(new ApiError(xhr.status, xhr.response)),
    );
    xhr.addEventListener("error", () => reject(new Error("the upload failed (network error)")));
    xhr.send(file);
  });
}

function setupNewJob() {
  $("#video-file").addEventListener("change", () => {
    const file = $("#video-file").files[0];
    if (file && !$("#job-name").value) $("#job-name").value = file.name.replace(/\.[^.]+$/, "");
  });
  $("#new-job").addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = $("#video-file").files[0];
    if (!file) return $("#video-file").focus();
    const button = $("#upload-btn");
    button.disabled = true;
    $("#upload-progress").hidden = false;
    const started = performance.now();
    const show = (done, total) => {
      const secs = (performance.now() - started) / 1000;
      const rate = done / Math.max(secs, 0.001);
      $("#upload-bar").value = total ? done / total : 0;
      const eta = rate > 0 && done < total ? ` · about ${fmtEta((total - done) / rate)} left` : "";
      $("#upload-text").textContent =
        `Uploading ${Math.round((100 * done) / (total || 1))}% (${(done / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB)${eta}`;
    };
    try {
      const job = await api("/jobs", { method: "POST", body: { name: $("#job-name").value.trim() || file.name } });
      state.files.set(job.job_id, file);
      show(0, file.size);
      const record = await uploadVideo(job.job_id, file, show);
      $("#upload-text").textContent = "Upload complete.";
      $("#new-job").reset();
      await refreshJobs();
      await openJob(record.job_id, record);
    } catch (err) {
      $("#upload-text").textContent = "";
      report(err);
    } finally {
      button.disabled = false;
    }
  });
}

// ---------- open a job ----------
async function openJob(jobId, record) {
  if (state.events) state.events.close();
  state.events = null;
  state.results = null;
  try {
    record = record || (await api(`/jobs/${encodeURIComponent(jobId)}`));
  } catch (err) {
    return report(err);
  }
  const switched = state.job?.job_id !== jobId;
  state.job = record;
  banner("");
  $("#job-section").hidden = false;
  $("#job-title").textContent = record.name;
  if (switched) {
    state.seeds = [];
    resetSetupForm();
    loadPreview(state.files.get(jobId));
    if (record.status !== "created" && record.status !== "uploaded") await loadSetup(jobId);
  }
  for (const btn of document.querySelectorAll(".job-link")) {
    if (btn.dataset.job === jobId) btn.setAttribute("aria-current", "true");
    else btn.removeAttribute("aria-current");
  }
  render(record);
  if (ACTIVE.has(record.status)) listen(jobId);
  else if (record.has_results) await loadResults(jobId);
  if (switched) $("#job-title").scrollIntoView({ behavior: "smooth", block: "start" });
}

async function loadSetup(jobId) {
  try {
    fillSetupForm(await api(`/jobs/${encodeURIComponent(jobId)}/setup`));
  } catch (err) {
    if (err.status !== 404) report(err);
  }
}

function render(record) {
  state.job = record;
  const listed = document.querySelector(`.job-link[data-job="${CSS.escape(record.job_id)}"] .pill`);
  if (listed) {
    listed.textContent = record.status.replace("_", " ");
    listed.className = `pill ${record.status}`;
  }
  const status = record.status;
  $("#job-status").textContent = status.replace("_", " ");
  $("#job-status").className = `pill ${status}`;
  $("#setup-form").hidden = !["uploaded", ...FINISHED].includes(status);
  $("#progress-section").hidden = !ACTIVE.has(status) && status !== "failed" && status !== "cancelled";
  $("#cancel-btn").hidden = !ACTIVE.has(status);
  $("#job-bar").value = record.progress || 0;
  const parts = [status === "queued" ? STAGES.queue : FINISHED.has(status) ? status : STAGES[record.stage] || record.stage || status];
  parts.push(`${Math.round(100 * (record.progress || 0))}%`);
  if (ACTIVE.has(status) && record.eta_s != null) parts.push(`about ${fmtEta(record.eta_s)} left`);
  if (record.segments_found) parts.push(`${record.segments_found} shift(s) found`);
  if (record.clips_ready) parts.push(`${record.clips_ready} clip(s) ready`);
  if (record.error) parts.push(`${record.error.code}: ${record.error.message}`);
  $("#job-progress-text").textContent = parts.join(" · ");
  if (!state.results) renderShifts(record.shifts || [], record.video?.duration_s, status);
}

// ---------- live progress ----------
function listen(jobId) {
  const source = new EventSource(withKey(`/jobs/${encodeURIComponent(jobId)}/events`));
  state.events = source;
  source.addEventListener("status", (e) => {
    if (state.job?.job_id !== jobId) return source.close();
    render(JSON.parse(e.data));
  });
  source.addEventListener("end", async () => {
    source.close();
    if (state.job?.job_id !== jobId) return;
    await openJob(jobId);
    refreshJobs();
  });
  source.addEventListener("error", () => {
    // EventSource reconnects by itself; only a closed stream of a finished job needs nothing more.
    if (source.readyState === EventSource.CLOSED) state.events = null;
  });
}

async function cancelJob() {
  try {
    render(await api(`/jobs/${encodeURIComponent(state.job.job_id)}/cancel`, { method: "POST" }));
  } catch (err) {
    report(err);
  }
}

// ---------- shifts, timeline, results ----------
function renderShifts(shifts, duration, status) {
  const section = $("#timeline-section");
  section.hidden = !shifts.length && !FINISHED.has(status);
  if (section.hidden) return;
  const total = duration || Math.max(1, ...shifts.map((s) => s.end_s));
  const results = state.results;
  const toi = results ? results.toi_s : shifts.reduce((sum, s) => sum + (s.end_s - s.start_s), 0);
  const count = results ? results.shift_count : shifts.length;
  $("#summary").replaceChildren(
    el("strong", {}, `${count} shift${count === 1 ? "" : "s"}`),
    ` · time on ice ${fmtTime(toi)}`,
    results ? "" : ACTIVE.has(status) ? " · still looking…" : "",
  );
  if (status === "done_no_shifts") $("#summary").append(" · the player was not found; check the number and colour.");
  $("#timeline-end").textContent = fmtTime(total);
  $("#timeline").replaceChildren(
    ...shifts.map((s) => {
      const label = `Shift ${s.index + 1}: ${fmtTime(s.start_s)} to ${fmtTime(s.end_s)}`;
      const style = `left:${(100 * s.start_s) / total}%;width:${Math.max(0.5, (100 * (s.end_s - s.start_s)) / total)}%`;
      return el("button", { type: "button", class: "shift", style, title: label, "aria-label": label,
        disabled: !results, "data-index": s.index, onclick: () => playClip(s.index) });
    }),
  );
  $("#shift-table tbody").replaceChildren(
    ...shifts.map((s) => {
      const clip = results && clipName(s);
      return el(
        "tr",
        { "data-index": s.index },
        el("td", {}, String(s.index + 1)),
        el("td", {}, fmtTime(s.start_s)),
        el("td", {}, fmtTime(s.end_s)),
        el("td", {}, fmtTime(s.duration_s ?? s.end_s - s.start_s)),
        el("td", {}, `${Math.round(100 * s.confidence)}%`),
        el(
          "td",
          { class: "clip-cell" },
          clip
            ? el("button", { type: "button", class: "secondary small", onclick: () => playClip(s.index) }, "Play")
            : el("span", { class: "muted" }, s.clip_ready ? "ready" : "…"),
          clip
            ? el("a", { href: artifactUrl(state.job.job_id, clip), download: `shift-${s.index + 1}.mp4`,
                class: "download" }, "Download")
            : null,
        ),
      );
    }),
  );
}

function clipName(shift) {
  const prefix = `jobs/${state.job.job_id}/`;
  const key = shift.clip?.key;
  if (!key) return null;
  return key.startsWith(prefix) ? key.slice(prefix.length) : `clips/${String(shift.index).padStart(3, "0")}.mp4`;
}

async function loadResults(jobId) {
  try {
    state.results = await api(`/jobs/${encodeURIComponent(jobId)}/results`);
  } catch (err) {
    if (err.status !== 404) report(err);
    return;
  }
  const res = state.results;
  renderShifts(res.shifts, res.video?.duration_s, state.job.status);
  $("#results-section").hidden = !res.shifts.length;
  $("#results-json").href = artifactUrl(jobId, "results.json");
  $("#results-json").setAttribute("download", `${state.job.name}-results.json`);
  const reelName = res.reel?.key?.split(`jobs/${jobId}/`)[1];
  $("#reel-figure").hidden = !reelName;
  if (reelName) {
    $("#reel-player").src = artifactUrl(jobId, reelName);
    $("#reel-download").href = artifactUrl(jobId, reelName);
    $("#reel-download").setAttribute("download", `${state.job.name}-reel.mp4`);
  }
  if (res.shifts.length) selectShift(res.shifts[0].index, false);
}

function selectShift(index, play) {
  const shift = state.results?.shifts.find((s) => s.index === index);
  const name = shift && clipName(shift);
  if (!name) return;
  for (const node of document.querySelectorAll("[data-index]")) {
    node.classList.toggle("selected", Number(node.dataset.index) === index);
  }
  const player = $("#clip-player");
  player.src = artifactUrl(state.job.job_id, name);
  $("#clip-caption").textContent =
    `Shift ${index + 1}: ${fmtTime(shift.start_s)} – ${fmtTime(shift.end_s)} (${fmtTime(shift.duration_s)})`;
  if (play) player.play().catch(() => {});
}

function playClip(index) {
  selectShift(index, true);
  $("#results-section").scrollIntoView({ behavior: "smooth", block: "nearest" });
}

// ---------- setup form ----------
function buildSetupForm(d) {
  for (const name of ["camera_mode", "mode"]) {
    $(`#${name}`).replaceChildren(...d.choices[name].map((c) => el("option", { value: c.value, title: c.doc }, c.value.replace("_", " "))));
  }
  for (const [name, spec] of Object.entries(d.setup)) {
    const doc = document.getElementById(`${name}-doc`);
    if (doc) doc.textContent = spec.doc;
  }
  $("#advanced-fields").replaceChildren(...ADVANCED.map((name) => fieldFor(name, d.setup[name], d.choices[name])));
  $("#tuning-fields").replaceChildren(
    ...Object.entries(d.tuning).map(([name, spec]) => fieldFor(`tuning.${name}`, spec, null, true)),
  );
  $("#camera_mode").addEventListener("change", updateTuningPlaceholders);
  $("#mode").addEventListener("change", updateChoiceDocs);
  $("#camera_mode").addEventListener("change", updateChoiceDocs);
}

function fieldFor(name, spec, choices, optional = false) {
  const id = name.replace(".", "-");
  const label = name.replace("tuning.", "").replaceAll("_", " ");
  const described = `${id}-doc ${id}-err`;
  let input;
  if (choices) {
    input = el("select", { id, name, "aria-describedby": described },
      ...choices.map((c) => el("option", { value: c.value, title: c.doc }, c.value)));
  } else if (typeof spec.default === "boolean") {
    input = el("input", { id, name, type: "checkbox", "aria-describedby": described });
  } else {
    input = el("input", { id, name, type: "number", inputmode: "decimal", min: spec.min, max: spec.max,
      step: spec.step || "any", "aria-describedby": described });
  }
  input.dataset.kind = choices ? "choice" : typeof spec.default === "boolean" ? "bool" : spec.type || "float";
  if (optional) input.dataset.optional = "1";
  const box = el("div", { class: `field${input.type === "checkbox" ? " check" : ""}`, "data-field": name });
  if (input.type === "checkbox") box.append(el("label", { for: id }, input, ` ${label}`));
  else box.append(el("label", { for: id }, label), input);
  box.append(el("small", { id: `${id}-doc`, class: "doc" }, spec.doc || ""),
    el("small", { id: `${id}-err`, class: "err", "aria-live": "polite" }));
  return box;
}

function updateTuningPlaceholders() {
  const preset = state.defaults.presets[$("#camera_mode").value];
  for (const [name, value] of Object.entries(preset)) {
    const input = document.getElementById(`tuning-${name}`);
    input.placeholder = String(value);
  }
}

function updateChoiceDocs() {
  for (const name of ["camera_mode", "mode"]) {
    const choice = state.defaults.choices[name].find((c) => c.value === $(`#${name}`).value);
    document.getElementById(`${name}-doc`).textContent = choice?.doc || state.defaults.setup[name].doc;
  }
}

function resetSetupForm() {
  const d = state.defaults;
  $("#setup-form").reset();
  for (const [name, spec] of Object.entries(d.setup)) {
    const input = document.getElementById(name);
    if (!input || spec.default == null) continue;
    if (input.type === "checkbox") input.checked = spec.default;
    else input.value = spec.default;
  }
  for (const name of Object.keys(d.tuning)) document.getElementById(`tuning-${name}`).value = "";
  updateTuningPlaceholders();
  updateChoiceDocs();
  clearErrors();
  renderSeeds();
}

function fillSetupForm(setup) {
  for (const [name, value] of Object.entries(setup)) {
    const input = document.getElementById(name);
    if (!input || value == null || typeof value === "object") continue;
    if (input.type === "checkbox") input.checked = value;
    else input.value = value;
  }
  for (const [name, value] of Object.entries(setup.tuning || {})) {
    const input = document.getElementById(`tuning-${name}`);
    if (input) input.value = value;
  }
  syncSwatch("jersey_color");
  syncSwatch("opponent_color");
  state.seeds = (setup.seed_clicks || []).map((s) => ({ ...s }));
  updateTuningPlaceholders();
  updateChoiceDocs();
  renderSeeds();
}

function collectSetup() {
  const setup = {
    jersey_number: $("#jersey_number").value.trim(),
    jersey_color: $("#jersey_color").value.trim(),
    camera_mode: $("#camera_mode").value,
    mode: $("#mode").value,
    seed_clicks: state.seeds,
  };
  const opponent = $("#opponent_color").value.trim();
  if (opponent) setup.opponent_color = opponent;
  for (const name of ADVANCED) {
    const input = document.getElementById(name);
    const kind = input.dataset.kind;
    if (kind === "bool") setup[name] = input.checked;
    else if (kind === "choice") setup[name] = input.value;
    else if (input.value !== "") setup[name] = Number(input.value);
  }
  setup.tuning = {};
  for (const name of Object.keys(state.defaults.tuning)) {
    const value = document.getElementById(`tuning-${name}`).value;
    if (value !== "") setup.tuning[name] = Number(value);
  }
  return setup;
}

function clearErrors() {
  for (const node of document.querySelectorAll("#setup-form .err")) node.textContent = "";
  for (const node of document.querySelectorAll("#setup-form [aria-invalid]")) node.removeAttribute("aria-invalid");
}

function showFieldError(field, message) {
  // "$.tuning.lost_timeout_s" -> the field box "tuning.lost_timeout_s"; "$.seed_clicks[0].x" -> "seed_clicks".
  const parts = (field || "$").replace(/^\$\.?/, "").replace(/\[\d+\]/g, "").split(".").filter(Boolean);
  while (parts.length) {
    const box = document.querySelector(`#setup-form [data-field="${parts.join(".")}"]`);
    if (box) {
      const details = box.closest("details");
      if (details) details.open = true;
      box.querySelector(".err").textContent = message.replace(/ - at `\$[^`]*`$/, "");
      const input = box.querySelector("input, select");
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
      }
      return;
    }
    parts.pop();
  }
  $("#setup-error").textContent = message;
}

function setupRunForm() {
  $("#setup-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors();
    const jobId = state.job.job_id;
    const button = $("#run-btn");
    button.disabled = true;
    try {
      const saved = await api(`/jobs/${encodeURIComponent(jobId)}/setup`, { method: "PUT", body: collectSetup() });
      fillSetupForm(saved);
      const retry = FINISHED.has(state.job.status);
      const record = await api(`/jobs/${encodeURIComponent(jobId)}/${retry ? "retry" : "run"}`, { method: "POST" });
      state.results = null;
      $("#results-section").hidden = true;
      $("#clip-player").removeAttribute("src");
      render(record);
      listen(jobId);
      refreshJobs();
      $("#progress-section").scrollIntoView({ behavior: "smooth", block: "nearest" });
    } catch (err) {
      if (err.status === 400 && err.field) showFieldError(err.field, err.message);
      else if (err.status === 401) report(err);
      else $("#setup-error").textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
  for (const name of ["jersey_color", "opponent_color"]) {
    document.getElementById(`${name}-swatch`).addEventListener("input", (e) => {
      document.getElementById(name).value = e.target.value;
    });
    document.getElementById(name).addEventListener("input", () => syncSwatch(name));
  }
  // An error message goes away as soon as its field is edited.
  $("#setup-form").addEventListener("input", (e) => {
    const box = e.target.closest("[data-field]");
    if (!box) return;
    box.querySelector(".err").textContent = "";
    e.target.removeAttribute("aria-invalid");
  });
}

function syncSwatch(name) {
  const value = document.getElementById(name).value.trim();
  if (/^#[0-9a-f]{6}$/i.test(value)) document.getElementById(`${name}-swatch`).value = value.toLowerCase();
}

// ---------- preview, eyedropper and player marks ----------
const video = () => $("#preview");
const canvas = () => $("#frame");

function loadPreview(file) {
  const v = video();
  if (v.src) URL.revokeObjectURL(v.src);
  v.removeAttribute("src");
  v.load();
  $("#stage").hidden = !file;
  $("#player-controls").hidden = !file;
  $("#setup-form .tools").hidden = !file;
  $("#no-preview").hidden = !!file;
  if (file) v.src = URL.createObjectURL(file);
}

function drawFrame() {
  const v = video();
  const c = canvas();
  if (!v.videoWidth) return;
  if (c.width !== v.videoWidth) [c.width, c.height] = [v.videoWidth, v.videoHeight];
  const ctx = c.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(v, 0, 0, c.width, c.height);
  const r = Math.max(6, c.width / 80);
  if (document.activeElement === c) {
    // Keyboard crosshair: arrows move it, Enter or Space uses the selected tool there.
    const [x, y] = [state.cursor.x * c.width, state.cursor.y * c.height];
    ctx.lineWidth = Math.max(2, r / 4);
    ctx.strokeStyle = "#00e5ff";
    ctx.beginPath();
    ctx.moveTo(x - 2 * r, y); ctx.lineTo(x + 2 * r, y); ctx.moveTo(x, y - 2 * r); ctx.lineTo(x, y + 2 * r);
    ctx.stroke();
  }
  for (const s of state.seeds) {
    if (Math.abs(s.t - v.currentTime) > 0.5) continue;
    ctx.lineWidth = r / 3;
    ctx.strokeStyle = "#ffe600";
    ctx.beginPath();
    ctx.arc(s.x * c.width, s.y * c.height, r, 0, 2 * Math.PI);
    ctx.stroke();
  }
}

function pickAt(nx, ny) {
  const c = canvas();
  const tool = document.querySelector('input[name="tool"]:checked').value;
  if (tool === "seed") {
    const t = Math.round(video().currentTime * 100) / 100;
    state.seeds.push({ t, x: round4(nx), y: round4(ny) });
    renderSeeds();
    drawFrame();
    return;
  }
  // Average a small square: one pixel is noise (compression, stripes).
  const size = 5;
  const x = Math.min(c.width - size, Math.max(0, Math.round(nx * c.width) - 2));
  const y = Math.min(c.height - size, Math.max(0, Math.round(ny * c.height) - 2));
  const ctx = c.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(video(), 0, 0, c.width, c.height); // sample the bare frame, not the marks drawn on it
  const data = ctx.getImageData(x, y, size, size).data;
  drawFrame();
  const sum = [0, 0, 0];
  for (let i = 0; i < data.length; i += 4) for (let k = 0; k < 3; k++) sum[k] += data[i + k];
  const hex = `#${sum.map((v) => Math.round(v / (size * size)).toString(16).padStart(2, "0")).join("")}`;
  document.getElementById(tool).value = hex;
  syncSwatch(tool);
  document.getElementById(tool).dispatchEvent(new Event("change", { bubbles: true }));
}

const round4 = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;

function renderSeeds() {
  $("#seed-list").replaceChildren(
    ...state.seeds.map((s, i) =>
      el("li", {}, `${fmtTime(s.t)} at ${Math.round(100 * s.x)}%, ${Math.round(100 * s.y)}% `,
        el("button", { type: "button", class: "secondary small", "aria-label": `Remove mark ${i + 1}`,
          onclick: () => { state.seeds.splice(i, 1); renderSeeds(); drawFrame(); } }, "Remove"),
      ),
    ),
  );
  if (!state.seeds.length) $("#seed-list").append(el("li", { class: "muted" }, "none"));
}

function setupPlayer() {
  const v = video();
  const c = canvas();
  const seek = $("#seek");
  const showTime = () => {
    seek.value = v.currentTime;
    $("#time-out").textContent = `${fmtTime(v.currentTime)} / ${fmtTime(v.duration)}`;
  };
  v.addEventListener("loadedmetadata", () => {
    seek.max = v.duration || 0;
    $("#stage").style.maxWidth = `calc(65vh * ${v.videoWidth / v.videoHeight})`;
    showTime();
  });
  v.addEventListener("loadeddata", drawFrame);
  v.addEventListener("seeked", () => { drawFrame(); showTime(); });
  v.addEventListener("timeupdate", showTime);
  v.addEventListener("play", () => { c.hidden = true; $("#play-btn").textContent = "⏸"; $("#play-btn").ariaLabel = "Pause"; });
  v.addEventListener("pause", () => {
    drawFrame();
    c.hidden = false;
    $("#play-btn").textContent = "▶";
    $("#play-btn").ariaLabel = "Play";
  });
  $("#play-btn").addEventListener("click", () => (v.paused ? v.play().catch(() => {}) : v.pause()));
  const step = (dt) => { v.pause(); v.currentTime = Math.min(v.duration || 0, Math.max(0, v.currentTime + dt)); };
  $("#back-btn").addEventListener("click", () => step(-1 / 30));
  $("#fwd-btn").addEventListener("click", () => step(1 / 30));
  seek.addEventListener("input", () => { v.pause(); v.currentTime = Number(seek.value); });
  c.addEventListener("keydown", (e) => {
    const step = e.shiftKey ? 0.05 : 0.01;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[e.key]) {
      state.cursor.x = Math.min(1, Math.max(0, state.cursor.x + moves[e.key][0]));
      state.cursor.y = Math.min(1, Math.max(0, state.cursor.y + moves[e.key][1]));
    } else if (e.key === "Enter" || e.key === " ") {
      pickAt(state.cursor.x, state.cursor.y);
    } else return;
    e.preventDefault();
    drawFrame();
  });
  c.addEventListener("focus", drawFrame);
  c.addEventListener("blur", drawFrame);
  c.addEventListener("click", (e) => {
    const rect = c.getBoundingClientRect();
    state.cursor = { x: (e.clientX - rect.left) / rect.width, y: (e.clientY - rect.top) / rect.height };
    pickAt(state.cursor.x, state.cursor.y);
  });
  $("#preview-file").addEventListener("change", () => {
    const file = $("#preview-file").files[0];
    if (file && state.job) {
      state.files.set(state.job.job_id, file);
      loadPreview(file);
    }
  });
}

// ---------- start ----------
async function main() {
  setupKeyForm();
  setupNewJob();
  setupPlayer();
  setupRunForm();
  $("#jobs-refresh").addEventListener("click", refreshJobs);
  $("#cancel-btn").addEventListener("click", cancelJob);
  try {
    state.defaults = await (await fetch("/ui/defaults")).json();
  } catch (err) {
    return banner(`Could not load the setup defaults: ${err.message}`);
  }
  buildSetupForm(state.defaults);
  resetSetupForm();
  await refreshJobs();
}

main();
