// Compare the shown version (A) with another (B), locked to the same frame: B is slaved to A's
// frame, seeking to the middle of the frame like A does; while playing, B plays too and is
// pulled back whenever it drifts off A's frame.
//
// Modes: side by side, wipe (B over A, cut at a slider), difference (a canvas `difference`
// blend: black where the pictures agree), A/B flip (both decoded and stacked, only visibility
// changes, so there is never a black frame between), overlay (B at half opacity over A).
export const MODES = [
  ["off", "Off"], ["side_by_side", "Side by side"], ["wipe", "Wipe"], ["difference", "Difference"],
  ["ab", "A/B flip"], ["overlay", "Overlay"],
];

export class Compare {
  constructor(player) {
    this.player = player;
    this.mode = "off";
    this.position = 0.5;
    this.flipped = false;
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

  setSource(src, label, versionId) {
    this.versionId = versionId || null;
    this.bLabel = label || "B";
    if (this.b.getAttribute("src") === src) return;
    this.bFrame = null;
    this.b.src = src;
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

  flip() {
    if (this.mode !== "ab") this.setMode("ab");
    this.flipped = !this.flipped;
    this.apply();
  }

  apply() {
    const surface = this.player.surface;
    surface.dataset.compare = this.active ? this.mode : "off";
    surface.style.setProperty("--wipe", `${this.position * 100}%`);
    this.b.hidden = !this.active;
    this.canvas.hidden = !(this.active && this.mode === "difference");
    this.wipe.hidden = !(this.active && this.mode === "wipe");
    this.b.classList.toggle("shown", this.active && this.mode === "ab" && this.flipped);
    const a = this.player.getAttribute("label") || "A";
    const b = this.bLabel || "B";
    const text = {
      side_by_side: `<span>${a}</span><span>${b}</span>`, wipe: `<span>${a}</span><span>${b}</span>`,
      difference: `<span>|${a} − ${b}|</span>`, ab: `<span>${this.flipped ? b : a}</span>`, overlay: `<span>${a} + ${b} 50%</span>`,
    }[this.mode] || "";
    this.labels.innerHTML = this.active ? text : "";
    this.labels.dataset.mode = this.mode;
    this.draw();
  }

  follow({ frame, settled }) {
    if (!this.active) return;
    if (settled || this.b.paused) this.seekB(frame);
    else if (this.bFrame !== null && Math.abs(this.bFrame - frame) > 1) this.seekB(frame);
    this.draw();
  }

  playTogether() {
    if (!this.active) return;
    this.b.playbackRate = this.player.video.playbackRate;
    this.b.currentTime = this.player.video.currentTime;
    this.b.play().catch(() => {});
    const onFrame = (_now, meta) => {
      this.bFrame = this.player.frameAtPresentation(meta.mediaTime);
      if (!this.b.paused) this.b.requestVideoFrameCallback(onFrame);
    };
    this.b.requestVideoFrameCallback?.(onFrame);
  }

  // B's own latest-wins seek queue; `bFrame` is the frame it presents.
  seekB(frame) {
    if (!this.b.src || this.b.readyState < 1) return;
    this.bWanted = frame;
    if (this.bSeeking) return;
    const run = () => {
      if (this.bWanted === null) { this.bSeeking = false; this.player.dataset.compareFrame = String(this.bFrame); this.draw(); return; }
      this.bSeeking = true;
      const target = this.bWanted;
      this.bWanted = null;
      let done = false;
      const finish = (presented) => { if (done) return; done = true; this.bFrame = presented; run(); };
      this.b.requestVideoFrameCallback?.((_now, meta) => finish(this.player.frameAtPresentation(meta.mediaTime)));
      this.b.addEventListener("seeked", () => setTimeout(() => finish(target), 60), { once: true });
      this.b.currentTime = this.player.timeOfFrame(target);
    };
    run();
  }

  get locked() {
    return !this.active || (!this.bSeeking && this.player.idle && this.bFrame === this.player.frame);
  }

  draw() {
    if (!(this.active && this.mode === "difference")) return;
    const a = this.player.video;
    const w = a.videoWidth, h = a.videoHeight;
    if (!w || !h) return;
    if (this.canvas.width !== w || this.canvas.height !== h) { this.canvas.width = w; this.canvas.height = h; }
    const ctx = this.canvas.getContext("2d", { willReadFrequently: true });
    ctx.globalCompositeOperation = "source-over";
    ctx.drawImage(a, 0, 0, w, h);
    ctx.globalCompositeOperation = "difference";
    ctx.drawImage(this.b, 0, 0, w, h);
    ctx.globalCompositeOperation = "source-over";
    this.canvas.dataset.frame = `${this.player.frame}:${this.bFrame}`;
  }
}
