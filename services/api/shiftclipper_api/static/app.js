// ShiftClipper web UI: plain ES modules, no build step. Every default comes from GET /ui/defaults.
import { $, api, artifactName, artifactUrl, el, fmtEta, fmtTime, jobPath, round4, session, withKey } from "./util.js";
import { PolygonEditor, polygonLabel, renderPolygonPanels } from "./polygons.js";
import { patchShift, reviewCell, trimRow, waitForExport } from "./review.js";
import { Upload, retryable } from "./upload.js";

const ACTIVE = new Set(["queued", "tracking", "exporting"]);
const FINISHED = new Set(["done", "done_no_shifts", "failed", "cancelled"]);
const STAGES = { upload: "Uploading", queue: "Waiting for a worker", decode: "Reading the video",
  track: "Finding the player", export: "Cutting clips", reel: "Building the reel" };
const ADVANCED = ["pre_roll_s", "post_roll_s", "clip_mode", "reel", "debug_overlay"];
const POLYGON_TOOLS = new Set(["rink", "bench"]);
const TABLE_COLUMNS = 7;

const state = {
  defaults: null,
  job: null, // the status record of the open job
  files: new Map(), // job id -> the local File, for the preview
  preview: null, // what the preview plays: "file", "proxy" or null
  seeds: [],
  cursor: { x: 0.5, y: 0.5 }, // keyboard crosshair on the paused frame, normalised
  events: null, // EventSource of the open job
  results: null,
  selected: null, // index of the shift whose clip is in the player
  upload: null, // the current or last failed Upload, for Retry
  review: { trimOpen: new Set(), busy: new Set() }, // shift indexes with an open trim row / a pending re-export
};
const polygons = new PolygonEditor((edited) => {
  if (edited) for (const id of ["#rink_polygon-err", "#bench_polygons-err"]) $(id).textContent = "";
  renderPolygonPanels(polygons, useTool);
  drawFrame();
});

function banner(message) {
  $("#banner").textContent = message || "";
  $("#banner").hidden = !message;
}

function report(err) {
  banner(err.status === 401 ? "The API key was refused. Check it and save it again." : `Error: ${err.message}`);
}

// ---------- API key ----------
function setupKeyForm() {
  $("#api-key").value = session.key;
  $("#key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    session.key = $("#api-key").value.trim();
    localStorage.setItem("shiftclipper.apiKey", session.key);
    refreshJobs();
  });
}

// ---------- job list ----------
async function refreshJobs() {
  if (!session.key) {
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
function showUploadProgress(done, total, etaS) {
  $("#upload-bar").value = total ? done / total : 0;
  const pct = Math.round((100 * done) / (total || 1));
  const mb = `${(done / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB`;
  $("#upload-text").textContent =
    done >= total && total > 0
      ? `Uploaded ${mb}; checking the video…`
      : `Uploading ${pct}% (${mb})${etaS != null ? ` · about ${fmtEta(etaS)} left` : ""}`;
}

function uploadControls({ running, failed }) {
  $("#upload-btn").disabled = running;
  $("#upload-cancel").hidden = !running;
  $("#upload-retry").hidden = !failed;
}

/** Upload `state.upload`'s file into its job; on failure offer Retry, which runs this again. */
async function runUpload() {
  const upload = state.upload;
  $("#upload-progress").hidden = false;
  uploadControls({ running: true, failed: false });
  banner("");
  try {
    const record = await upload.start();
    state.upload = null;
    uploadControls({ running: false, failed: false });
    $("#upload-text").textContent = "Upload complete.";
    $("#new-job").reset();
    await refreshJobs();
    await openJob(record.job_id, record);
  } catch (err) {
    const again = retryable(err);
    uploadControls({ running: false, failed: again });
    if (!again) state.upload = null;
    $("#upload-bar").value = 0;
    $("#upload-text").textContent = err.aborted
      ? "Upload cancelled. Retry starts it again."
      : `Upload failed: ${err.message}.${again ? " Retry starts it again." : " Choose another file."}`;
    if (err.status === 401) report(err);
    refreshJobs();
  }
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
    uploadControls({ running: true, failed: false });
    try {
      // A failed upload of this very file keeps its job: submitting again is a retry, not a second job.
      let jobId = state.upload?.file === file ? state.upload.jobId : null;
      if (!jobId) jobId = (await api("/jobs", { method: "POST", body: { name: $("#job-name").value.trim() || file.name } })).job_id;
      state.files.set(jobId, file);
      state.upload = new Upload(jobId, file, showUploadProgress);
    } catch (err) {
      uploadControls({ running: false, failed: false });
      return report(err);
    }
    await runUpload();
  });
  $("#upload-cancel").addEventListener("click", () => state.upload?.abort());
  $("#upload-retry").addEventListener("click", () => state.upload && runUpload());
}

// ---------- open a job ----------
async function openJob(jobId, record) {
  if (state.events) state.events.close();
  state.events = null;
  state.results = null;
  state.selected = null;
  try {
    record = record || (await api(jobPath(jobId)));
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
    state.review = { trimOpen: new Set(), busy: new Set() };
    resetSetupForm();
    loadPreview(jobId, record);
    if (record.status !== "created" && record.status !== "uploaded") await loadSetup(jobId);
  }
  for (const btn of document.querySelectorAll(".job-link")) {
    if (btn.dataset.job === jobId) btn.setAttribute("aria-current", "true");
    else btn.removeAttribute("aria-current");
  }
  render(record);
  // "uploaded" jobs are watched too: the exporter's preview proxy becomes ready while the user sets up.
  if (ACTIVE.has(record.status) || (record.status === "uploaded" && !record.proxy_ready)) listen(jobId);
  if (!ACTIVE.has(record.status) && record.has_results) await loadResults(jobId);
  if (switched) $("#job-title").scrollIntoView({ behavior: "smooth", block: "start" });
}

async function loadSetup(jobId) {
  try {
    fillSetupForm(await api(jobPath(jobId, "/setup")));
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
  watchQueue(status === "queued");
  if (record.proxy_ready && state.preview !== "proxy" && !state.files.has(record.job_id)) {
    loadPreview(record.job_id, record, video().currentTime);
  }
  if (!state.results) renderShifts(record.shifts || [], record.video?.duration_s, status);
}

// ---------- the queue: is any tracker there to take the job? ----------
const QUEUE_CHECK_MS = 5000;
let queueTimer = null;

function watchQueue(queued) {
  if (!queued) {
    clearInterval(queueTimer);
    queueTimer = null;
    $("#queue-hint").hidden = true;
    return;
  }
  if (queueTimer) return;
  queueTimer = setInterval(showQueue, QUEUE_CHECK_MS);
  showQueue();
}

async function showQueue() {
  const stats = await api("/stats").catch(() => null);
  if (!stats || !queueTimer) return;
  const hint = $("#queue-hint");
  if (!stats.tracker_connected) {
    hint.textContent = "No tracker is running, so this job cannot start yet: it starts as soon as one does.";
  } else if (stats.tracking_in_flight > 0 && stats.workers.tracker_idle_pulls === 0) {
    hint.textContent = `Every tracker is busy; ${stats.queue_depth} job(s) in the queue.`;
  } else {
    hint.textContent = "";
  }
  hint.hidden = !hint.textContent;
}

// ---------- live progress ----------
function listen(jobId) {
  const source = new EventSource(withKey(jobPath(jobId, "/events")));
  state.events = source;
  source.addEventListener("status", (e) => {
    if (state.job?.job_id !== jobId) return source.close();
    const record = JSON.parse(e.data);
    render(record);
    // An "uploaded" job is only watched for its proxy; the stream itself ends at a terminal state.
    if (record.status === "uploaded" && record.proxy_ready) source.close();
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
    render(await api(jobPath(state.job.job_id, "/cancel"), { method: "POST" }));
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
      const label = `Shift ${s.index + 1}: ${fmtTime(s.start_s)} to ${fmtTime(s.end_s)}${s.decision ? ` (${s.decision})` : ""}`;
      const style = `left:${(100 * s.start_s) / total}%;width:${Math.max(0.5, (100 * (s.end_s - s.start_s)) / total)}%`;
      const selected = state.selected === s.index ? " selected" : "";
      return el("button", { type: "button", class: `shift ${s.decision || ""}${selected}`, style, title: label, "aria-label": label,
        disabled: !results, "data-index": s.index, onclick: () => playClip(s.index) });
    }),
  );
  $("#shift-table tbody").replaceChildren(...shifts.flatMap((s) => shiftRows(s, results, total)));
}

function shiftRows(s, results, duration) {
  const clip = results && clipName(s);
  const row = el(
    "tr",
    { "data-index": s.index, class: `${s.decision || ""}${state.selected === s.index ? " selected" : ""}` },
    el("td", {}, String(s.index + 1)),
    el("td", {}, fmtTime(s.start_s)),
    el("td", {}, fmtTime(s.end_s)),
    el("td", {}, fmtTime(s.duration_s ?? s.end_s - s.start_s)),
    el("td", {}, `${Math.round(100 * s.confidence)}%`),
    el(
      "td",
      {},
      el(
        "div",
        { class: "cell-row" },
          clip
          ? el("button", { type: "button", class: "secondary small", onclick: () => playClip(s.index) }, "Play")
          : el("span", { class: "muted" }, s.clip_ready ? "ready" : "…"),
        clip
          ? el("a", { href: clipUrl(s), download: `shift-${s.index + 1}.mp4`, class: "download" }, "Download")
        : null,
      ),
    ),
    results
      ? reviewCell(s, {
          busy: state.review.busy.has(s.index),
          trimOpen: state.review.trimOpen.has(s.index),
          onDecision: (decision) => review(s, { decision }),
          onTrimToggle: () => toggleTrim(s.index),
        })
      : el("td", { class: "muted" }, "after the run"),
  );
  if (!results || !state.review.trimOpen.has(s.index)) return [row];
  const trim = trimRow(s, TABLE_COLUMNS, results.video?.duration_s, {
    onSave: (start_s, end_s) => review(s, { start_s, end_s }),
    onCancel: () => toggleTrim(s.index),
  });
  return [row, trim];
}

function toggleTrim(index) {
  const open = state.review.trimOpen;
  if (open.has(index)) open.delete(index);
  else open.add(index);
  rerenderResults();
  if (open.has(index)) document.getElementById(`trim-${index}-start`)?.focus();
}

function rerenderResults() {
  const res = state.results;
  if (res) renderShifts(res.shifts, res.video?.duration_s, state.job.status);
}

/** Send one review change, then wait for the exporter's re-cut and show the new clip. */
async function review(shift, change) {
  const jobId = state.job.job_id;
  const say = (text) => {
    const node = document.getElementById(`review-state-${shift.index}`);
    if (node) node.textContent = text;
  };
  let updated;
  try {
    updated = await patchShift(jobId, shift, change);
  } catch (err) {
    // A 400 names the bad bound (`$.start_s` / `$.end_s`): show it in the trim row, at that input.
    const errNode = document.getElementById(`trim-${shift.index}-err`);
    const unavailable = err.status === 404 && err.message === "Not Found"; // no such route (an older gateway)
    const text = unavailable || err.status === 405 ? "Review is not available on this server." : err.message;
    const bad = /^\$\.(start_s|end_s)$/.exec(err.field || "");
    if (bad) document.getElementById(`trim-${shift.index}-${bad[1] === "start_s" ? "start" : "end"}`)?.setAttribute("aria-invalid", "true");
    if (errNode && "start_s" in change) errNode.textContent = text;
    else say(text);
    return;
  }
  updated = { ...shift, ...updated };
  Object.assign(state.results.shifts.find((s) => s.index === shift.index), updated);
  state.review.trimOpen.delete(shift.index);
  state.review.busy.add(shift.index);
  rerenderResults();
  say("Updating the clip…");
  let fresh = null;
  try {
    fresh = await waitForExport(jobId, updated, {
      onStatus: (record) => state.job?.job_id === jobId && render(record),
      stillWanted: () => state.job?.job_id === jobId,
    });
  } catch (err) {
    report(err);
  }
  state.review.busy.delete(shift.index);
  if (state.job?.job_id !== jobId) return;
  if (!fresh) {
    rerenderResults();
    return say("The clip is taking long to update; reopen the job later.");
  }
  showResults(jobId, fresh);
  say("start_s" in change ? "Clip updated." : updated.decision === "rejected" ? "Rejected." : "Accepted.");
  if (updated.decision !== "rejected") selectShift(shift.index, false);
}

function clipName(shift) {
  const key = shift.clip?.key;
  if (!key) return null;
  return artifactName(state.job.job_id, key) || `clips/${String(shift.index).padStart(3, "0")}.mp4`;
}

// A re-cut clip has a new key (`clips/000.r3.mp4`), so no cached copy of the old one is replayed.
const clipUrl = (shift) => artifactUrl(state.job.job_id, clipName(shift));

async function loadResults(jobId) {
  try {
    showResults(jobId, await api(jobPath(jobId, "/results")));
  } catch (err) {
    if (err.status !== 404) report(err);
    return;
  }
  const res = state.results;
  if (res.shifts.length) selectShift(res.shifts[0].index, false);
}

function showResults(jobId, res) {
  state.results = res;
  renderShifts(res.shifts, res.video?.duration_s, state.job.status);
  const name = state.job.name;
  $("#results-section").hidden = !res.shifts.length && !res.debug?.overlay_key;
  $("#results-json").href = artifactUrl(jobId, "results.json");
  $("#results-json").setAttribute("download", `${name}-results.json`);
  $("#zip-download").hidden = !res.shifts.some((s) => s.clip && s.decision !== "rejected");
  $("#zip-download").href = withKey(jobPath(jobId, "/clips.zip"));
  const reelName = artifactName(jobId, res.reel?.key);
  $("#reel-figure").hidden = !reelName;
  if (reelName) {
    const url = artifactUrl(jobId, reelName);
    if ($("#reel-player").getAttribute("src") !== url) $("#reel-player").src = url;
    $("#reel-download").href = url;
    $("#reel-download").setAttribute("download", `${name}-reel.mp4`);
  }
  // Debug artefacts: the overlay video when `debug_overlay` was on, the decision timeline always.
  const overlay = artifactName(jobId, res.debug?.overlay_key);
  $("#debug-figure").hidden = !overlay;
  if (overlay && $("#debug-player").getAttribute("src") !== artifactUrl(jobId, overlay)) {
    $("#debug-player").src = artifactUrl(jobId, overlay);
  }
  const timeline = artifactName(jobId, res.debug?.timeline_key);
  $("#debug-timeline").hidden = !timeline;
  if (timeline) {
    $("#debug-timeline").href = artifactUrl(jobId, timeline);
    $("#debug-timeline").setAttribute("download", `${name}-debug-timeline.json`);
  }
}

function selectShift(index, play) {
  const shift = state.results?.shifts.find((s) => s.index === index);
  const name = shift && clipName(shift);
  if (!name) return;
  state.selected = index;
  for (const node of document.querySelectorAll("[data-index]")) {
    node.classList.toggle("selected", Number(node.dataset.index) === index);
  }
  const player = $("#clip-player");
  player.src = clipUrl(shift);
  $("#clip-caption").textContent =
    `Shift ${index + 1}: ${fmtTime(shift.start_s)} – ${fmtTime(shift.end_s)} (${fmtTime(shift.duration_s)})` +
    (shift.decision ? ` · ${shift.decision}` : "");
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
  polygons.load({});
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
  polygons.load(setup);
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
    ...polygons.toSetup(),
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

/** The API's polygon errors in words: which outline, and what a valid one needs. */
function explainPolygonError(field, message) {
  const id = polygons.idForField(field);
  if (!id) return message;
  polygons.invalid.add(id);
  renderPolygonPanels(polygons, useTool);
  drawFrame();
  const need = /length >= 3/.test(message)
    ? "needs at least 3 points"
    : /length <= 64/.test(message)
      ? "may have at most 64 points"
      : /length <= 4/.test(message)
        ? "at most 4 benches"
        : "is not valid";
  return `${polygonLabel(id)} ${need} (${message}).`;
}

function showFieldError(field, message) {
  message = message.replace(/ - at `\$[^`]*`$/, "");
  if (/^\$\.(rink_polygon|bench_polygons)/.test(field || "")) message = explainPolygonError(field, message);
  // "$.tuning.lost_timeout_s" -> the field box "tuning.lost_timeout_s"; "$.seed_clicks[0].x" -> "seed_clicks".
  const parts = (field || "$").replace(/^\$\.?/, "").replace(/\[\d+\].*$/, "").split(".").filter(Boolean);
  while (parts.length) {
    const box = document.querySelector(`#setup-form [data-field="${parts.join(".")}"]`);
    if (box) {
      const details = box.closest("details");
      if (details) details.open = true;
      box.querySelector(".err").textContent = message;
      const input = box.querySelector("input, select");
      if (input) {
        input.setAttribute("aria-invalid", "true");
        input.focus();
      } else box.scrollIntoView({ behavior: "smooth", block: "nearest" });
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
      const saved = await api(jobPath(jobId, "/setup"), { method: "PUT", body: collectSetup() });
      fillSetupForm(saved);
      const retry = FINISHED.has(state.job.status);
      const record = await api(jobPath(jobId, `/${retry ? "retry" : "run"}`), { method: "POST" });
      state.results = null;
      $("#results-section").hidden = true;
      $("#clip-player").removeAttribute("src");
      render(record);
      if (state.events) state.events.close();
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

// ---------- preview, eyedropper, player marks and outlines ----------
const video = () => $("#preview");
const canvas = () => $("#frame");
const tool = () => document.querySelector('input[name="tool"]:checked').value;

/** Play the exporter's browser-friendly proxy when it is ready (any upload format plays), else the
 * local file this browser uploaded, else ask for that file again. */
function loadPreview(jobId, record, keepTime = 0) {
  const v = video();
  const file = state.files.get(jobId);
  const source = record?.proxy_ready ? "proxy" : file ? "file" : null;
  if (v.src.startsWith("blob:")) URL.revokeObjectURL(v.src);
  v.removeAttribute("src");
  v.load();
  state.preview = source;
  $("#stage").hidden = !source;
  $("#player-controls").hidden = !source;
  $("#setup-form .tools").hidden = !source;
  $("#frame-help").hidden = !source;
  $("#no-preview").hidden = !!source;
  if (!source) return;
  if (keepTime) v.addEventListener("loadedmetadata", () => (v.currentTime = keepTime), { once: true });
  v.src = source === "proxy" ? artifactUrl(jobId, "proxy.mp4") : URL.createObjectURL(file);
}

function drawFrame() {
  const v = video();
  const c = canvas();
  if (!v.videoWidth) return;
  if (c.width !== v.videoWidth) [c.width, c.height] = [v.videoWidth, v.videoHeight];
  const ctx = c.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(v, 0, 0, c.width, c.height);
  polygons.draw(ctx, c.width, c.height);
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

/** Select a tool; the outline tools also pick the polygon they draw ("rink" or "bench-<i>"). */
function useTool(id) {
  const kind = id === "rink" ? "rink" : id.startsWith("bench") ? "bench" : id;
  document.querySelector(`input[name="tool"][value="${kind}"]`).checked = true;
  if (POLYGON_TOOLS.has(kind)) {
    if (kind === "bench" && !id.startsWith("bench-")) {
      if (!polygons.benches.length) polygons.addBench();
      else if (polygons.active === "rink") polygons.setActive(`bench-${polygons.benches.length - 1}`);
    } else polygons.setActive(id);
  }
  drawFrame();
}

function pickAt(nx, ny) {
  const c = canvas();
  const current = tool();
  if (POLYGON_TOOLS.has(current)) {
    const problem = polygons.add(nx, ny);
    if (problem) $(`#${current === "rink" ? "rink_polygon" : "bench_polygons"}-err`).textContent = problem;
    return;
  }
  if (current === "seed") {
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
  document.getElementById(current).value = hex;
  syncSwatch(current);
  document.getElementById(current).dispatchEvent(new Event("change", { bubbles: true }));
}

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

/** Keys on the focused frame. Returns false for keys it leaves alone (Tab must still leave the frame). */
function frameKey(e) {
  const step = e.shiftKey ? 0.05 : 0.01;
  const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
  const outlining = POLYGON_TOOLS.has(tool());
  if (moves[e.key]) {
    state.cursor.x = Math.min(1, Math.max(0, state.cursor.x + moves[e.key][0]));
    state.cursor.y = Math.min(1, Math.max(0, state.cursor.y + moves[e.key][1]));
    if (outlining && polygons.selected) polygons.move(polygons.selected, state.cursor.x, state.cursor.y);
  } else if (e.key === "Enter" || e.key === " ") {
    if (outlining && polygons.selected) polygons.select(null); // Enter on a selected point drops it there
    else pickAt(state.cursor.x, state.cursor.y);
  } else if (outlining && (e.key === "v" || e.key === "V")) {
    const point = polygons.cycle(e.shiftKey ? -1 : 1);
    if (point) state.cursor = { x: point[0], y: point[1] };
  } else if (outlining && (e.key === "Delete" || e.key === "Backspace")) {
    polygons.removePoint();
  } else if (outlining && e.key === "Escape" && polygons.selected) {
    polygons.select(null);
  } else return false;
  return true;
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
    if (!frameKey(e)) return;
    e.preventDefault();
    drawFrame();
  });
  c.addEventListener("focus", drawFrame);
  c.addEventListener("blur", drawFrame);
  setupPointer(c);
  for (const radio of document.querySelectorAll('input[name="tool"]')) {
    radio.addEventListener("change", () => radio.checked && useTool(radio.value));
  }
  $("#add-bench").addEventListener("click", () => {
    polygons.addBench();
    useTool(polygons.active);
    c.focus();
  });
  $("#preview-file").addEventListener("change", () => {
    const file = $("#preview-file").files[0];
    if (file && state.job) {
      state.files.set(state.job.job_id, file);
      loadPreview(state.job.job_id, { ...state.job, proxy_ready: false });
    }
  });
}

/** Mouse, pen and touch on the frame: a press on an outline's point drags it; a tap uses the tool. */
function setupPointer(c) {
  let drag = null; // { sel, moved, x0, y0 } while a point is held
  const norm = (e) => {
    const rect = c.getBoundingClientRect();
    return [(e.clientX - rect.left) / rect.width, (e.clientY - rect.top) / rect.height, rect];
  };
  c.addEventListener("pointerdown", (e) => {
    const [x, y, rect] = norm(e);
    const radius = e.pointerType === "touch" ? 18 : 10; // CSS pixels
    const sel = POLYGON_TOOLS.has(tool()) ? polygons.hit(x, y, radius / rect.width, radius / rect.height) : null;
    drag = { sel, moved: false, x0: e.clientX, y0: e.clientY };
    if (sel) {
      polygons.select(sel);
      c.setPointerCapture(e.pointerId);
    }
  });
  c.addEventListener("pointermove", (e) => {
    if (!drag?.sel) return;
    if (Math.hypot(e.clientX - drag.x0, e.clientY - drag.y0) > 3) drag.moved = true;
    if (!drag.moved) return;
    const [x, y] = norm(e);
    polygons.move(drag.sel, Math.min(1, Math.max(0, x)), Math.min(1, Math.max(0, y)));
    state.cursor = { x: Math.min(1, Math.max(0, x)), y: Math.min(1, Math.max(0, y)) };
  });
  c.addEventListener("pointerup", (e) => {
    const held = drag;
    drag = null;
    if (!held) return;
    const [x, y] = norm(e);
    state.cursor = { x: Math.min(1, Math.max(0, x)), y: Math.min(1, Math.max(0, y)) };
    if (!held.sel) pickAt(state.cursor.x, state.cursor.y); // a tap on a point only selects it
  });
  c.addEventListener("pointercancel", () => (drag = null));
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
