// <ap-review>: the review page's island. It wraps one <ap-player> and the side panel and joins
// the version's review room: drawings and comments from everyone, presence with each person's
// frame, laser pointers, follow the presenter, compare with another version, and a banner that
// says when the connection drops and what was caught up on return.
import { ApPlayer } from "./player.js";
import { Compare, MODES } from "./compare.js";
import { DrawingLayer, MASK_SHAPES, escapeHtml } from "./draw.js";
import { RoomClient } from "./room.js";

const PRESENTER_BEAT_MS = 1500;
// A dropped connection that is back within this long shows no warning at all.
const OFFLINE_NOTICE_MS = 2000;

function json(attr, fallback) {
  try { return attr ? JSON.parse(attr) : fallback; } catch { return fallback; }
}

function when(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

function initials(name) {
  return (name || "?").split(/\s+/).map((w) => w[0]).join("").slice(0, 2).toUpperCase();
}

function hue(id) {
  return (Number(id) * 137) % 360;
}

class ApReview extends HTMLElement {
  connectedCallback() {
    if (this.started) return;
    this.started = true;
    this.player = this.querySelector("ap-player");
    if (!this.player) return;
    customElements.upgrade(this.player);
    this.versionId = Number(this.getAttribute("version-id"));
    this.canDraw = this.hasAttribute("can-draw");
    this.canComment = this.hasAttribute("can-comment");
    this.canPresent = this.hasAttribute("can-present");
    this.fixUrl = this.getAttribute("fix-url");
    // Lists come in <script type="application/json"> elements (Django's json_script), named here.
    const data = (name) => json(document.getElementById(this.getAttribute(name) || "")?.textContent, []);
    this.members = data("members");
    this.compareOptions = data("compare-options");
    this.comments = new Map();
    this.presence = new Map();
    this.presenter = null;
    this.following = false;
    this.undoStack = [];
    this.redoStack = [];
    this.banner = this.querySelector("[data-banner]");
    this.drawing = new DrawingLayer(this.player, {
      canDraw: this.canDraw,
      onCreate: (shape) => this.createShape(shape, { record: true }),
      onDelete: (id) => this.deleteShape(id, { record: true }),
      onPointer: (p) => this.sendPointer(p),
      onSelect: (shape) => this.selectionChanged(shape),
    });
    this.drawing.buildToolbar(this.querySelector("[data-draw-tools]"), this.querySelector("[data-tool-rail]"));
    this.compare = new Compare(this.player);
    this.buildCompareControls(this.querySelector("[data-compare-tools]"));
    this.buildLive(this.querySelector("[data-live]"));
    this.buildComments(this.querySelector("[data-comments]"));
    this.progress = this.querySelector("[data-progress]");
    this.addEventListener("keydown", (event) => this.onKey(event), true);
    this.player.addEventListener("framechange", (event) => this.frameChanged(event.detail));
    this.player.addEventListener("transport", (event) => this.transportChanged(event.detail));
    this.room = new RoomClient(this.getAttribute("room"));
    this.room.addEventListener("welcome", (e) => this.welcome(e.detail));
    this.room.addEventListener("event", (e) => this.applyEvent(e.detail));
    this.room.addEventListener("online", (e) => this.online(e.detail));
    this.room.addEventListener("offline", () => this.offline());
    this.room.addEventListener("gone", (e) => this.say(e.detail.code === 4403 ? "You no longer have access to this production." : "This room has closed.", "bad", 0));
    this.room.addEventListener("refused", (e) => this.refused(e.detail));
    this.room.addEventListener("presence.joined", (e) => this.upsertPresence(e.detail));
    this.room.addEventListener("presence.moved", (e) => this.upsertPresence(e.detail));
    this.room.addEventListener("presence.left", (e) => { this.presence.delete(e.detail.id); this.renderPresence(); this.renderLive(); });
    this.room.addEventListener("pointer", (e) => this.drawing.showPointer(e.detail));
    this.room.addEventListener("playhead", (e) => this.remotePlayhead(e.detail));
    this.room.addEventListener("live", (e) => this.liveNotice(e.detail));
    this.room.connect();
    window.addEventListener("beforeunload", () => this.room.close());
  }

  // ------------------------------------------------------------------ room state

  welcome(message) {
    const state = message.state;
    if (message.reset) {
      this.drawing.shapes.clear();
      this.comments.clear();
      for (const a of state.annotations || []) this.drawing.shapes.set(a.id, a);
      for (const thread of state.comments || []) {
        const { replies = [], ...top } = thread;
        this.comments.set(top.id, top);
        for (const r of replies) this.comments.set(r.id, r);
      }
    }
    this.presence.clear();
    for (const p of state.presence) this.presence.set(p.id, p);
    this.presenter = state.presenter;
    this.playhead = state.playhead;
    this.drawing.render();
    this.renderComments();
    this.renderPresence();
    this.renderLive();
    this.updateTicks();
    if (message.first && this.presenter && this.presenter.id !== this.room.you.user.id) {
      this.say(`${this.presenter.name} is presenting. Follow to watch with them.`, "info", 6000);
    }
  }

  online({ first, missed, reset }) {
    this.dataset.connected = "true";
    // A reconnect the user never saw a warning for needs no "back online" either.
    clearTimeout(this.offlineTimer);
    const warned = this.offlineWarned;
    this.offlineWarned = false;
    if (!first && warned) {
      const what = reset ? "reloaded the room" : `caught up on ${missed} change${missed === 1 ? "" : "s"}`;
      this.say(`Back online — ${what}.`, "ok", 4000);
    }
    this.sendPresence({ frame: this.player.frame, version: this.versionId, following: this.following });
    if (this.following) this.applyPlayhead(this.playhead);
  }

  offline() {
    this.dataset.connected = "false";
    // Most drops (a server restart, a load balancer moving the connection) are back within a
    // second or two: only a longer outage is worth interrupting anyone for.
    if (this.offlineTimer || this.offlineWarned) return;
    this.offlineTimer = setTimeout(() => {
      this.offlineTimer = null;
      this.offlineWarned = true;
      this.say("Connection lost — reconnecting… Your notes are kept and go out when it is back.", "warn", 0);
    }, OFFLINE_NOTICE_MS);
  }

  refused(error) {
    if (error.code === "rate_limited") return;
    if (error.code === "unavailable") {
      this.say("The server cannot save right now — your change is kept and sent again in a moment.", "warn", 4000);
      return;
    }
    this.say(`Not saved: ${error.message}`, "bad", 6000);
    // An optimistic shape or comment the server refused is taken back.
    if (error.in === "annotation.create") this.resync();
    if (error.in === "comment.create") this.resync();
  }

  resync() {
    this.room.seq = null;
    this.room.sendLive({ type: "hello", since: null });
  }

  applyEvent(event) {
    const data = event.data || {};
    switch (event.event) {
      case "annotation.created":
      case "annotation.updated":
        this.drawing.upsert(data);
        this.updateTicks();
        break;
      case "annotation.deleted":
        this.drawing.remove(data.id);
        this.updateTicks();
        break;
      case "comment.created":
      case "comment.edited":
      case "comment.deleted":
      case "comment.resolved":
      case "comment.reopened":
        this.comments.set(data.id, { ...data, pending: false });
        this.renderComments();
        this.updateTicks();
        break;
      case "presenter.changed":
        this.presenter = data.presenter;
        if (!this.presenter && this.following) this.setFollowing(false);
        this.renderLive();
        this.renderPresence();
        break;
      default:
        if (event.event) this.say(`${event.event.replace(".", " ")}${event.by ? ` by ${event.by.name}` : ""}`, "info", 5000);
    }
  }

  say(text, tone = "info", ms = 4000) {
    if (!this.banner) return;
    this.banner.textContent = text;
    this.banner.dataset.tone = tone;
    this.banner.hidden = false;
    clearTimeout(this.bannerTimer);
    if (ms) this.bannerTimer = setTimeout(() => { this.banner.hidden = true; }, ms);
  }

  liveNotice({ event, data }) {
    if (!this.progress) return;
    const key = `${event}:${data.job ?? data.job_id ?? data.asset ?? data.asset_id ?? data.id ?? ""}`;
    const raw = data.progress ?? data.percent ?? (data.fraction !== undefined ? data.fraction * 100 : null);
    let row = this.progress.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (!row) {
      row = document.createElement("div");
      row.className = "progress-row";
      row.dataset.key = key;
      row.innerHTML = `<span class="small"></span><progress max="100"></progress>`;
      this.progress.append(row);
    }
    const label = event === "asset.progress" ? "Ingest" : event === "job.progress" ? "Fix job" : event;
    row.querySelector("span").textContent = `${label}${data.stage || data.status ? ` · ${data.stage || data.status}` : ""}`;
    const bar = row.querySelector("progress");
    bar.setAttribute("aria-label", `${label} progress`);
    if (raw !== null && raw !== undefined) bar.value = Math.round(raw);
    const finished = Number(raw) >= 100 || ["ready", "failed", "succeeded", "done"].includes(String(data.status || data.state || "").toLowerCase());
    if (finished) setTimeout(() => row.remove(), 4000);
  }

  // ------------------------------------------------------------------ drawing

  createShape(shape, { record }) {
    const annotation = { ...shape, id: crypto.randomUUID() };
    this.drawing.upsert({ ...annotation, pending: true });
    this.room.send("annotation.create", { annotation });
    if (record) { this.undoStack.push({ kind: "create", shape: annotation }); this.redoStack = []; }
    if (MASK_SHAPES.has(shape.shape)) this.drawing.select(annotation.id);
    this.updateTicks();
  }

  deleteShape(id, { record }) {
    const shape = this.drawing.shapes.get(id);
    if (!shape) return;
    this.drawing.remove(id);
    this.room.send("annotation.delete", { id });
    if (record) { this.undoStack.push({ kind: "delete", shape }); this.redoStack = []; }
    this.updateTicks();
  }

  plainShape(shape) {
    const { shape: kind, points, frame, duration, color, width, text } = shape;
    return { shape: kind, points, frame, duration, color, width, ...(text ? { text } : {}) };
  }

  undo() {
    const last = this.undoStack.pop();
    if (!last) return;
    if (last.kind === "create") {
      const id = this.liveIdOf(last.shape);
      if (id) this.deleteShape(id, { record: false });
    } else {
      // A deleted shape comes back as a new one: the server keeps the deletion on record.
      const again = this.plainShape(last.shape);
      this.createShape(again, { record: false });
      last.shape = { ...again, id: [...this.drawing.shapes.keys()].pop() };
    }
    this.redoStack.push(last);
  }

  redo() {
    const next = this.redoStack.pop();
    if (!next) return;
    if (next.kind === "create") {
      const again = this.plainShape(next.shape);
      this.createShape(again, { record: false });
      next.shape = { ...again, id: [...this.drawing.shapes.keys()].pop() };
    } else {
      const id = this.liveIdOf(next.shape);
      if (id) this.deleteShape(id, { record: false });
    }
    this.undoStack.push(next);
  }

  liveIdOf(shape) {
    return this.drawing.shapes.has(shape.id) ? shape.id : null;
  }

  selectionChanged(shape) {
    const link = this.querySelector("[data-mask-fix]");
    if (!link) return;
    const usable = shape && MASK_SHAPES.has(shape.shape) && this.fixUrl;
    link.hidden = !usable;
    if (usable) {
      const url = new URL(this.fixUrl, location.href);
      url.searchParams.set("mask_annotation", shape.id);
      url.searchParams.set("frame_in", String(shape.frame));
      url.searchParams.set("frame_out", String(shape.frame + (shape.duration || 1) - 1));
      link.href = url.toString();
    }
  }

  sendPointer(p) {
    if (!p) {
      if (this.pointerShown) this.room.sendLive({ type: "pointer", x: 0, y: 0, frame: this.player.frame, version: this.versionId, visible: false });
      this.pointerShown = false;
      return;
    }
    this.pointerShown = true;
    this.room.sendLive({ type: "pointer", x: p.x, y: p.y, frame: this.player.frame, version: this.versionId, visible: true });
  }

  updateTicks() {
    const frames = [...this.drawing.shapes.values()].map((s) => s.frame);
    for (const c of this.comments.values()) if (c.frame !== null && c.frame !== undefined && !c.deleted) frames.push(c.frame);
    this.player.setTicks(frames);
  }

  // ------------------------------------------------------------------ compare

  buildCompareControls(container) {
    if (!container) return;
    const options = this.compareOptions.map((o) => `<option value="${o.id}" data-src="${escapeHtml(o.src)}">${escapeHtml(o.label)}</option>`).join("");
    container.innerHTML = `
      <label class="small" title="Compare with another version, locked to the same frame"><span aria-hidden="true" class="ab-glyph">A|B</span>
        <select data-compare-mode aria-label="Compare mode">${MODES.map(([v, l]) => `<option value="${v}">${v === "off" ? "No compare" : l}</option>`).join("")}</select>
      </label>
      <label class="small"><span class="sr-only">with</span>
        <select data-compare-version aria-label="Version to compare with">${options}</select>
      </label>
      <button type="button" data-act="flip" title="Flip A/B (\\)" aria-label="Flip A and B">A⇄B</button>`;
    const mode = container.querySelector("[data-compare-mode]");
    const version = container.querySelector("[data-compare-version]");
    const pickSource = () => {
      const chosen = version.selectedOptions[0];
      if (chosen) this.compare.setSource(chosen.dataset.src, chosen.textContent, Number(chosen.value));
    };
    mode.addEventListener("change", () => { pickSource(); this.compare.setMode(mode.value); this.sendCompare(); });
    version.addEventListener("change", () => { pickSource(); this.sendCompare(); });
    container.querySelector("[data-act=flip]").addEventListener("click", () => { pickSource(); this.compare.flip(); this.syncCompareControls(); });
    this.compareControls = { mode, version, pickSource };
    container.hidden = !this.compareOptions.length;
  }

  syncCompareControls() {
    if (!this.compareControls) return;
    this.compareControls.mode.value = this.compare.mode;
    if (this.compare.versionId) this.compareControls.version.value = String(this.compare.versionId);
  }

  sendCompare() {
    if (!this.isPresenter()) return;
    const compare = this.compare.mode === "off" ? null : { mode: this.compare.mode, version: this.compare.versionId, position: this.compare.position };
    this.room.sendLive({ type: "playhead", compare });
  }

  // ------------------------------------------------------------------ live: presence, presenter, follow

  buildLive(container) {
    this.live = container;
    container.innerHTML = `
      <ul class="presence" aria-label="In this room" data-presence-list></ul>
      <div class="live-actions">
        ${this.canPresent ? '<button type="button" data-act="present" aria-pressed="false">Present</button>' : ""}
        <button type="button" data-act="follow" aria-pressed="false" disabled>Follow</button>
      </div>`;
    container.addEventListener("click", (event) => {
      const act = event.target.closest("button")?.dataset.act;
      if (act === "present") this.togglePresenting();
      if (act === "follow") this.setFollowing(!this.following);
    });
  }

  isPresenter() {
    return !!(this.presenter && this.room.you && this.presenter.id === this.room.you.user.id);
  }

  togglePresenting() {
    if (this.isPresenter()) this.room.send("presenter.release", {});
    else this.room.send("presenter.claim", {});
  }

  setFollowing(on) {
    this.following = on && !!this.presenter && !this.isPresenter();
    this.sendPresence({ following: this.following });
    this.renderLive();
    if (this.following) this.applyPlayhead(this.playhead);
  }

  renderLive() {
    if (!this.live) return;
    const present = this.live.querySelector("[data-act=present]");
    const follow = this.live.querySelector("[data-act=follow]");
    const mine = this.isPresenter();
    if (present) {
      present.textContent = mine ? "Stop presenting" : "Present";
      present.setAttribute("aria-pressed", String(mine));
      present.classList.toggle("primary", mine);
    }
    follow.disabled = !this.presenterHere() || mine;
    follow.setAttribute("aria-pressed", String(this.following));
    follow.classList.toggle("primary", this.following);
    follow.textContent = this.following ? `Following ${this.presenter?.name || ""}` : this.presenter && !mine ? `Follow ${this.presenter.name}` : "Follow";
    this.dataset.following = String(this.following);
    this.dataset.presenting = String(mine);
  }

  // The server does not echo my own presence back: my row is updated here.
  sendPresence(changes) {
    this.room.sendLive({ type: "presence", ...changes });
    const mine = this.presence.get(this.room.you?.presence);
    if (mine) { Object.assign(mine, changes); this.renderPresence(); }
  }

  presenterHere() {
    return !!this.presenter && [...this.presence.values()].some((p) => p.user.id === this.presenter.id);
  }

  upsertPresence(p) {
    this.presence.set(p.id, { ...this.presence.get(p.id), ...p });
    this.renderPresence();
    this.renderLive();
  }

  renderPresence() {
    const list = this.live?.querySelector("[data-presence-list]");
    if (!list) return;
    const me = this.room.you?.presence;
    // One chip per person: a connection that dropped without the server noticing yet (or a
    // second tab) must not show the same person twice. Mine wins, else the latest to join.
    const byUser = new Map();
    for (const p of this.presence.values()) {
      if (byUser.get(p.user.id)?.id !== me) byUser.set(p.user.id, p);
    }
    const people = [...byUser.values()];
    list.innerHTML = people.map((p) => {
      const presenting = this.presenter && p.user.id === this.presenter.id;
      const frame = p.frame === null || p.frame === undefined ? "—" : this.player.firstFrame + p.frame;
      return `<li data-user="${escapeHtml(p.user.username || "")}" ${p.id === me ? 'class="me"' : ""} title="${escapeHtml(p.user.name)}${p.id === me ? " (you)" : ""} · frame ${frame}${presenting ? " · presenting" : p.following ? " · following" : ""}">
        <span class="avatar" style="--hue:${hue(p.user.id)}" aria-hidden="true">${escapeHtml(initials(p.user.name))}</span>
        <span class="who-name${people.length > 1 ? " sr-only" : ""}">${escapeHtml(p.user.name)}${p.id === me ? " (you)" : ""}</span>
        <span class="where small" data-presence-frame>${frame}</span>
        ${presenting ? '<span class="badge" title="presenting">▶</span><span class="sr-only">presenting</span>' : p.following ? '<span class="badge muted" title="following">⇢</span><span class="sr-only">following</span>' : ""}
      </li>`;
    }).join("");
  }

  frameChanged({ frame, settled, playing }) {
    if (!settled && playing) return;
    clearTimeout(this.presenceTimer);
    this.presenceTimer = setTimeout(() => {
      this.sendPresence({ frame: this.player.frame, version: this.versionId });
    }, 120);
    this.composerFrame?.replaceChildren(document.createTextNode(`${this.player.firstFrame + frame} · ${this.player.timecode(frame)}`));
    this.highlightComments(frame);
  }

  transportChanged(detail) {
    if (this.applyingRemote) return;
    // Moving by hand while following stops following, as in every review tool.
    if (this.following && (detail.frame !== undefined || detail.state)) this.setFollowing(false);
    if (!this.isPresenter()) return;
    const message = { type: "playhead" };
    if (detail.state) message.state = detail.state;
    if (detail.frame !== undefined) message.frame = detail.frame;
    if (detail.rate) message.rate = detail.rate;
    if ("loop" in detail) message.loop = detail.loop;
    this.room.sendLive(message);
    clearInterval(this.beat);
    if (detail.state === "playing") {
      this.beat = setInterval(() => {
        if (this.player.video.paused) { clearInterval(this.beat); return; }
        this.room.sendLive({ type: "playhead", state: "playing", frame: this.player.frame });
      }, PRESENTER_BEAT_MS);
    }
  }

  remotePlayhead(message) {
    this.playhead = { ...this.playhead, ...message };
    if (this.following) this.applyPlayhead(this.playhead);
  }

  applyPlayhead(head) {
    if (!head || this.isPresenter()) return;
    this.applyingRemote = true;
    try {
      if (head.compare && head.compare.mode && head.compare.version) {
        const option = this.compareOptions.find((o) => o.id === head.compare.version);
        if (option) this.compare.setSource(option.src, option.label, option.id);
        if (this.compare.mode !== head.compare.mode) this.compare.setMode(head.compare.mode);
        if (head.compare.position !== undefined) this.compare.setPosition(head.compare.position);
      } else if (head.compare === null && this.compare.mode !== "off") {
        this.compare.setMode("off");
      }
      this.syncCompareControls();
      const frame = Math.min(head.frame ?? 0, this.player.lastFrame);
      if (head.state === "playing") {
        const drift = Math.abs(this.player.frame - frame);
        if (this.player.video.paused) { this.player.seekTo(frame, { quiet: true }); this.player.play(head.rate || 1); }
        else if (drift > 2) this.player.video.currentTime = this.player.timeOfFrame(frame);
      } else {
        if (!this.player.video.paused) this.player.video.pause();
        this.player.seekTo(frame, { quiet: true });
      }
    } finally {
      this.applyingRemote = false;
    }
  }

  // ------------------------------------------------------------------ comments

  buildComments(container) {
    this.commentsBox = container;
    container.innerHTML = `
      <h2 class="panel-title">Notes <span class="count muted small" data-comment-count></span></h2>
      ${this.canComment ? `
      <form class="composer" data-composer>
        <label for="composer-body" class="small muted">Note at <span data-composer-frame>—</span></label>
        <div class="composer-box">
          <textarea id="composer-body" rows="2" placeholder="Write a note… @name to mention" data-body required></textarea>
          <ul class="mentions" data-mentions hidden role="listbox" aria-label="People to mention"></ul>
        </div>
        <div class="composer-row">
          <label class="small check"><input type="checkbox" data-at-frame checked> At this frame</label>
          <label class="small check"><input type="checkbox" data-open-only> Open only</label>
          <button class="primary" type="submit">Send</button>
        </div>
      </form>` : `<label class="small check"><input type="checkbox" data-open-only> Open only</label>`}
      <ol class="threads" data-threads aria-live="polite"></ol>`;
    this.composerFrame = container.querySelector("[data-composer-frame]");
    const form = container.querySelector("[data-composer]");
    const body = container.querySelector("[data-body]");
    form?.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = body.value.trim();
      if (!text) return;
      const atFrame = container.querySelector("[data-at-frame]").checked;
      this.createComment({ body: text, frame: atFrame ? this.player.frame : null });
      body.value = "";
      this.hideMentions();
    });
    body?.addEventListener("keydown", (event) => {
      if (this.mentionKey(event, body)) return;
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey || !event.shiftKey)) { event.preventDefault(); form.requestSubmit(); }
      if (event.key === "Escape") { body.blur(); this.player.focus(); }
    });
    body?.addEventListener("input", () => this.suggestMentions(body));
    container.querySelector("[data-open-only]").addEventListener("change", () => this.renderComments());
    container.addEventListener("click", (event) => this.commentClick(event));
  }

  createComment({ body, frame, parent = null }) {
    const comment = { id: crypto.randomUUID(), body, frame, parent };
    if (frame === null) delete comment.frame;
    if (!parent) delete comment.parent;
    const me = this.room.you?.user || { id: 0, name: "You" };
    this.comments.set(comment.id, { ...comment, frame, parent, author: me, created_at: new Date().toISOString(), mentions: [], resolved: false, pending: true, replies: [] });
    this.renderComments();
    this.room.send("comment.create", { comment });
  }

  threads() {
    const all = [...this.comments.values()];
    const openOnly = this.commentsBox.querySelector("[data-open-only]")?.checked;
    const tops = all.filter((c) => !c.parent && !(openOnly && c.resolved));
    tops.sort((a, b) => (a.frame ?? Infinity) - (b.frame ?? Infinity) || String(a.created_at).localeCompare(String(b.created_at)));
    return tops.map((top) => ({ top, replies: all.filter((c) => c.parent === top.id).sort((a, b) => String(a.created_at).localeCompare(String(b.created_at))) }));
  }

  renderBody(text) {
    return escapeHtml(text).replace(/(^|\s)@([\w.+-]+)/g, '$1<span class="mention">@$2</span>');
  }

  renderComment(c, reply = false) {
    const frame = c.frame === null || c.frame === undefined ? null : c.frame;
    const stamp = frame === null ? '<span class="tc muted">whole version</span>' :
      `<button type="button" class="tc" data-jump="${frame}" title="Go to frame ${this.player.firstFrame + frame}">${this.player.timecode(frame)} <span class="muted">· ${this.player.firstFrame + frame}</span></button>`;
    const name = c.author?.name || "Someone";
    const actions = this.canComment && !c.deleted && !c.pending ? `
      <div class="comment-actions">
        ${reply ? "" : `<button type="button" class="link" data-reply="${c.id}">Reply</button>`}
        ${reply ? "" : `<button type="button" class="link" data-resolve="${c.id}" data-resolved="${c.resolved}">${c.resolved ? "Reopen" : "Resolve"}</button>`}
      </div>` : "";
    return `<article class="comment${c.resolved ? " resolved" : ""}${c.pending ? " pending" : ""}" data-comment="${c.id}" ${frame !== null ? `data-frame="${frame}"` : ""}>
      <header>
        <span class="avatar" style="--hue:${hue(c.author?.id || 0)}" aria-hidden="true">${escapeHtml(initials(name))}</span>
        <strong>${escapeHtml(name)}</strong>
        ${reply ? "" : stamp}
        ${c.resolved ? '<span class="badge ok">resolved</span>' : ""}
      </header>
      <p class="body">${c.deleted ? '<em class="muted">deleted</em>' : this.renderBody(c.body)}</p>
      <footer class="small muted">${c.pending ? "sending…" : when(c.created_at)}${c.edited_at ? " · edited" : ""}</footer>
      ${actions}
    </article>`;
  }

  renderComments() {
    const list = this.commentsBox?.querySelector("[data-threads]");
    if (!list) return;
    const threads = this.threads();
    const count = [...this.comments.values()].filter((c) => !c.parent && !c.resolved && !c.deleted).length;
    this.commentsBox.querySelector("[data-comment-count]").textContent = count ? `${count} open` : "";
    list.innerHTML = threads.length ? threads.map(({ top, replies }) => `
      <li class="thread">
        ${this.renderComment(top)}
        ${replies.length ? `<ol class="replies">${replies.map((r) => `<li>${this.renderComment(r, true)}</li>`).join("")}</ol>` : ""}
      </li>`).join("") : '<li class="empty muted small">No notes yet. Press <kbd>C</kbd> to write one at this frame.</li>';
    this.highlightComments(this.player.frame);
  }

  highlightComments(frame) {
    this.commentsBox?.querySelectorAll("[data-comment][data-frame]").forEach((node) => {
      node.classList.toggle("here", Number(node.dataset.frame) === frame);
    });
  }

  commentClick(event) {
    const jump = event.target.closest("[data-jump]");
    if (jump) { this.player.seekTo(Number(jump.dataset.jump)); this.player.focus({ preventScroll: true }); return; }
    const resolve = event.target.closest("[data-resolve]");
    if (resolve) {
      const id = resolve.dataset.resolve;
      this.room.send(resolve.dataset.resolved === "true" ? "comment.reopen" : "comment.resolve", { id });
      return;
    }
    const reply = event.target.closest("[data-reply]");
    if (reply) this.openReply(reply.dataset.reply, reply.closest(".thread"));
  }

  openReply(parentId, thread) {
    if (thread.querySelector(".reply-form")) { thread.querySelector(".reply-form textarea").focus(); return; }
    const form = document.createElement("form");
    form.className = "reply-form";
    form.innerHTML = `<label class="sr-only" for="reply-${parentId}">Reply</label>
      <textarea id="reply-${parentId}" rows="2" placeholder="Reply…" required></textarea>
      <div class="composer-row"><button type="button" data-cancel>Cancel</button><button class="primary">Reply</button></div>`;
    thread.append(form);
    const text = form.querySelector("textarea");
    text.focus();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!text.value.trim()) return;
      const parent = this.comments.get(parentId);
      this.createComment({ body: text.value.trim(), frame: parent?.frame ?? null, parent: parentId });
    });
    text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
      if (event.key === "Escape") form.remove();
    });
    form.querySelector("[data-cancel]").addEventListener("click", () => form.remove());
  }

  suggestMentions(body) {
    const before = body.value.slice(0, body.selectionStart);
    const match = /(^|\s)@([\w.+-]*)$/.exec(before);
    const list = this.commentsBox.querySelector("[data-mentions]");
    if (!match) { this.hideMentions(); return; }
    const q = match[2].toLowerCase();
    const found = this.members.filter((m) => m.username.toLowerCase().startsWith(q) || m.name.toLowerCase().includes(q)).slice(0, 6);
    if (!found.length) { this.hideMentions(); return; }
    this.mentionChoice = 0;
    list.innerHTML = found.map((m, i) => `<li role="option" data-username="${escapeHtml(m.username)}" aria-selected="${i === 0}"><strong>@${escapeHtml(m.username)}</strong> <span class="muted">${escapeHtml(m.name)}</span></li>`).join("");
    list.hidden = false;
    list.onmousedown = (event) => {
      const li = event.target.closest("[data-username]");
      if (li) { event.preventDefault(); this.insertMention(body, li.dataset.username); }
    };
  }

  mentionKey(event, body) {
    const list = this.commentsBox.querySelector("[data-mentions]");
    if (list.hidden) return false;
    const items = [...list.querySelectorAll("[data-username]")];
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      this.mentionChoice = (this.mentionChoice + (event.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
      items.forEach((li, i) => li.setAttribute("aria-selected", String(i === this.mentionChoice)));
    } else if (event.key === "Enter" || event.key === "Tab") {
      this.insertMention(body, items[this.mentionChoice].dataset.username);
    } else if (event.key === "Escape") {
      this.hideMentions();
    } else {
      return false;
    }
    event.preventDefault();
    return true;
  }

  insertMention(body, username) {
    const at = body.selectionStart;
    const before = body.value.slice(0, at).replace(/@([\w.+-]*)$/, `@${username} `);
    body.value = before + body.value.slice(at);
    body.selectionStart = body.selectionEnd = before.length;
    this.hideMentions();
    body.focus();
  }

  hideMentions() {
    const list = this.commentsBox?.querySelector("[data-mentions]");
    if (list) list.hidden = true;
  }

  // ------------------------------------------------------------------ keys

  onKey(event) {
    if (event.target.closest("input, textarea, select, [contenteditable]")) return;
    const key = event.key;
    if ((event.ctrlKey || event.metaKey) && key.toLowerCase() === "z") {
      event.preventDefault();
      if (event.shiftKey) this.redo(); else this.undo();
      return;
    }
    if ((event.ctrlKey || event.metaKey) && key.toLowerCase() === "y") { event.preventDefault(); this.redo(); return; }
    if (key === "\\") { event.preventDefault(); this.compareControls?.pickSource(); this.compare.flip(); this.syncCompareControls(); return; }
    if (key.toLowerCase() === "c" && !event.ctrlKey && !event.metaKey && this.canComment) {
      event.preventDefault();
      this.commentsBox.querySelector("[data-body]")?.focus();
      return;
    }
    if (this.drawing.key(event)) { event.preventDefault(); event.stopPropagation(); return; }
    // Transport keys work wherever focus is on the page, not only on the picture.
    const onButton = event.target.closest("button, a, summary") && (key === " " || key === "Enter");
    if (!this.player.contains(event.target) && !onButton) this.player.onKey(event);
  }
}

customElements.define("ap-review", ApReview);
export { ApPlayer };
