// The live connection to a poker session (PROTOCOL.md section 2): sends a heartbeat every 20 s,
// and when the connection drops, reconnects with backoff until it is back (or the login has
// expired, which it finds out by asking the REST API).

import { request, ApiError, NetworkError } from "./api.js";

const HEARTBEAT_MS = 20_000;
/** Waits between attempts: 0.5 s, 1 s, 2 s, 4 s, 8 s, then 10 s (each ±20 %). */
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 10_000];

/**
 * `new PokerSocket(sessionId, handlers)`; handlers (all optional):
 * - `onEvent(name, data)` for every server frame,
 * - `onState(state, info)` with state `connecting` | `open` | `reconnecting` (info.retryAt:
 *   when the next attempt starts, in ms since the epoch) | `expired` | `gone` (the session no
 *   longer exists) | `closed`,
 * - `onOpen({reconnected})` after every successful connection.
 */
export class PokerSocket {
  constructor(sessionId, handlers = {}) {
    this.sessionId = sessionId;
    this.handlers = handlers;
    this.ws = null;
    this.attempt = 0;
    this.everOpen = false;
    this.stopped = false;
    this.heartbeat = null;
    this.retryTimer = null;
    this.state = "closed";
    this.retryNow = () => {
      if (this.state === "reconnecting") this.connect();
    };
    // Back online, or the tab is looked at again: do not wait for the backoff.
    window.addEventListener("online", this.retryNow);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.retryNow();
    });
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/ws/poker/${this.sessionId}/`;
  }

  setState(state, info = {}) {
    this.state = state;
    this.handlers.onState?.(state, info);
  }

  /** Opens the connection (again). */
  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.stopped) return;
    this.dispose();
    this.setState(this.everOpen ? "reconnecting" : "connecting", {});
    // "poker.v2" asks for the server's own events (stories_changed, error); without it a
    // socket gets only the original's four.
    const ws = new WebSocket(this.url(), ["poker.v2"]);
    this.ws = ws;
    let opened = false;
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      opened = true;
      const reconnected = this.everOpen;
      this.everOpen = true;
      this.attempt = 0;
      this.heartbeat = setInterval(() => this.send("heartbeat", {}), HEARTBEAT_MS);
      this.setState("open");
      this.handlers.onOpen?.({ reconnected });
    });
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        console.warn("poker socket: a frame that is not JSON", event.data);
        return;
      }
      if (frame && typeof frame.event === "string") {
        this.handlers.onEvent?.(frame.event, frame.data || {});
      }
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.dispose();
      // 4001: the login behind the socket ended (logout, new password); reconnecting with it
      // cannot work, so say so at once.
      if (event.code === 4001) {
        this.stop("expired");
        return;
      }
      if (!this.stopped) this.afterClose(opened);
    });
  }

  /** Decides what a closed (or refused) connection means, then retries or gives up. */
  async afterClose(wasOpen) {
    // A refused handshake cannot be told apart from a server that is down, so ask REST:
    // 401 means the login has expired, 404 that the session is gone.
    if (!wasOpen || this.attempt > 0) {
      try {
        await request("GET", `/api/sessions/${this.sessionId}`, { quiet401: true });
      } catch (e) {
        if (e instanceof ApiError && e.status === 401) {
          this.stop("expired");
          return;
        }
        if (e instanceof ApiError && e.status === 404) {
          this.stop("gone");
          return;
        }
        if (!(e instanceof NetworkError) && !(e instanceof ApiError)) throw e;
      }
    }
    if (this.stopped) return;
    const base = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.attempt += 1;
    this.setState("reconnecting", { retryAt: Date.now() + delay });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Sends `{"event": name, "data": data}`; false when not connected. */
  send(event, data = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ event, data }));
    return true;
  }

  dispose() {
    clearInterval(this.heartbeat);
    this.heartbeat = null;
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close();
  }

  /** Closes for good, reporting `state` (`expired`, `gone` or `closed`). */
  stop(state = "closed") {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.dispose();
    window.removeEventListener("online", this.retryNow);
    this.setState(state);
  }
}
