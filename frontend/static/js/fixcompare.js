// <ap-fix-compare>: the proposal (A) and its source (B) in one player, one transport and one
// playhead, paired by frame number: side by side, wipe, difference with gain, A/B flip, overlay,
// and the region the fix was asked for laid over the picture. Keys as on the review page, plus
// \ (flip A/B) and M (mask on/off).
//
// Attributes: data-source (JSON {id, label, src, first_frame, frame_count} of the source), data-mask
// (JSON {shape, points, width} or null), data-mask-frames (JSON [first, last] frame numbers),
// data-matte-url (a per-frame matte image with "{frame}" for the frame number, when tracked).
import "./player.js";
import { Compare, GAINS, MODES } from "./compare.js";
import { MaskOverlay } from "./overlay.js";

const parse = (text, fallback) => { try { return JSON.parse(text); } catch { return fallback; } };

class ApFixCompare extends HTMLElement {
  connectedCallback() {
    if (this.compare) return;
    this.player = this.querySelector("ap-player");
    if (!this.player) return;
    customElements.upgrade(this.player);
    this.compare = new Compare(this.player);
    const source = parse(this.dataset.source, null);
    if (source) this.compare.setSource(source);
    this.overlay = new MaskOverlay(this.player, {
      mask: parse(this.dataset.mask, null), frames: parse(this.dataset.maskFrames, null),
      matteUrl: this.dataset.matteUrl || "",
    });
    this.buildControls(this.querySelector("[data-fix-compare-tools]"));
    this.setMode(this.dataset.mode || "side_by_side");
    this.addEventListener("keydown", (event) => this.onKey(event), true);
  }

  buildControls(container) {
    container.innerHTML = `
      <label class="small">Compare
        <select data-mode aria-label="Compare mode">${MODES.map(([v, l]) => `<option value="${v}">${v === "off" ? "Proposal only" : l}</option>`).join("")}</select>
      </label>
      <label class="small" data-gain-label>Gain
        <select data-gain aria-label="Difference gain">${GAINS.map((g) => `<option value="${g}">×${g}</option>`).join("")}</select>
      </label>
      <button type="button" data-flip title="Flip A/B (\\)" aria-label="Flip between proposal and source">A⇄B</button>
      <label class="small checks"><input type="checkbox" data-mask checked> Mask <kbd>M</kbd></label>`;
    this.controls = {
      mode: container.querySelector("[data-mode]"), gain: container.querySelector("[data-gain]"),
      gainLabel: container.querySelector("[data-gain-label]"), mask: container.querySelector("[data-mask]"),
    };
    this.controls.mode.addEventListener("change", () => this.setMode(this.controls.mode.value));
    this.controls.gain.addEventListener("change", () => this.compare.setGain(Number(this.controls.gain.value)));
    container.querySelector("[data-flip]").addEventListener("click", () => this.flip());
    this.controls.mask.addEventListener("change", () => this.overlay.setVisible(this.controls.mask.checked));
    this.controls.mask.closest("label").hidden = !this.overlay.available;
  }

  setMode(mode) {
    this.compare.setMode(mode);
    this.controls.mode.value = mode;
    this.controls.gainLabel.hidden = mode !== "difference";
  }

  flip() {
    this.compare.flip();
    this.controls.mode.value = this.compare.mode;
    this.controls.gainLabel.hidden = true;
  }

  onKey(event) {
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "\\") { event.preventDefault(); this.flip(); return; }
    if (event.key.toLowerCase() === "m" && this.overlay.available) {
      event.preventDefault();
      this.controls.mask.checked = !this.controls.mask.checked;
      this.overlay.setVisible(this.controls.mask.checked);
      return;
    }
    // Transport keys work wherever focus is inside the compare, not only on the picture.
    const onButton = event.target.closest("button, a, summary") && (event.key === " " || event.key === "Enter");
    if (!this.player.contains(event.target) && !onButton) this.player.onKey(event);
  }
}

customElements.define("ap-fix-compare", ApFixCompare);
