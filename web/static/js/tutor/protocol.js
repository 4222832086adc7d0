// The WebSocket client of protocol v1 (docs/protocol.md): connects to
// /api/tutor/ws?membershipId=…[&conversationId=…] with the subprotocols "aitutor.v1" and
// "bearer.<token>", delivers JSON events and binary reply audio, sends messages and audio
// frames, and reconnects with exponential backoff and jitter when the connection is lost —
// always to the same conversation (the conversationId of the first session.created), so that a
// network drop or a server restart only pauses it.

export const SUBPROTOCOL = 'aitutor.v1';

// Close codes after which reconnecting by itself would be wrong.
const NO_RECONNECT = new Map([
  [4000, 'The session ended after a long time without speech.'],
  [4001, 'The session reached its time limit.'],
]);

const MAX_SEND_BUFFER = 256 * 1024; // bytes queued in the socket before audio frames are dropped

/**
 * Connection states: idle → connecting → open; on a loss: waiting (a reconnect is scheduled,
 * info.delayMs, info.restarting when the server said it is restarting) → connecting …; after
 * too many attempts or a final close: closed (info.reason). The open state's info says whether
 * the session continues the conversation (resumed) and whether it follows a loss
 * (reconnected).
 */
export class TutorClient {
  /**
   * @param {object} o
   * @param {string} o.membershipId
   * @param {string} [o.conversationId]  continue this conversation (else the server starts one)
   * @param {() => string|null} o.getToken
   * @param {(msg: object) => void} o.onEvent  a JSON event from the server
   * @param {(data: ArrayBuffer) => void} o.onAudio  a binary frame of reply audio
   * @param {(state: string, info: object) => void} o.onState
   * @param {(info: object) => Promise<boolean>} [o.beforeReconnect]  false stops reconnecting
   */
  constructor({ membershipId, conversationId = null, getToken, onEvent, onAudio, onState, beforeReconnect, maxAttempts = 8, baseDelayMs = 800, maxDelayMs = 15000 }) {
    Object.assign(this, { membershipId, conversationId, getToken, onEvent, onAudio, onState, beforeReconnect, maxAttempts, baseDelayMs, maxDelayMs });
    this.ws = null;
    this.sessions = 0; // session.created events so far
    this.retryAfterMs = 0; // the server's hint (a retryable error) for the next reconnect
    this.restarting = false; // the server closed this session because it is restarting
    this.state = 'idle';
    this.attempt = 0;
    this.timer = 0;
    this.final = null; // why no reconnect will happen (a fatal error or a final close code)
    this.stopped = false;
    this.droppedFrames = 0;
  }

  get url() {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    const conversation = this.conversationId ? `&conversationId=${encodeURIComponent(this.conversationId)}` : '';
    return `${scheme}://${window.location.host}/api/tutor/ws?membershipId=${encodeURIComponent(this.membershipId)}${conversation}`;
  }

  get open() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  setState(state, info = {}) {
    this.state = state;
    this.onState(state, info);
  }

  connect() {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.final = null;
    this.setState('connecting', { attempt: this.attempt });
    const ws = new WebSocket(this.url, [SUBPROTOCOL, `bearer.${this.getToken() ?? ''}`]);
    ws.binaryType = 'arraybuffer';
    let opened = false;
    ws.onopen = () => {
      opened = true;
    };
    ws.onmessage = (e) => {
      if (ws !== this.ws) return;
      if (typeof e.data === 'string') {
        let msg;
        try {
          msg = JSON.parse(e.data);
        } catch {
          return;
        }
        if (msg.type === 'session.created') {
          const reconnected = this.sessions > 0;
          this.sessions += 1;
          this.attempt = 0;
          this.retryAfterMs = 0;
          this.restarting = false;
          if (msg.conversationId) this.conversationId = msg.conversationId;
          this.setState('open', { resumed: msg.resumed === true, reconnected, turns: msg.turns ?? 0 });
        } else if (msg.type === 'error' && msg.fatal && msg.retryable) {
          // A restart or a server fault: the close that follows is a pause, not the end.
          this.retryAfterMs = msg.retryAfterMs ?? 0;
          this.restarting = msg.code === 'shutting_down';
        }
        this.onEvent(msg);
      } else {
        this.onAudio(e.data);
      }
    };
    ws.onclose = (e) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.lost({ code: e.code, reason: e.reason, opened });
    };
    this.ws = ws;
  }

  async lost(info) {
    if (this.stopped) {
      this.setState('closed', { ...info, reason: 'closed' });
      return;
    }
    if (this.final || NO_RECONNECT.has(info.code)) {
      this.setState('closed', { ...info, reason: this.final ?? NO_RECONNECT.get(info.code), final: true });
      return;
    }
    this.attempt += 1;
    if (this.beforeReconnect) {
      let go = false;
      try {
        go = await this.beforeReconnect({ ...info, attempt: this.attempt });
      } catch {
        go = true; // could not check: try the connection itself
      }
      if (!go || this.stopped) {
        this.setState('closed', { ...info, reason: 'stopped', final: true });
        return;
      }
    }
    if (this.attempt > this.maxAttempts) {
      this.setState('closed', { ...info, reason: 'The tutor could not be reached after several attempts.', gaveUp: true });
      return;
    }
    // Exponential backoff, at least what the server asked for, with ±20 % jitter so that the
    // clients of a restarted server do not all come back at once.
    const base = Math.max(this.retryAfterMs, Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (this.attempt - 1)));
    const delay = base * (0.8 + Math.random() * 0.4);
    this.setState('waiting', { ...info, attempt: this.attempt, delayMs: Math.round(delay), retryAt: Date.now() + delay, restarting: this.restarting || info.code === 1001 });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** retryNow reconnects at once (the manual retry, or the learner acting after a final close). */
  retryNow() {
    this.stopped = false;
    this.attempt = 0;
    if (this.ws) return;
    this.connect();
  }

  /** forgetConversation makes the next connection start a new conversation. */
  forgetConversation() {
    this.conversationId = null;
  }

  /** finish marks the session as over for reason: the next close does not reconnect. */
  finish(reason) {
    this.final = reason;
  }

  /** send sends a JSON message; false when not connected. */
  send(msg) {
    if (!this.open) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /** sendAudio sends one frame of 16-bit PCM; frames are dropped while the socket is backed up. */
  sendAudio(pcm) {
    if (!this.open) return false;
    if (this.ws.bufferedAmount > MAX_SEND_BUFFER) {
      this.droppedFrames += 1;
      return false;
    }
    this.ws.send(pcm);
    return true;
  }

  /** close ends the session for good. */
  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onmessage = null;
      ws.onclose = null;
      ws.close(1000, 'bye');
    }
    this.setState('closed', { reason: 'closed' });
  }
}
