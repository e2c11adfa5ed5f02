// Rink and bench outlines on the paused frame, as normalised [x, y] points: the setup's `rink_polygon`
// and `bench_polygons` (job_setup.py). The editor only holds and draws points; the API validates them
// (at least 3 points, at most 64, at most 4 benches) and app.js shows its field error next to the panel.
import { $, el, round4 } from "./util.js";

export const MAX_BENCHES = 4;
export const MAX_POINTS = 64;
const COLORS = { rink: "#00e5ff", bench: "#ff9f1c", invalid: "#ff3b30" };

// Polygons are named "rink" and "bench-<i>", the names the panel, the canvas and error fields share.
export const benchId = (i) => `bench-${i}`;
export const polygonLabel = (id) => (id === "rink" ? "Rink outline" : `Bench ${Number(id.split("-")[1]) + 1}`);

export class PolygonEditor {
  constructor(onChange) {
    this.onChange = onChange; // redraw the frame and the panel; `true` when the points changed
    this.reset();
  }

  reset() {
    this.rink = [];
    this.benches = [];
    this.active = "rink"; // the polygon the rink / bench tools add points to
    this.selected = null; // { id, index } of the vertex being moved or about to be deleted
    this.invalid = new Set();
  }

  load(setup) {
    this.reset();
    this.rink = (setup.rink_polygon || []).map(([x, y]) => [x, y]);
    this.benches = (setup.bench_polygons || []).map((poly) => poly.map(([x, y]) => [x, y]));
    this.changed();
  }

  /** The setup fields. Empty polygons are left out; short ones are sent so the API explains them. */
  toSetup() {
    return {
      rink_polygon: this.rink.length ? this.rink.map((p) => [...p]) : null,
      bench_polygons: this.benches.filter((b) => b.length).map((b) => b.map((p) => [...p])),
    };
  }

  /** Map an API field (`$.bench_polygons[1]`) to our polygon id, counting only non-empty benches. */
  idForField(field) {
    if (/^\$\.rink_polygon/.test(field || "")) return "rink";
    const m = /^\$\.bench_polygons\[(\d+)\]/.exec(field || "");
    if (!m) return null;
    const sent = this.benches.map((b, i) => [b, i]).filter(([b]) => b.length);
    return sent[Number(m[1])] ? benchId(sent[Number(m[1])][1]) : null;
  }

  points(id) {
    return id === "rink" ? this.rink : this.benches[Number(id.split("-")[1])];
  }

  ids() {
    return ["rink", ...this.benches.map((_, i) => benchId(i))];
  }

  changed() {
    this.invalid.clear(); // an edit is a new attempt: the API's verdict no longer applies
    this.onChange(true);
  }

  setActive(id) {
    this.active = id;
    if (this.selected && this.selected.id !== id) this.selected = null;
    this.onChange();
  }

  /** Append a point to the active polygon; returns an explanation when it cannot. */
  add(x, y) {
    const pts = this.points(this.active);
    if (!pts) return "Add a bench first.";
    if (pts.length >= MAX_POINTS) return `${polygonLabel(this.active)} already has ${MAX_POINTS} points.`;
    pts.push([round4(x), round4(y)]);
    this.selected = null;
    this.changed();
    return "";
  }

  addBench() {
    if (this.benches.length >= MAX_BENCHES) return false;
    this.benches.push([]);
    this.active = benchId(this.benches.length - 1);
    this.selected = null;
    this.changed();
    return true;
  }

  removeBench(i) {
    this.benches.splice(i, 1);
    if (this.active !== "rink") this.active = this.benches.length ? benchId(this.benches.length - 1) : "rink";
    this.selected = null;
    this.changed();
  }

  clear(id) {
    this.points(id).length = 0;
    if (this.selected?.id === id) this.selected = null;
    this.changed();
  }

  /** Delete the selected vertex, or else the active polygon's last point (an undo). */
  removePoint() {
    const target = this.selected || { id: this.active, index: (this.points(this.active) || []).length - 1 };
    const pts = this.points(target.id);
    if (!pts || target.index < 0) return;
    pts.splice(target.index, 1);
    this.selected = null;
    this.changed();
  }

  /** The vertex of the active polygon nearest to (x, y) within (rx, ry), normalised units. */
  hit(x, y, rx, ry) {
    const pts = this.points(this.active) || [];
    let best = null;
    pts.forEach(([px, py], index) => {
      const d = ((px - x) / rx) ** 2 + ((py - y) / ry) ** 2;
      if (d <= 1 && (!best || d < best.d)) best = { id: this.active, index, d };
    });
    return best && { id: best.id, index: best.index };
  }

  select(sel) {
    this.selected = sel;
    this.onChange();
  }

  /** Select the active polygon's next (step 1) or previous (step -1) vertex, for the keyboard. */
  cycle(step) {
    const pts = this.points(this.active) || [];
    if (!pts.length) return null;
    const from = this.selected?.id === this.active ? this.selected.index : step > 0 ? -1 : 0;
    this.selected = { id: this.active, index: (from + step + pts.length) % pts.length };
    this.onChange();
    return pts[this.selected.index];
  }

  move(sel, x, y) {
    this.points(sel.id)[sel.index] = [round4(x), round4(y)];
    this.changed();
  }

  draw(ctx, w, h) {
    const r = Math.max(4, w / 160);
    for (const id of this.ids()) {
      const pts = this.points(id);
      if (!pts.length) continue;
      const color = this.invalid.has(id) ? COLORS.invalid : id === "rink" ? COLORS.rink : COLORS.bench;
      ctx.lineWidth = Math.max(2, r / 2);
      ctx.strokeStyle = color;
      ctx.fillStyle = `${color}33`;
      ctx.setLineDash(id === this.active ? [] : [r * 2, r]);
      ctx.beginPath();
      pts.forEach(([x, y], i) => (i ? ctx.lineTo(x * w, y * h) : ctx.moveTo(x * w, y * h)));
      if (pts.length > 2) {
        ctx.closePath();
        ctx.fill();
      }
      ctx.stroke();
      ctx.setLineDash([]);
      pts.forEach(([x, y], index) => {
        const chosen = this.selected?.id === id && this.selected.index === index;
        ctx.fillStyle = chosen ? "#fff" : color;
        ctx.fillRect(x * w - r, y * h - r, 2 * r, 2 * r);
        if (chosen) ctx.strokeRect(x * w - r, y * h - r, 2 * r, 2 * r);
      });
    }
  }
}

/** The panels under the frame: one row per polygon with its point count and buttons. */
export function renderPolygonPanels(editor, useTool) {
  const row = (id, extra) => {
    const pts = editor.points(id);
    const active = editor.active === id;
    return el(
      "li",
      { class: `poly-row${active ? " active" : ""}${editor.invalid.has(id) ? " invalid" : ""}`, "data-poly": id },
      el("span", { class: "poly-name" }, polygonLabel(id)),
      el("span", { class: "muted" }, pts.length ? `${pts.length} point${pts.length === 1 ? "" : "s"}` : "none"),
      el("button", { type: "button", class: "secondary small", "aria-pressed": String(active),
        onclick: () => useTool(id) }, active ? "Drawing" : "Draw"),
      el("button", { type: "button", class: "secondary small", disabled: !pts.length,
        "aria-label": `Delete the selected or last point of ${polygonLabel(id)}`,
        onclick: () => { editor.setActive(id); editor.removePoint(); } }, "Delete point"),
      el("button", { type: "button", class: "secondary small", disabled: !pts.length,
        "aria-label": `Clear ${polygonLabel(id)}`, onclick: () => editor.clear(id) }, "Clear"),
      extra,
    );
  };
  $("#rink-list").replaceChildren(row("rink"));
  $("#bench-list").replaceChildren(
    ...editor.benches.map((_, i) =>
      row(benchId(i), el("button", { type: "button", class: "secondary small",
        "aria-label": `Remove ${polygonLabel(benchId(i))}`, onclick: () => editor.removeBench(i) }, "Remove")),
    ),
  );
  if (!editor.benches.length) $("#bench-list").append(el("li", { class: "muted" }, "none"));
  $("#add-bench").disabled = editor.benches.length >= MAX_BENCHES;
}
