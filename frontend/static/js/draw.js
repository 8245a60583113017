// Drawing over the picture: shapes are stored as the server keeps them (points [x, y, pressure]
// normalised 0..1 from the top-left, width a fraction of frame height, an integer frame and a
// duration in frames) and rendered as SVG in the same unit square, so they sit on the same
// pixels at any size, zoom or screen.
import { strokeOutline } from "./stroke.js";

const SVG = "http://www.w3.org/2000/svg";
export const MASK_SHAPES = new Set(["polygon", "stroke", "rectangle", "ellipse"]);
// A brush mask is a wide translucent stroke: what the fix takes as a painted region.
const BRUSH_ALPHA = "99";

function el(name, attrs = {}) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// One shape as SVG in a viewBox of width `aspect` and height 1 (x is scaled by the aspect so
// circles stay round and widths are fractions of the frame height).
export function shapeNode(shape, aspect) {
  const pts = shape.points.map(([x, y, p = 1]) => [x * aspect, y, p]);
  const color = shape.color || "#ff3b30";
  const width = shape.width || 0.004;
  const common = { "data-id": shape.id || "", class: `shape shape-${shape.shape}` };
  const stroke = { stroke: color, "stroke-width": width, fill: "none", "stroke-linecap": "round", "stroke-linejoin": "round" };
  switch (shape.shape) {
    case "stroke": {
      if (pts.length === 1) return el("circle", { ...common, cx: pts[0][0], cy: pts[0][1], r: width / 2, fill: color });
      const outline = strokeOutline(pts, width);
      return el("path", { ...common, d: outline, fill: color });
    }
    case "line":
      return el("line", { ...common, ...stroke, x1: pts[0][0], y1: pts[0][1], x2: pts[1][0], y2: pts[1][1] });
    case "arrow": {
      const [[x1, y1], [x2, y2]] = pts;
      const angle = Math.atan2(y2 - y1, x2 - x1);
      const head = Math.max(width * 4, 0.02);
      const a1 = angle + Math.PI * 0.85, a2 = angle - Math.PI * 0.85;
      const g = el("g", common);
      g.append(el("line", { ...stroke, x1, y1, x2, y2 }));
      g.append(el("path", { ...stroke, d: `M${x2 + head * Math.cos(a1)},${y2 + head * Math.sin(a1)} L${x2},${y2} L${x2 + head * Math.cos(a2)},${y2 + head * Math.sin(a2)}` }));
      return g;
    }
    case "rectangle": {
      const [[x1, y1], [x2, y2]] = pts;
      return el("rect", { ...common, ...stroke, x: Math.min(x1, x2), y: Math.min(y1, y2), width: Math.abs(x2 - x1), height: Math.abs(y2 - y1) });
    }
    case "ellipse": {
      const [[x1, y1], [x2, y2]] = pts;
      return el("ellipse", { ...common, ...stroke, cx: (x1 + x2) / 2, cy: (y1 + y2) / 2, rx: Math.abs(x2 - x1) / 2, ry: Math.abs(y2 - y1) / 2 });
    }
    case "polygon":
      return el("polygon", { ...common, ...stroke, fill: `${color.slice(0, 7)}33`, points: pts.map(([x, y]) => `${x},${y}`).join(" ") });
    case "text": {
      const size = Math.max(width, 0.02);
      const t = el("text", { ...common, x: pts[0][0], y: pts[0][1] + size, fill: color, "font-size": size, "font-family": "system-ui, sans-serif", "font-weight": "600", "paint-order": "stroke", stroke: "#000a", "stroke-width": size / 8 });
      t.textContent = shape.text || "";
      return t;
    }
    default:
      return el("g", common);
  }
}

const TOOLS = [
  ["view", "Look and select", "V", "↖"],
  ["laser", "Laser pointer", "Z", "◉"],
  ["pen", "Pen (pressure)", "P", "✎"],
  ["brush", "Brush mask", "B", "▓"],
  ["line", "Line", "N", "╱"],
  ["arrow", "Arrow", "A", "➚"],
  ["rectangle", "Rectangle", "R", "▭"],
  ["ellipse", "Ellipse", "E", "◯"],
  ["polygon", "Polygon mask (double-click or Enter closes)", "G", "⬠"],
  ["text", "Text", "T", "T"],
  ["eraser", "Eraser (click a shape)", "X", "⌫"],
];
export const COLORS = ["#ff3b30", "#ffcc00", "#34c759", "#0a84ff", "#bf5af2", "#ffffff"];

// The layer over one player: draws what the room holds for the shown frame and turns pointer
// gestures into shapes. It owns no state of record: `onCreate`/`onDelete` hand shapes to the room.
export class DrawingLayer {
  constructor(player, { canDraw, onCreate, onDelete, onPointer, onSelect }) {
    this.player = player;
    this.canDraw = canDraw;
    this.onCreate = onCreate;
    this.onDelete = onDelete;
    this.onPointer = onPointer;
    this.onSelect = onSelect;
    this.tool = "view";
    this.color = COLORS[0];
    this.width = 0.006;
    this.hold = 1;
    this.ghost = true;
    this.shapes = new Map();
    this.selected = null;
    this.draft = null;
    this.svg = el("svg", { class: "draw-layer", viewBox: "0 0 1.7778 1", preserveAspectRatio: "none", role: "img", "aria-label": "Drawings on this frame" });
    this.ghosts = el("g", { class: "ghosts" });
    this.layer = el("g", { class: "shapes" });
    this.draftLayer = el("g", { class: "draft" });
    this.svg.append(this.ghosts, this.layer, this.draftLayer);
    this.pointers = document.createElement("div");
    this.pointers.className = "pointers";
    player.surface.append(this.svg, this.pointers);
    player.addEventListener("playerready", () => this.resize());
    player.addEventListener("fit", () => this.resize());
    player.addEventListener("framechange", () => this.render());
    this.resize();
    this.bindPointer();
  }

  resize() {
    const v = this.player.video;
    this.aspect = (v.videoWidth || 16) / (v.videoHeight || 9);
    this.svg.setAttribute("viewBox", `0 0 ${this.aspect} 1`);
    this.render();
  }

  // The tools go in `rail` (beside the picture) when given, the rest in `container`.
  buildToolbar(container, rail = null) {
    const tools = `
      <div class="tools" role="radiogroup" aria-label="Drawing tools" aria-orientation="${rail ? "vertical" : "horizontal"}">
        ${TOOLS.filter(([name]) => this.canDraw || name === "view" || name === "laser").map(([name, label, key, icon]) =>
          `<button type="button" role="radio" data-tool="${name}" aria-checked="${name === this.tool}" title="${label} (${key})" aria-label="${label}"><span aria-hidden="true">${icon}</span></button>`).join("")}
      </div>`;
    if (rail) {
      rail.innerHTML = tools;
      rail.addEventListener("click", (event) => {
        const tool = event.target.closest("[data-tool]")?.dataset.tool;
        if (tool) this.setTool(tool);
      });
    }
    container.innerHTML = `${rail ? "" : tools}
      ${this.canDraw ? `
      <div class="swatches" role="radiogroup" aria-label="Colour">
        ${COLORS.map((c, i) => `<button type="button" role="radio" data-color="${c}" aria-checked="${i === 0}" aria-label="Colour ${c}" style="--swatch:${c}"></button>`).join("")}
      </div>
      <label class="small" title="Stroke width"><span aria-hidden="true">◦●</span><input type="range" min="1" max="40" value="6" data-width aria-label="Stroke width"></label>
      <label class="small" title="Frames the drawing stays on screen">Hold <input type="number" min="1" value="1" data-hold class="hold" aria-label="Frames to hold"></label>
      <button type="button" data-act="undo" title="Undo (Ctrl+Z)" aria-label="Undo">↶</button>
      <button type="button" data-act="redo" title="Redo (Ctrl+Shift+Z)" aria-label="Redo">↷</button>` : ""}
      <label class="small check" title="Show drawings of the two frames either side, faded"><input type="checkbox" data-ghost checked> Ghosts</label>`;
    container.addEventListener("click", (event) => {
      const tool = event.target.closest("[data-tool]")?.dataset.tool;
      if (tool) this.setTool(tool);
      const color = event.target.closest("[data-color]")?.dataset.color;
      if (color) {
        this.color = color;
        container.querySelectorAll("[data-color]").forEach((b) => b.setAttribute("aria-checked", String(b.dataset.color === color)));
      }
    });
    container.querySelector("[data-width]")?.addEventListener("input", (e) => { this.width = Number(e.target.value) / 1000; });
    container.querySelector("[data-hold]")?.addEventListener("input", (e) => { this.hold = Math.max(1, Math.round(Number(e.target.value) || 1)); });
    container.querySelector("[data-ghost]").addEventListener("change", (e) => { this.ghost = e.target.checked; this.render(); });
    this.toolbar = container;
    this.rail = rail;
  }

  setTool(tool) {
    this.finishPolygon();
    this.tool = tool;
    this.svg.dataset.tool = tool;
    this.rail?.querySelectorAll("[data-tool]").forEach((b) => b.setAttribute("aria-checked", String(b.dataset.tool === tool)));
    this.toolbar?.querySelectorAll("[data-tool]").forEach((b) => b.setAttribute("aria-checked", String(b.dataset.tool === tool)));
    this.svg.classList.toggle("active", tool !== "view");
    if (tool !== "laser") this.onPointer?.(null);
  }

  key(event) {
    const map = Object.fromEntries(TOOLS.map(([name, , key]) => [key.toLowerCase(), name]));
    const key = event.key.toLowerCase();
    if (event.key === "Escape") { this.draft = null; this.polygon = null; this.renderDraft(); this.setTool("view"); return true; }
    if (event.key === "Enter" && this.polygon) { this.finishPolygon(); return true; }
    if ((event.key === "Delete" || event.key === "Backspace") && this.selected && this.canDraw) {
      this.onDelete(this.selected); this.select(null); return true;
    }
    if (!event.ctrlKey && !event.metaKey && !event.altKey && map[key] && (this.canDraw || ["view", "laser"].includes(map[key]))) {
      this.setTool(map[key]); return true;
    }
    return false;
  }

  upsert(shape) {
    if (shape.deleted) this.shapes.delete(shape.id);
    else this.shapes.set(shape.id, shape);
    if (this.selected === shape.id && shape.deleted) this.select(null);
    this.render();
  }

  remove(id) {
    this.shapes.delete(id);
    if (this.selected === id) this.select(null);
    this.render();
  }

  visibleAt(frame) {
    return [...this.shapes.values()].filter((s) => s.frame <= frame && frame < s.frame + (s.duration || 1));
  }

  render() {
    const frame = this.player.frame;
    this.layer.replaceChildren(...this.visibleAt(frame).map((s) => {
      const node = shapeNode(s, this.aspect);
      if (s.id === this.selected) node.classList.add("selected");
      return node;
    }));
    const near = this.ghost ? [...this.shapes.values()].filter((s) => {
      const end = s.frame + (s.duration || 1) - 1;
      return !(s.frame <= frame && frame <= end) && (Math.abs(s.frame - frame) <= 2 || Math.abs(end - frame) <= 2);
    }) : [];
    this.ghosts.replaceChildren(...near.map((s) => shapeNode(s, this.aspect)));
    this.svg.dataset.count = String(this.layer.childElementCount);
  }

  select(id) {
    this.selected = id;
    this.render();
    this.onSelect?.(id ? this.shapes.get(id) : null);
  }

  point(event) {
    const box = this.svg.getBoundingClientRect();
    const clamp = (v) => Math.min(Math.max(v, 0), 1);
    const pressure = event.pointerType === "pen" ? event.pressure || 0.5 : 0.5;
    return [clamp((event.clientX - box.left) / box.width), clamp((event.clientY - box.top) / box.height), Math.round(pressure * 1000) / 1000];
  }

  bindPointer() {
    const svg = this.svg;
    let lastSent = 0;
    svg.addEventListener("pointermove", (event) => {
      if (this.tool === "laser") {
        const now = performance.now();
        if (now - lastSent > 33) { lastSent = now; const [x, y] = this.point(event); this.onPointer?.({ x, y }); }
      } else if (this.draft) {
        this.extend(this.point(event), event);
      }
    });
    svg.addEventListener("pointerleave", () => { if (this.tool === "laser") this.onPointer?.(null); });
    svg.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || this.tool === "view" || this.tool === "laser" || this.player.panKey) return;
      event.preventDefault();
      this.player.focus({ preventScroll: true });
      const p = this.point(event);
      if (this.tool === "eraser") {
        const id = event.target.closest("[data-id]")?.dataset.id;
        if (id) this.onDelete(id);
        return;
      }
      if (!this.player.video.paused) this.player.pause();
      if (this.tool === "text") { this.askText(p); return; }
      if (this.tool === "polygon") { this.addPolygonPoint(p, event); return; }
      svg.setPointerCapture(event.pointerId);
      this.draft = { tool: this.tool, points: [p] };
      this.renderDraft();
    });
    svg.addEventListener("pointerup", () => this.commitDraft());
    svg.addEventListener("dblclick", () => this.finishPolygon());
    svg.addEventListener("click", (event) => {
      if (this.tool !== "view") return;
      const id = event.target.closest("[data-id]")?.dataset.id;
      this.select(id || null);
    });
  }

  extend(p, event) {
    const d = this.draft;
    if (d.tool === "pen" || d.tool === "brush") {
      const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
      for (const e of events) d.points.push(this.point(e));
    } else {
      d.points[1] = p;
    }
    this.renderDraft();
  }

  shapeOfDraft(d) {
    const kind = { pen: "stroke", brush: "stroke", line: "line", arrow: "arrow", rectangle: "rectangle", ellipse: "ellipse", polygon: "polygon" }[d.tool];
    const brush = d.tool === "brush";
    return {
      shape: kind, points: d.points, frame: this.player.frame, duration: this.hold,
      color: brush ? `${this.color}${BRUSH_ALPHA}` : this.color, width: brush ? Math.max(this.width * 6, 0.03) : this.width,
    };
  }

  renderDraft() {
    const d = this.draft || (this.polygon && { tool: "polygon", points: this.polygon });
    if (!d) { this.draftLayer.replaceChildren(); return; }
    const shape = this.shapeOfDraft(d);
    if (shape.shape === "polygon" && shape.points.length < 3) {
      shape.shape = shape.points.length === 2 ? "line" : "stroke";
    }
    if ((shape.shape === "line" || shape.shape === "arrow" || shape.shape === "rectangle" || shape.shape === "ellipse") && shape.points.length < 2) {
      this.draftLayer.replaceChildren(); return;
    }
    this.draftLayer.replaceChildren(shapeNode(shape, this.aspect));
  }

  commitDraft() {
    const d = this.draft;
    this.draft = null;
    this.renderDraft();
    if (!d) return;
    const two = ["line", "arrow", "rectangle", "ellipse"].includes(d.tool);
    if (two) {
      if (d.points.length < 2) return;
      const [[x1, y1], [x2, y2]] = d.points;
      if (Math.hypot(x2 - x1, y2 - y1) < 0.005) return;
    }
    const shape = this.shapeOfDraft(d);
    // Long freehand strokes are thinned to what the eye sees, to stay well under the point limit.
    if (shape.shape === "stroke") shape.points = thin(shape.points, 0.0015).slice(0, 4096);
    this.onCreate(shape);
  }

  addPolygonPoint(p) {
    this.polygon = this.polygon || [];
    this.polygon.push(p);
    this.renderDraft();
  }

  finishPolygon() {
    const points = this.polygon;
    this.polygon = null;
    this.renderDraft();
    if (points && points.length >= 3) this.onCreate({ ...this.shapeOfDraft({ tool: "polygon", points }), points });
  }

  askText(p) {
    const box = this.svg.getBoundingClientRect();
    const input = document.createElement("input");
    input.className = "text-entry";
    input.setAttribute("aria-label", "Text to place on the frame");
    input.style.left = `${p[0] * box.width}px`;
    input.style.top = `${p[1] * box.height}px`;
    this.player.surface.append(input);
    input.focus();
    let finished = false;
    const done = (keep) => {
      // Removing the focused field fires its blur while it is still being removed: once only.
      if (finished) return;
      finished = true;
      const text = input.value.trim();
      input.remove();
      this.player.focus({ preventScroll: true });
      if (keep && text) this.onCreate({ shape: "text", points: [p], text, frame: this.player.frame, duration: this.hold, color: this.color, width: Math.max(this.width * 5, 0.03) });
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); done(true); }
      if (e.key === "Escape") { e.preventDefault(); done(false); }
      e.stopPropagation();
    });
    input.addEventListener("blur", () => done(true));
  }

  // Remote laser pointers: one dot per person, fading when they stop.
  showPointer(message) {
    let dot = this.pointers.querySelector(`[data-presence="${message.presence}"]`);
    if (!message.visible) { dot?.remove(); return; }
    if (!dot) {
      dot = document.createElement("div");
      dot.className = "laser";
      dot.dataset.presence = message.presence;
      dot.innerHTML = `<i></i><span>${escapeHtml(message.user?.name || "")}</span>`;
      this.pointers.append(dot);
    }
    dot.style.left = `${message.x * 100}%`;
    dot.style.top = `${message.y * 100}%`;
    clearTimeout(dot.fade);
    dot.fade = setTimeout(() => dot.remove(), 2500);
  }
}

// Drop points closer than `tolerance` to the last kept one.
function thin(points, tolerance) {
  const kept = [points[0]];
  for (const p of points.slice(1)) {
    const last = kept[kept.length - 1];
    if (Math.hypot(p[0] - last[0], p[1] - last[1]) >= tolerance) kept.push(p);
  }
  if (points.length > 1 && kept[kept.length - 1] !== points[points.length - 1]) kept.push(points[points.length - 1]);
  return kept.map(([x, y, p]) => [round(x), round(y), round(p)]);
}

function round(v) {
  return Math.round(v * 100000) / 100000;
}
