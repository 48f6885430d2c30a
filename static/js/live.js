// The WebSocket client of /ws (docs/protocol.md).
//
// It keeps one session's state by folding the snapshot and events through state.js.
// On any close it reconnects with backoff and resubscribes with `since` = the last
// seq it saw, so after a disconnect it shows exactly what a fresh load would, without
// a page reload. Commands wait for their ack/nack; one not answered before a
// disconnect is sent again with the SAME id, which the server answers from its
// stored answer, never acting twice.
//
// Events it dispatches: "state" (detail: {state, kind, event}: the event that made the
// state, null for a snapshot; an event may carry facts beside the state sections, as
// decision.adopted does its decision), "status" (detail: status), "notice" (detail: an
// error the server sent without a command id).

import { apply, fromSnapshot, OutOfOrder } from "./state.js";
import { ServerClock } from "./clock.js";

export const STATUS = Object.freeze({
  CONNECTING: "connecting",
  ONLINE: "online",
  RECONNECTING: "reconnecting",
  UNAUTHORIZED: "unauthorized", // close code 4401: the token is bad or expired
  STOPPED: "stopped",
});

const UNAUTHORIZED_CLOSE = 4401;
const PING_EVERY_MS = 15000;
const PONG_WITHIN_MS = 10000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10000;

export class CommandError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

/** A command id the server accepts (^[A-Za-z0-9_.:-]+$), also outside secure contexts. */
export function newCommandId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws`;
}

// The token goes in a subprotocol, not the URL: proxies log URLs. The server answers
// with "kengash" (docs/protocol.md, "Connecting").
function subprotocols(token) {
  return token ? ["kengash", `kengash.token.${token}`] : [];
}

export class LiveClient extends EventTarget {
  constructor({ token = null, url = null } = {}) {
    super();
    this.url = url || socketUrl();
    this.protocols = subprotocols(token);
    this.session = null;
    this.state = null;
    this.status = STATUS.CONNECTING;
    this.clock = new ServerClock();
    this.socket = null;
    this.pending = new Map(); // id → {frame, resolve, reject}
    this.stats = { connects: 0, snapshots: 0, events: 0, resyncs: 0 };
    this._attempt = 0;
    this._resyncing = false;
    this._timers = { reconnect: null, ping: null, pong: null };
    this._pingSentAt = 0;
    this._onNetworkBack = () => this._reconnectNow();
  }

  /** Follow one session (switching away from any other) and connect if needed. */
  watch(sessionId) {
    if (this.session !== null && this.session !== sessionId) {
      this._send({ type: "unsubscribe", session: this.session });
    }
    if (this.session !== sessionId) {
      this.session = sessionId;
      this.state = null;
      this._resyncing = false;
      this._subscribe();
    }
    if (!this.socket && this.status !== STATUS.STOPPED) this._connect();
    window.addEventListener("online", this._onNetworkBack);
  }

  stop() {
    this._setStatus(STATUS.STOPPED);
    window.removeEventListener("online", this._onNetworkBack);
    this._clearTimers();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = null;
      socket.close(1000);
    }
    for (const { reject } of this.pending.values()) reject(new CommandError("stopped"));
    this.pending.clear();
  }

  /** Send a command; resolves with the ack's result, rejects with a CommandError. */
  command(cmd, args = {}) {
    const frame = { type: "cmd", id: newCommandId(), cmd, args };
    return new Promise((resolve, reject) => {
      if (this.status === STATUS.UNAUTHORIZED || this.status === STATUS.STOPPED) {
        reject(new CommandError(this.status));
        return;
      }
      this.pending.set(frame.id, { frame, resolve, reject });
      this._send(frame); // if the socket is down, it goes out after the reconnect
    });
  }

  // -- the socket --------------------------------------------------------------------

  _connect() {
    this._clearTimers();
    const socket = new WebSocket(this.url, this.protocols);
    this.socket = socket;
    socket.onopen = () => {
      this.stats.connects += 1;
      this._subscribe();
      for (const { frame } of this.pending.values()) this._send(frame);
      this._schedulePing();
    };
    socket.onmessage = (message) => this._receive(message.data);
    socket.onclose = (closed) => this._closed(socket, closed.code);
  }

  _closed(socket, code) {
    if (socket !== this.socket) return;
    this.socket = null;
    this._clearTimers();
    if (this.status === STATUS.STOPPED) return;
    if (code === UNAUTHORIZED_CLOSE) {
      this._setStatus(STATUS.UNAUTHORIZED);
      for (const { reject } of this.pending.values()) reject(new CommandError("unauthorized"));
      this.pending.clear();
      return;
    }
    this._setStatus(STATUS.RECONNECTING);
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this._attempt);
    this._attempt += 1;
    const jittered = delay * (0.75 + Math.random() * 0.5);
    this._timers.reconnect = setTimeout(() => this._connect(), jittered);
  }

  /** The network came back: do not wait for the backoff. */
  _reconnectNow() {
    if (this.status === STATUS.RECONNECTING && !this.socket) this._connect();
  }

  /** Give up on a socket that stopped answering, without waiting for its close. */
  _abandon() {
    const socket = this.socket;
    if (!socket) return;
    socket.onclose = null;
    socket.onmessage = null;
    try {
      socket.close();
    } catch {
      // already closing
    }
    this._closed(socket, 1006);
  }

  _send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify(frame));
    }
  }

  _subscribe(since = this.state ? this.state.seq : null) {
    if (this.session === null) return;
    this._send({ type: "subscribe", session: this.session, since });
  }

  // -- keep-alive and the server clock -----------------------------------------------

  _schedulePing() {
    clearTimeout(this._timers.ping);
    this._timers.ping = setTimeout(() => {
      this._pingSentAt = Date.now();
      this._send({ type: "ping" });
      this._timers.pong = setTimeout(() => this._abandon(), PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  _clearTimers() {
    for (const name of Object.keys(this._timers)) {
      clearTimeout(this._timers[name]);
      this._timers[name] = null;
    }
  }

  // -- frames from the server --------------------------------------------------------

  _receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    const handler = this._handlers[frame.type];
    if (handler) handler.call(this, frame);
  }

  _handlers = {
    snapshot(frame) {
      if (frame.session !== this.session) return;
      this.stats.snapshots += 1;
      this._resyncing = false;
      if (frame.server_time) this.clock.sync(frame.server_time);
      this.state = fromSnapshot(frame.seq, frame.state);
      this._emitState("snapshot");
    },

    event(frame) {
      if (frame.session !== this.session || this._resyncing) return;
      try {
        if (!this.state) throw new OutOfOrder(frame.seq, null);
        this.state = apply(this.state, frame.seq, frame.event);
      } catch (error) {
        if (!(error instanceof OutOfOrder)) throw error;
        this._resync();
        return;
      }
      this.stats.events += 1;
      this._emitState(frame.event.kind, frame.event);
    },

    subscribed(frame) {
      if (frame.session !== this.session) return;
      this._attempt = 0;
      this._setStatus(STATUS.ONLINE);
    },

    ack(frame) {
      this._settle(frame.id, (entry) => entry.resolve(frame.result || {}));
    },

    nack(frame) {
      const { code, message } = frame.error || {};
      if (frame.id == null) {
        this.dispatchEvent(new CustomEvent("notice", { detail: { code, message } }));
        return;
      }
      this._settle(frame.id, (entry) => entry.reject(new CommandError(code, message)));
    },

    pong(frame) {
      clearTimeout(this._timers.pong);
      if (frame.server_time) {
        this.clock.sync(frame.server_time, (this._pingSentAt + Date.now()) / 2);
      }
      this._schedulePing();
    },
  };

  _settle(id, settle) {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    settle(entry);
  }

  /** An event did not follow the last seq: start over from a snapshot. */
  _resync() {
    this.stats.resyncs += 1;
    this._resyncing = true;
    this._subscribe(null);
  }

  _emitState(kind, event = null) {
    this.dispatchEvent(new CustomEvent("state", { detail: { state: this.state, kind, event } }));
  }

  _setStatus(status) {
    if (this.status === status) return;
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: status }));
  }
}
