// Shift review: accept, reject or trim one shift (PATCH /jobs/{id}/shifts/{index}), then wait until the
// exporter has caught up (status `review_exported` reaches `review_revision`) and results.json shows it.
// A null field of the PATCH means "unchanged", so a decision can be switched but not taken back.
import { api, el, fmtTime, jobPath, sleep } from "./util.js";

const ACTIVE = new Set(["queued", "tracking", "exporting"]);
const WAIT_S = 300;

/** PATCH one shift; `change` is {decision} or {start_s, end_s}. Returns the updated shift (202). */
export function patchShift(jobId, shift, change) {
  const body = { decision: null, start_s: null, end_s: null, ...change };
  return api(jobPath(jobId, `/shifts/${shift.index}`), { method: "PATCH", body });
}

/** Poll the status record (also shown) until the exporter has applied every edit, then return the
 * results once they show `updated` (its revision and decision); null after WAIT_S or when unwanted. */
export async function waitForExport(jobId, updated, { onStatus, stillWanted }) {
  const deadline = performance.now() + WAIT_S * 1000;
  while (performance.now() < deadline && stillWanted()) {
    await sleep(1000);
    const status = await api(jobPath(jobId));
    onStatus(status);
    if (ACTIVE.has(status.status) || status.review_pending) continue;
    if ((status.review_exported ?? 0) < (status.review_revision ?? 0)) continue;
    const results = await api(jobPath(jobId, "/results")).catch((err) => (err.status === 404 ? null : Promise.reject(err)));
    const shift = results?.shifts.find((s) => s.index === updated.index);
    if (shift && (shift.revision ?? 0) >= (updated.revision ?? 0) && (shift.decision ?? null) === (updated.decision ?? null)) {
      return results;
    }
  }
  return null;
}

/** The review controls of one table row: decision toggles, a trim toggle and a live status line. */
export function reviewCell(shift, { onDecision, onTrimToggle, trimOpen, busy }) {
  const decided = shift.decision || null;
  const toggle = (decision, label) =>
    el("button", { type: "button", class: `secondary small ${decision}`, "aria-pressed": String(decided === decision),
      disabled: busy, "aria-label": `${label} shift ${shift.index + 1}`,
      onclick: () => decided !== decision && onDecision(decision) }, label);
  return el(
    "td",
    {},
    el(
      "div",
      { class: "cell-row review-cell" },
      toggle("accepted", "Accept"),
      toggle("rejected", "Reject"),
      el("button", { type: "button", class: "secondary small", "aria-expanded": String(trimOpen), disabled: busy,
        "aria-controls": `trim-${shift.index}`, "aria-label": `Trim shift ${shift.index + 1}`, onclick: onTrimToggle },
      "Trim"),
      el("span", { class: "review-state muted", id: `review-state-${shift.index}`, role: "status" }),
    ),
  );
}

/** The row under a shift with its start/end inputs (seconds); `onSave(start, end)` sends them. */
export function trimRow(shift, columns, duration, { onSave, onCancel }) {
  const n = shift.index + 1;
  const input = (name, value) =>
    el("input", { id: `trim-${shift.index}-${name}`, type: "number", inputmode: "decimal", step: "0.1", min: 0,
      max: duration || false, value: value.toFixed(1), "aria-describedby": `trim-${shift.index}-err` });
  const start = input("start", shift.start_s);
  const end = input("end", shift.end_s);
  const err = el("small", { id: `trim-${shift.index}-err`, class: "err", "aria-live": "polite" });
  const form = el(
    "form",
    { class: "trim-form", "aria-label": `Trim shift ${n}`, novalidate: true },
    el("label", { for: start.id }, `Start (s, was ${fmtTime(shift.start_s)})`), start,
    el("label", { for: end.id }, `End (s, was ${fmtTime(shift.end_s)})`), end,
    el("button", { type: "submit", class: "small" }, "Save trim"),
    el("button", { type: "button", class: "secondary small", onclick: onCancel }, "Cancel"),
    err,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const [s, t] = [Number(start.value), Number(end.value)];
    if (start.value === "" || end.value === "" || !(s >= 0) || !(t > s) || (duration && t > duration + 0.05)) {
      err.textContent = `Start must be at least 0 and before the end${duration ? ` (at most ${duration.toFixed(1)} s)` : ""}.`;
      (t > s ? start : end).setAttribute("aria-invalid", "true");
      return;
    }
    onSave(s, t, err);
  });
  return el("tr", { class: "trim-row", id: `trim-${shift.index}` }, el("td", { colspan: columns }, form));
}
