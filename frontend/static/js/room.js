// The review room over a WebSocket: hello{since} on every (re)connect so nothing stored is
// missed, stored operations sent with an idempotency key and re-sent after a reconnect until
// acknowledged, live messages (presence, pointer, playhead) sent only while connected.

const PING_MS = 20000;

export class RoomClient extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.seq = null;
    this.pending = new Map(); // op -> message, until acked or refused
    this.attempt = 0;
    this.connected = false;
    this.closed = false;
    this.you = null;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}${this.url}`, ["answerprint.v1"]);
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      socket.send(JSON.stringify({ type: "hello", since: this.seq }));
    });
    socket.addEventListener("message", (event) => this.receive(JSON.parse(event.data)));
    socket.addEventListener("close", (event) => {
      clearInterval(this.pinger);
      const was = this.connected;
      this.connected = false;
      if (this.closed) return;
      // 4401/4403/4410: not signed in, not a member, the session is closed: retrying will not help.
      if ([4401, 4403, 4410].includes(event.code)) {
        this.emit("gone", { code: event.code });
        return;
      }
      this.emit("offline", { was });
      this.attempt += 1;
      const delay = Math.min(500 * 2 ** Math.min(this.attempt - 1, 5), 10000) * (0.8 + Math.random() * 0.4);
      this.retryTimer = setTimeout(() => this.connect(), delay);
    });
  }

  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pinger);
    this.socket?.close();
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }

  receive(message) {
    switch (message.type) {
      case "welcome": {
        const first = this.seq === null;
        this.you = message.you;
        this.connected = true;
        this.emit("welcome", { ...message, first });
        for (const event of message.missed) this.applyEvent(event);
        this.seq = message.seq;
        this.emit("online", { first, missed: message.missed.length, reset: message.reset });
        // What was sent but never acknowledged goes again: the op key makes a repeat harmless.
        for (const pending of this.pending.values()) this.socket.send(JSON.stringify(pending));
        clearInterval(this.pinger);
        this.pinger = setInterval(() => this.sendLive({ type: "ping" }), PING_MS);
        break;
      }
      case "event":
        if (this.seq !== null && message.seq <= this.seq) return;
        this.applyEvent(message);
        this.seq = message.seq;
        break;
      case "ack":
        this.pending.delete(message.op);
        this.emit("ack", message);
        break;
      case "error": {
        // rate_limited and unavailable (the database restarting) mean "not now": the op is sent again.
        const later = message.code === "rate_limited" || message.code === "unavailable";
        if (message.ref && !later) this.pending.delete(message.ref);
        if (later && message.ref && this.pending.has(message.ref)) {
          const again = this.pending.get(message.ref);
          setTimeout(() => this.connected && this.socket.send(JSON.stringify(again)), (message.retry_after || 0.2) * 1000);
        }
        this.emit("refused", message);
        break;
      }
      default:
        this.emit(message.type, message);
    }
  }

  applyEvent(event) {
    this.emit("event", event);
  }

  // A stored operation: kept until acknowledged, so a drop mid-send is repaired on reconnect.
  send(type, body) {
    const op = `${type}:${crypto.randomUUID()}`;
    const message = { type, op, ...body };
    this.pending.set(op, message);
    if (this.connected) this.socket.send(JSON.stringify(message));
    return op;
  }

  sendLive(message) {
    if (this.connected && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}
