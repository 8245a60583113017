// Compare the shown version (A) with another (B), locked to the same frame *number*: each
// version knows the number of its first frame, so a proposal for frames 1012–1030 is paired with
// frames 1012–1030 of its source, never with the source's first 19 frames. B is slaved to A's
// playhead, seeking to the middle of the frame like A does; while playing, B plays too and is
// pulled back whenever it drifts off A's frame. Where B has no frame with A's number it is hidden
// and the labels say so.
//
// Modes: side by side (the picture area doubles in width, so both keep their aspect), wipe (B over
// A, cut at a slider), difference (a canvas `difference` blend, black where the pictures agree,
// amplified by a gain), A/B flip (both decoded and stacked, only visibility changes, so there is
// never a black frame between), overlay (B at half opacity over A).
export const MODES = [
  ["off", "Off"], ["side_by_side", "Side by side"], ["wipe", "Wipe"], ["difference", "Difference"],
  ["ab", "A/B flip"], ["overlay", "Overlay"],
];

export const GAINS = [1, 2, 4, 8, 16];

// The index in B of the frame A shows at `index`, or null when B has no frame with that number.
export function pairedIndex(index, aFirstFrame, bFirstFrame, bFrameCount) {
  const b = index + aFirstFrame - bFirstFrame;
  return b >= 0 && (!bFrameCount || b < bFrameCount) ? b : null;
}

export class Compare {
  constructor(player) {
    this.player = player;
    this.mode = "off";
    this.position = 0.5;
    this.gain = 1;
    this.flipped = false;
    this.option = null;
    this.b = document.createElement("video");
    this.b.className = "compare-b";
    this.b.muted = true;
    this.b.preload = "auto";
    this.b.playsInline = true;
    this.b.setAttribute("aria-hidden", "true");
    this.canvas = document.createElement("canvas");
    this.canvas.className = "difference";
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", "Difference between A and B: black where they agree");
    this.scratch = document.createElement("canvas");
    this.wipe = document.createElement("input");
    this.wipe.type = "range";
    this.wipe.min = "0"; this.wipe.max = "1000"; this.wipe.value = "500";
    this.wipe.className = "wipe-slider";
    this.wipe.setAttribute("aria-label", "Wipe position");
    this.wipe.addEventListener("input", () => this.setPosition(Number(this.wipe.value) / 1000));
    this.labels = document.createElement("div");
    this.labels.className = "compare-labels";
    player.surface.insertBefore(this.b, player.video.nextSibling);
    player.surface.insertBefore(this.canvas, this.b.nextSibling);
    player.surface.append(this.labels);
    player.stage.append(this.wipe);
    this.bFrame = null;
    this.bSeeking = false;
    this.bWanted = null;
    player.addEventListener("framechange", (event) => this.follow(event.detail));
    player.video.addEventListener("play", () => this.playTogether());
    player.video.addEventListener("pause", () => { this.b.pause(); });
    this.apply();
  }

  get active() { return this.mode !== "off" && !!this.b.src; }
  get versionId() { return this.option?.id ?? null; }
  get bLabel() { return this.option?.label || "B"; }

  // The B index paired with A's `frame` (an index in A), or null where B has no such frame.
  bIndexFor(frame) {
    const o = this.option;
    if (!o) return null;
    return pairedIndex(frame, this.player.firstFrame, o.first_frame ?? this.player.firstFrame, o.frame_count || 0);
  }

  // `option`: {id, label, src, first_frame, frame_count}, as the page lists the versions.
  setSource(option) {
    this.option = option;
    if (this.b.getAttribute("src") === option.src) { this.apply(); return; }
    this.bFrame = null;
    this.b.src = option.src;
    this.b.addEventListener("loadedmetadata", () => this.seekB(this.player.frame), { once: true });
    this.apply();
  }

  setMode(mode) {
    this.mode = mode;
    this.flipped = false;
    this.apply();
    if (this.active) this.seekB(this.player.frame);
  }

  setPosition(position) {
    this.position = Math.min(Math.max(position, 0), 1);
    this.wipe.value = String(Math.round(this.position * 1000));
    this.apply();
  }

  setGain(gain) {
    this.gain = Math.max(1, Number(gain) || 1);
    this.draw();
  }

  flip() {
    if (this.mode !== "ab") this.setMode("ab");
    this.flipped = !this.flipped;
    this.apply();
  }

  apply() {
    const surface = this.player.surface;
    surface.dataset.compare = this.active ? this.mode : "off";
    surface.style.setProperty("--wipe", `${this.position * 100}%`);
    const columns = this.active && this.mode === "side_by_side" ? 2 : 1;
    if (this.player.columns !== columns) { this.player.columns = columns; this.player.fit(); }
    const missing = this.active && this.bIndexFor(this.player.frame) === null;
    surface.dataset.compareMissing = String(missing);
    this.b.hidden = !this.active;
    this.canvas.hidden = !(this.active && this.mode === "difference");
    this.wipe.hidden = !(this.active && this.mode === "wipe");
    this.b.classList.toggle("shown", this.active && this.mode === "ab" && this.flipped);
    const a = this.player.getAttribute("label") || "A";
    const b = missing ? `${this.bLabel}: no frame ${this.player.firstFrame + this.player.frame}` : this.bLabel;
    const parts = {
      side_by_side: [a, b], wipe: [a, b], difference: [`|${a} − ${b}|${this.gain > 1 ? ` ×${this.gain}` : ""}`],
      ab: [this.flipped ? b : a], overlay: [`${a} + ${b} 50%`],
    }[this.mode] || [];
    this.labels.replaceChildren(...(this.active ? parts : []).map((part) => {
      const span = document.createElement("span");
      span.textContent = part;
      return span;
    }));
    this.labels.dataset.mode = this.mode;
    this.draw();
  }

  follow({ frame, settled }) {
    if (!this.active) return;
    const target = this.bIndexFor(frame);
    const missing = target === null;
    if (String(missing) !== this.player.surface.dataset.compareMissing) this.apply();
    if (missing) { if (!this.b.paused) this.b.pause(); return; }
    if (settled || this.b.paused) this.seekB(frame);
    else if (this.bFrame !== null && Math.abs(this.bFrame - target) > 1) this.seekB(frame);
    this.draw();
  }

  playTogether() {
    if (!this.active) return;
    const target = this.bIndexFor(this.player.frame);
    if (target === null) return;
    this.b.playbackRate = this.player.video.playbackRate;
    this.b.currentTime = this.player.timeOfFrame(target);
    this.b.play().catch(() => {});
    const onFrame = (_now, meta) => {
      this.bFrame = this.player.frameAtPresentation(meta.mediaTime);
      if (!this.b.paused) this.b.requestVideoFrameCallback(onFrame);
    };
    this.b.requestVideoFrameCallback?.(onFrame);
  }

  // B's own latest-wins seek queue; `bFrame` is the B index it presents. `frame` is A's index.
  seekB(frame) {
    if (!this.b.src || this.b.readyState < 1) return;
    const target = this.bIndexFor(frame);
    if (target === null) return;
    this.bWanted = target;
    if (this.bSeeking) return;
    const run = () => {
      if (this.bWanted === null) {
        this.bSeeking = false;
        this.player.dataset.compareFrame = String(this.bFrame + (this.option.first_frame ?? this.player.firstFrame));
        this.draw();
        return;
      }
      this.bSeeking = true;
      const wanted = this.bWanted;
      this.bWanted = null;
      let done = false;
      const finish = (presented) => { if (done) return; done = true; this.bFrame = presented; run(); };
      // The first presentation reported may still be one from before this seek (the frame shown
      // when the video loaded): wait for the next one before taking a different frame as the answer.
      let early = true;
      const presented = (_now, meta) => {
        const frame = this.player.frameAtPresentation(meta.mediaTime);
        if (frame !== wanted && early) { early = false; this.b.requestVideoFrameCallback(presented); return; }
        finish(frame);
      };
      this.b.requestVideoFrameCallback?.(presented);
      this.b.addEventListener("seeked", () => setTimeout(() => finish(wanted), 60), { once: true });
      this.b.currentTime = this.player.timeOfFrame(wanted);
    };
    run();
  }

  get locked() {
    if (!this.active) return true;
    const target = this.bIndexFor(this.player.frame);
    return !this.bSeeking && this.player.idle && (target === null || this.bFrame === target);
  }

  draw() {
    if (!(this.active && this.mode === "difference")) return;
    const a = this.player.video;
    const w = a.videoWidth, h = a.videoHeight;
    if (!w || !h) return;
    for (const c of [this.canvas, this.scratch]) if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
    const diff = this.scratch.getContext("2d", { willReadFrequently: true });
    diff.globalCompositeOperation = "source-over";
    diff.drawImage(a, 0, 0, w, h);
    if (this.bIndexFor(this.player.frame) !== null) {
      diff.globalCompositeOperation = "difference";
      diff.drawImage(this.b, 0, 0, w, h);
      diff.globalCompositeOperation = "source-over";
    }
    // The gain multiplies the difference (brightness() is a linear scale, clamped at white), so
    // a change of one code value in eight shows as clearly as a large one.
    const ctx = this.canvas.getContext("2d", { willReadFrequently: true });
    ctx.filter = this.gain > 1 ? `brightness(${this.gain})` : "none";
    ctx.drawImage(this.scratch, 0, 0);
    ctx.filter = "none";
    this.canvas.dataset.frame = `${this.player.frame}:${this.bFrame}`;
  }
}
