// <ap-player>: a frame-exact viewer over the browser proxy (a keyframe every 2 frames).
// Frames are integers counted from 0 in the file; the version's first frame number (e.g. 1001,
// or 1012 for a proposal that starts there) is added for display. Seeks go to the middle of a frame's interval, (f + 0.5) / fps, and the frame
// actually presented is read back with requestVideoFrameCallback.
//
// The element works alone (the fix pages show two of them) and is the core of <ap-review>,
// which adds drawing, compare and the review room around it. Other modules listen to its
// "framechange" (a frame is on screen, settled or during playback) and "transport" events.
import { framesToTimecode, timecodeToFrames } from "./timecode.js";

const SHUTTLE = [1, 2, 4, 8];
// When rVFC does not fire (the seek landed on the frame already shown), trust `seeked` after this.
const SEEKED_GRACE_MS = 60;

export class ApPlayer extends HTMLElement {
  connectedCallback() {
    if (this.video) return;
    this.video = this.querySelector("video");
    if (!this.video) return;
    this.fpsNum = Number(this.getAttribute("fps-num")) || 24;
    this.fpsDen = Number(this.getAttribute("fps-den")) || 1;
    this.frameCount = Number(this.getAttribute("frame-count")) || 0;
    this.firstFrame = Number(this.getAttribute("first-frame")) || 0;
    // The first frame's number and timecode are the version's own (a proposal for part of a shot
    // starts where its range starts); drop-frame counting follows the timecode's ";".
    const startTimecode = this.getAttribute("start-timecode") || "";
    this.startFrames = timecodeToFrames(startTimecode, this.fpsNum, this.fpsDen);
    this.dropFrame = startTimecode.includes(";");
    this.columns = 1; // 2 while a compare shows two pictures side by side
    this.frame = 0;
    this.goal = 0; // the last frame asked for: steps count from here, not from what is shown
    this.wanted = null;
    this.seeking = false;
    this.ready = false;
    this.marks = { in: null, out: null };
    this.loop = false;
    this.shuttle = 0; // 0 stopped; ±n plays at SHUTTLE[n-1]× forwards or backwards
    this.zoom = 1;
    this.pan = { x: 0, y: 0 };
    this.video.controls = false;
    this.video.muted = true;
    this.video.removeAttribute("tabindex");
    if (!this.hasAttribute("tabindex")) this.tabIndex = 0;
    this.setAttribute("role", this.getAttribute("role") || "group");
    if (!this.hasAttribute("aria-label")) this.setAttribute("aria-label", "Player: arrows step frames, space plays");
    this.buildStage();
    this.buildBar();
    // A link to a frame (a notification, a note) opens the player there.
    const startAt = Number(this.getAttribute("start-frame")) || 0;
    const start = () => { this.ready = true; this.fit(); this.seekTo(startAt); this.dispatchEvent(new CustomEvent("playerready")); };
    // The module may run after the metadata arrived (preload="auto"): then start now.
    if (this.video.readyState >= 1) start();
    else this.video.addEventListener("loadedmetadata", start, { once: true });
    this.video.addEventListener("play", () => { this.watchPlayback(); this.updatePlayButton(); });
    this.video.addEventListener("pause", () => {
      this.updatePlayButton();
      if (this.shuttle > 0) this.shuttle = 0;
      if (!this.seeking) this.seekTo(this.frameFromTime(this.video.currentTime));
    });
    this.addEventListener("keydown", (event) => this.onKey(event));
    this.resizeObserver = new ResizeObserver(() => this.fit());
    this.resizeObserver.observe(this);
  }

  disconnectedCallback() {
    this.resizeObserver?.disconnect();
    clearInterval(this.reverseTimer);
  }

  get fps() { return this.fpsNum / this.fpsDen; }
  get lastFrame() { return Math.max(this.frameCount - 1, 0); }

  // The stage holds the picture and everything drawn over it; zoom and pan move them together.
  buildStage() {
    this.stage = document.createElement("div");
    this.stage.className = "stage";
    this.surface = document.createElement("div");
    this.surface.className = "surface";
    this.video.replaceWith(this.stage);
    this.stage.append(this.surface);
    this.surface.append(this.video);
    this.stage.addEventListener("wheel", (event) => {
      if (!event.ctrlKey && !event.altKey) return;
      event.preventDefault();
      this.setZoom(this.zoom * (event.deltaY < 0 ? 1.15 : 1 / 1.15));
    }, { passive: false });
    // Middle button, or space held, pans a zoomed picture.
    this.stage.addEventListener("pointerdown", (event) => {
      if (this.zoom === 1 || !(event.button === 1 || this.panKey)) return;
      event.preventDefault();
      const start = { x: event.clientX - this.pan.x, y: event.clientY - this.pan.y };
      const move = (e) => { this.pan = { x: e.clientX - start.x, y: e.clientY - start.y }; this.applyTransform(); };
      const up = () => { window.removeEventListener("pointermove", move); window.removeEventListener("pointerup", up); };
      window.addEventListener("pointermove", move);
      window.addEventListener("pointerup", up);
    });
  }

  // The surface takes the picture's aspect and the largest size the stage allows, so anything
  // laid over it in fractions of the frame lands on the picture, never on letterbox bars.
  fit() {
    const width = (this.video.videoWidth || 16) * (this.columns || 1), height = this.video.videoHeight || 9;
    this.stage.style.aspectRatio = `${width} / ${height}`;
    const box = this.stage.getBoundingClientRect();
    const maxHeight = Math.max(120, box.height || (box.width * height) / width);
    let w = box.width, h = (box.width * height) / width;
    if (h > maxHeight) { h = maxHeight; w = (h * width) / height; }
    this.surface.style.width = `${w}px`;
    this.surface.style.height = `${h}px`;
    this.dispatchEvent(new CustomEvent("fit", { detail: { width: w, height: h } }));
  }

  setZoom(zoom) {
    this.zoom = Math.min(Math.max(zoom, 1), 8);
    if (this.zoom === 1) this.pan = { x: 0, y: 0 };
    this.applyTransform();
    if (this.zoomOut) this.zoomOut.textContent = `${Math.round(this.zoom * 100)}%`;
  }

  applyTransform() {
    this.surface.style.transform = this.zoom === 1 ? "" : `translate(${this.pan.x}px, ${this.pan.y}px) scale(${this.zoom})`;
  }

  buildBar() {
    const bar = document.createElement("div");
    bar.className = "player-bar";
    bar.innerHTML = `
      <div class="transport" role="toolbar" aria-label="Transport">
        <button type="button" data-act="in-go" aria-label="Go to in mark" title="Go to in (Home)">⇤</button>
        <button type="button" data-act="back" aria-label="Previous frame" title="Previous frame (←)">◀︎❙</button>
        <button type="button" data-act="play" aria-label="Play" title="Play / pause (space, K)" class="play">▶︎</button>
        <button type="button" data-act="fwd" aria-label="Next frame" title="Next frame (→)">❙▶︎</button>
        <button type="button" data-act="out-go" aria-label="Go to out mark" title="Go to out (End)">⇥</button>
      </div>
      <div class="counters">
        <label class="counter"><span>Frame</span><output aria-live="polite" aria-atomic="true" data-frame>—</output></label>
        <label class="counter"><span>TC</span><output data-tc>—</output></label>
        <span class="rate" data-rate hidden></span>
      </div>
      <div class="marks" role="group" aria-label="In and out marks">
        <button type="button" data-act="mark-in" title="Mark in (I)" aria-label="Mark in">I</button>
        <button type="button" data-act="mark-out" title="Mark out (O)" aria-label="Mark out">O</button>
        <button type="button" data-act="loop" title="Loop between in and out" aria-pressed="false">⟲ Loop</button>
        <span class="small muted" data-marks></span>
      </div>
      <div class="view">
        <button type="button" data-act="zoom-out" aria-label="Zoom out" title="Zoom out (-)">−</button>
        <output data-zoom class="small">100%</output>
        <button type="button" data-act="zoom-in" aria-label="Zoom in" title="Zoom in (+)">+</button>
        <span class="muted small">${this.fpsDen === 1 ? this.fpsNum : (this.fpsNum / this.fpsDen).toFixed(3)} fps · ${this.frameCount} fr</span>
      </div>`;
    bar.addEventListener("click", (event) => {
      const act = event.target.closest("button")?.dataset.act;
      const actions = {
        back: () => this.step(-1), fwd: () => this.step(1), play: () => this.togglePlay(),
        "in-go": () => this.seekTo(this.marks.in ?? 0), "out-go": () => this.seekTo(this.marks.out ?? this.lastFrame),
        "mark-in": () => this.setMark("in"), "mark-out": () => this.setMark("out"), loop: () => this.toggleLoop(),
        "zoom-in": () => this.setZoom(this.zoom * 1.25), "zoom-out": () => this.setZoom(this.zoom / 1.25),
      };
      if (actions[act]) actions[act]();
    });
    this.append(bar);
    this.bar = bar;
    this.frameOut = bar.querySelector("[data-frame]");
    this.tcOut = bar.querySelector("[data-tc]");
    this.rateOut = bar.querySelector("[data-rate]");
    this.marksOut = bar.querySelector("[data-marks]");
    this.zoomOut = bar.querySelector("[data-zoom]");
    this.playButton = bar.querySelector("[data-act=play]");
    this.loopButton = bar.querySelector("[data-act=loop]");
    this.buildFilmstrip();
  }

  buildFilmstrip() {
    const film = document.createElement("div");
    film.className = "filmstrip";
    film.setAttribute("role", "slider");
    film.setAttribute("aria-label", "Scrub");
    film.setAttribute("aria-valuemin", "0");
    film.setAttribute("aria-valuemax", String(this.lastFrame));
    const strip = this.getAttribute("filmstrip");
    if (strip) film.style.backgroundImage = `url("${strip}")`;
    else film.classList.add("bare");
    film.innerHTML = '<div class="range" hidden></div><div class="ticks"></div><div class="head"></div>';
    const frameAt = (event) => {
      const box = film.getBoundingClientRect();
      return Math.floor(Math.min(Math.max((event.clientX - box.left) / box.width, 0), 0.9999) * this.frameCount);
    };
    film.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      film.setPointerCapture(event.pointerId);
      if (!this.video.paused) this.pause();
      this.seekTo(frameAt(event));
      const move = (e) => this.seekTo(frameAt(e));
      const up = () => { film.removeEventListener("pointermove", move); film.removeEventListener("pointerup", up); };
      film.addEventListener("pointermove", move);
      film.addEventListener("pointerup", up);
    });
    this.append(film);
    this.film = film;
    this.filmHead = film.querySelector(".head");
    this.filmRange = film.querySelector(".range");
    this.filmTicks = film.querySelector(".ticks");
  }

  // Small marks on the filmstrip where notes are: set by <ap-review>.
  setTicks(frames) {
    if (!this.frameCount) return;
    this.filmTicks.innerHTML = [...new Set(frames)].map(
      (f) => `<i style="left:${(100 * (f + 0.5)) / this.frameCount}%"></i>`).join("");
  }

  // A presented frame's mediaTime is its start, f / fps.
  frameAtPresentation(mediaTime) {
    return Math.round((mediaTime * this.fpsNum) / this.fpsDen);
  }

  // currentTime may be anywhere inside a frame's interval.
  frameFromTime(seconds) {
    return Math.min(Math.max(Math.floor((seconds * this.fpsNum) / this.fpsDen + 1e-6), 0), this.lastFrame);
  }

  timeOfFrame(frame) {
    return ((frame + 0.5) * this.fpsDen) / this.fpsNum;
  }

  timecode(frame) {
    return framesToTimecode(this.startFrames + frame, this.fpsNum, this.fpsDen, this.dropFrame);
  }

  show(frame, { settled = true } = {}) {
    this.frame = frame;
    this.frameOut.textContent = String(this.firstFrame + frame);
    this.tcOut.textContent = this.timecode(frame);
    this.dataset.currentFrame = String(frame);
    this.film.setAttribute("aria-valuenow", String(frame));
    if (this.frameCount) this.filmHead.style.left = `${(100 * (frame + 0.5)) / this.frameCount}%`;
    this.dispatchEvent(new CustomEvent("framechange", { detail: { frame, settled, playing: !this.video.paused } }));
  }

  get idle() { return !this.seeking && this.wanted === null; }

  // "Latest wins": while a seek is in flight only the last requested frame is kept.
  seekTo(frame, { quiet = false } = {}) {
    this.goal = Math.min(Math.max(Math.round(frame), 0), this.lastFrame);
    this.wanted = this.goal;
    if (!quiet) this.dispatchEvent(new CustomEvent("transport", { detail: { frame: this.goal, state: "paused" } }));
    if (!this.seeking) this.runSeek();
  }

  runSeek() {
    if (this.wanted === null) { this.seeking = false; this.dataset.seeking = "false"; return; }
    this.seeking = true;
    this.dataset.seeking = "true";
    const target = this.wanted;
    this.wanted = null;
    let settled = false;
    const finish = (presented) => {
      if (settled) return;
      settled = true;
      // A newer request is on its way: show nothing in between, go straight on.
      if (this.wanted === null) this.show(presented);
      this.runSeek();
    };
    if (this.video.requestVideoFrameCallback) {
      this.video.requestVideoFrameCallback((_now, meta) => finish(this.frameAtPresentation(meta.mediaTime)));
    }
    // rVFC does not fire when the seek lands on the frame already shown.
    this.video.addEventListener("seeked", () => setTimeout(() => finish(target), SEEKED_GRACE_MS), { once: true });
    this.video.currentTime = this.timeOfFrame(target);
  }

  step(delta) {
    if (!this.video.paused || this.shuttle) this.pause();
    this.seekTo(this.goal + delta);
  }

  play(rate = 1) {
    clearInterval(this.reverseTimer);
    this.video.playbackRate = rate;
    if (this.loop && this.marks.out !== null && this.frame >= this.marks.out) this.seekTo(this.marks.in ?? 0, { quiet: true });
    this.video.play();
    this.showRate(rate);
    this.dispatchEvent(new CustomEvent("transport", { detail: { state: "playing", frame: this.frame, rate } }));
  }

  pause() {
    clearInterval(this.reverseTimer);
    this.reverseTimer = null;
    this.shuttle = 0;
    this.showRate(0);
    if (!this.video.paused) this.video.pause();
    else this.seekTo(this.frame);
  }

  togglePlay() {
    if (this.video.paused && !this.reverseTimer) this.play(); else this.pause();
  }

  // J/K/L: L plays forwards 1×→2×→4×→8×, J the same backwards. Browsers cannot play backwards,
  // so reverse is a paced run of exact seeks.
  shuttleBy(direction) {
    const current = this.shuttle;
    const next = Math.sign(current) === direction ? Math.min(Math.abs(current) + 1, SHUTTLE.length) * direction : direction;
    this.shuttle = next;
    const rate = SHUTTLE[Math.abs(next) - 1];
    if (next > 0) { this.play(rate); this.shuttle = next; return; }
    if (!this.video.paused) this.video.pause();
    clearInterval(this.reverseTimer);
    this.showRate(-rate);
    this.reverseTimer = setInterval(() => {
      if (!this.idle) return;
      const floor = this.loop && this.marks.in !== null ? this.marks.in : 0;
      if (this.goal <= floor) {
        if (this.loop) this.seekTo(this.marks.out ?? this.lastFrame); else this.pause();
        return;
      }
      this.seekTo(this.goal - Math.max(1, Math.round(rate / 2)));
    }, 1000 / Math.min(this.fps * rate, 24));
    this.updatePlayButton(true);
  }

  showRate(rate) {
    this.rateOut.hidden = rate === 0 || rate === 1;
    this.rateOut.textContent = `${rate > 0 ? "▶" : "◀"} ${Math.abs(rate)}×`;
  }

  updatePlayButton(playing = !this.video.paused) {
    this.playButton.textContent = playing ? "❚❚" : "▶︎";
    this.playButton.setAttribute("aria-label", playing ? "Pause" : "Play");
    this.classList.toggle("playing", playing);
  }

  setMark(which) {
    this.marks[which] = this.frame;
    if (this.marks.in !== null && this.marks.out !== null && this.marks.in > this.marks.out) {
      [this.marks.in, this.marks.out] = [this.marks.out, this.marks.in];
    }
    this.renderMarks();
  }

  clearMarks() {
    this.marks = { in: null, out: null };
    this.loop = false;
    this.renderMarks();
  }

  toggleLoop(on = !this.loop) {
    this.loop = on;
    this.renderMarks();
    this.dispatchEvent(new CustomEvent("transport", { detail: { loop: this.loopRange() } }));
  }

  loopRange() {
    return this.loop ? [this.marks.in ?? 0, this.marks.out ?? this.lastFrame] : null;
  }

  renderMarks() {
    const { in: i, out: o } = this.marks;
    this.loopButton.setAttribute("aria-pressed", String(this.loop));
    this.marksOut.textContent = i === null && o === null ? "" :
      `${i === null ? "—" : this.firstFrame + i} → ${o === null ? "—" : this.firstFrame + o}`;
    const has = i !== null || o !== null;
    this.filmRange.hidden = !has || !this.frameCount;
    if (has && this.frameCount) {
      const a = i ?? 0, b = o ?? this.lastFrame;
      this.filmRange.style.left = `${(100 * a) / this.frameCount}%`;
      this.filmRange.style.width = `${(100 * (b - a + 1)) / this.frameCount}%`;
    }
  }

  watchPlayback() {
    if (!this.video.requestVideoFrameCallback) return;
    const onFrame = (_now, meta) => {
      if (this.video.paused) return;
      const frame = this.frameAtPresentation(meta.mediaTime);
      this.goal = frame;
      this.show(frame, { settled: false });
      const range = this.loopRange();
      if (range && frame >= range[1]) this.video.currentTime = this.timeOfFrame(range[0]);
      this.video.requestVideoFrameCallback(onFrame);
    };
    this.video.requestVideoFrameCallback(onFrame);
  }

  onKey(event) {
    if (event.defaultPrevented || event.target.closest("input, textarea, select, [contenteditable]")) return;
    if (event.ctrlKey || event.metaKey) return;
    const second = Math.round(this.fps);
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const keys = {
      ArrowLeft: () => this.step(event.shiftKey ? -second : -1),
      ArrowRight: () => this.step(event.shiftKey ? second : 1),
      " ": () => this.togglePlay(),
      k: () => this.pause(),
      j: () => this.shuttleBy(-1),
      l: () => this.shuttleBy(1),
      i: () => this.setMark("in"),
      o: () => this.setMark("out"),
      Home: () => this.seekTo(this.marks.in ?? 0),
      End: () => this.seekTo(this.marks.out ?? this.lastFrame),
      "+": () => this.setZoom(this.zoom * 1.25),
      "=": () => this.setZoom(this.zoom * 1.25),
      "-": () => this.setZoom(this.zoom / 1.25),
      "0": () => this.setZoom(1),
    };
    if (event.altKey && (key === "j" || key === "k")) return; // previous / next shot: the page's
    const action = keys[key];
    if (action) { event.preventDefault(); action(); }
  }
}

customElements.define("ap-player", ApPlayer);
