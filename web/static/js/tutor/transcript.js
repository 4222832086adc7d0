// The transcript: chat bubbles for the learner and the tutor that fill in as text arrives.
// The list is a role="log" live region, so screen readers hear new bubbles. Both the learner's
// recordings and the tutor's answers can be replayed.

import { h } from '../dom.js';
import { formatLatency } from '../format.js';

/**
 * The billing rule in the words of a turn's note: a chat use pays for an answer whose first
 * sentence the learner heard; a reply stopped before that is not charged.
 */
export const NOTES = {
  refunded: 'stopped before you heard it — not charged',
  interrupted: 'interrupted — charged',
  failed: 'the tutor could not answer — not charged',
};

/** statusNote is the note under a stored turn's answer (GET /api/conversations/{id}). */
export function statusNote(m) {
  switch (m.status) {
    case 'interrupted':
      return NOTES.interrupted;
    case 'cancelled':
      return NOTES.refunded;
    case 'failed':
      return NOTES.failed;
    default:
      return m.metrics?.firstAudioMs != null ? `answered in ${formatLatency(m.metrics.firstAudioMs)}` : null;
  }
}

export class Transcript {
  /**
   * @param {HTMLElement} el
   * @param {{onReplay: (bubble: Bubble) => void, onStopReplay?: (bubble: Bubble) => void,
   *   emptyText?: string}} o
   */
  constructor(el, { onReplay, onStopReplay, emptyText = 'Your conversation appears here. Say hello, or type a message below.' }) {
    this.el = el;
    this.onReplay = onReplay;
    this.onStopReplay = onStopReplay;
    this.empty = h('p', { class: 'transcript-empty' }, emptyText);
    this.el.append(this.empty);
    this.turns = new Map(); // turnId → tutor bubble
    this.users = new Map(); // turnId → the learner's bubble
    this.pendingUser = null; // the learner bubble being spoken or sent, not yet transcribed
    this.pinned = true; // follow new text, unless the learner scrolled up to read
    el.addEventListener('scroll', () => {
      this.pinned = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    });
    // Whatever grows the transcript (a bubble, text, a note, a replay button, a new size of
    // the box) keeps its end in view while the learner follows it.
    const follow = () => this.scroll();
    new MutationObserver(follow).observe(el, { childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ['hidden'] });
    new ResizeObserver(follow).observe(el);
  }

  add(bubble) {
    this.empty.remove();
    this.el.append(bubble.el);
    this.scroll();
    return bubble;
  }

  /** scroll keeps the newest text in view. */
  scroll() {
    if (this.pinned) this.el.scrollTop = this.el.scrollHeight;
  }

  /** userPending shows (or keeps) a learner bubble while they speak. */
  userPending(text = '') {
    if (!this.pendingUser) this.pendingUser = this.add(new Bubble('user', text, { pending: !text }));
    return this.pendingUser;
  }

  /** userText fills the learner bubble of turnId with the transcript (or a typed text). */
  userText(turnId, text) {
    const b = this.pendingUser ?? this.add(new Bubble('user', ''));
    this.pendingUser = null;
    this.setUserTurn(b, turnId);
    b.setText(text);
    b.setPending(false);
    b.clearNote();
    this.scroll();
    return b;
  }

  setUserTurn(b, turnId) {
    b.turnId = turnId;
    b.el.dataset.turnId = turnId;
    this.wire(b);
    this.users.set(turnId, b);
  }

  /** wire lets the bubble's replay button play and stop its audio. */
  wire(b) {
    b.onReplay = () => this.onReplay(b);
    b.onStopReplay = () => this.onStopReplay?.(b);
  }

  /** userQueued shows a typed message that waits for the connection. */
  userQueued(text) {
    const b = this.add(new Bubble('user', text));
    b.el.dataset.queued = 'true';
    return b;
  }

  /** userDropped removes the pending learner bubble or marks why it went nowhere. */
  userDropped(note) {
    const b = this.pendingUser;
    this.pendingUser = null;
    if (!b) return;
    if (!b.text) b.el.remove();
    else {
      b.setPending(false);
      b.setNote(note);
    }
  }

  /** tutor returns the tutor bubble of turnId, creating it. */
  tutor(turnId) {
    let b = this.turns.get(turnId);
    if (!b) {
      b = this.add(new Bubble('tutor', '', { pending: true }));
      b.turnId = turnId;
      b.el.dataset.turnId = turnId;
      this.wire(b);
      this.turns.set(turnId, b);
    }
    return b;
  }

  /** system adds a short note from the app (not a chat message). */
  system(text, { kind } = {}) {
    return this.add(new Bubble('system', text, { kind }));
  }

  /**
   * history shows the turns of a stored conversation (GET /api/conversations/{id}): what the
   * learner said, what the tutor said as far as it was heard, how each turn was charged, and
   * replay buttons for both recordings.
   */
  history(messages) {
    for (const m of messages) {
      if (m.userText) {
        const u = this.add(new Bubble('user', m.userText));
        this.setUserTurn(u, m.turnId);
        if (m.userAudioUrl) {
          u.audioUrl = m.userAudioUrl;
          u.enableReplay();
        }
      }
      const b = this.tutor(m.turnId);
      b.setPending(false);
      b.setText(m.tutorText || '…');
      const note = statusNote(m);
      if (note) b.setNote(note);
      b.el.dataset.status = m.status;
      if (m.tutorAudioUrl) {
        b.audioUrl = m.tutorAudioUrl;
        b.enableReplay();
      }
    }
  }
}

export class Bubble {
  constructor(role, text, { pending = false, kind } = {}) {
    this.role = role;
    this.text = '';
    this.turnId = null;
    this.pcm = []; // reply audio received, for replay (tutor)
    this.audioUrl = null;
    this.onReplay = null;
    this.onStopReplay = null;
    this.playing = false; // its replay is playing
    this.replayButton = null;
    this.interrupted = false; // the learner cut the reply's audio short
    this.heardMs = null; // how much of the reply's audio was heard when it was cut
    this.lost = false; // the reply was cut off by a lost connection: how it ended is unknown
    const who = { user: 'You', tutor: 'Tutor', system: null }[role];
    this.textEl = h('p', {});
    this.stateEl = h('span', { class: 'state', hidden: true });
    this.meta = h('div', { class: 'meta', hidden: true });
    this.el = h(
      'div',
      { class: `bubble bubble-${role}${kind ? ` bubble-${kind}` : ''}`, dataset: { role } },
      who ? h('span', { class: 'who' }, who) : null,
      this.stateEl,
      this.textEl,
      this.meta,
    );
    this.setText(text);
    this.setPending(pending);
  }

  setText(text) {
    this.text = text;
    this.textEl.textContent = text;
    if (text) this.setState(null);
  }

  /**
   * setState says what is happening to a turn that has no text yet ("Listening…",
   * "Transcribing…"); null removes it.
   */
  setState(state) {
    this.stateEl.textContent = state ?? '';
    this.stateEl.hidden = !state;
    this.el.dataset.state = state ? state.replace(/\W+/g, '').toLowerCase() : '';
    if (!state) delete this.el.dataset.state;
  }

  appendText(delta) {
    this.setText(this.text + delta);
  }

  setPending(pending) {
    this.el.classList.toggle('pending', pending);
    this.el.setAttribute('aria-busy', String(pending));
  }

  /** setNote shows a short remark under the text ("interrupted", latency…). */
  setNote(note) {
    let el = this.meta.querySelector('.tag');
    if (!el) {
      el = h('span', { class: 'tag' });
      this.meta.prepend(el);
    }
    el.textContent = note;
    this.meta.hidden = false;
  }

  /** clearNote removes the remark (a paused reply that goes on after all). */
  clearNote() {
    this.meta.querySelector('.tag')?.remove();
    this.meta.hidden = this.meta.childElementCount === 0;
  }

  /** enableReplay shows the replay button once there is audio to replay; it stops a replay too. */
  enableReplay() {
    if (this.replayButton || !this.onReplay) return;
    this.replayButton = h('button', { type: 'button', class: 'replay', onclick: () => (this.playing ? this.onStopReplay?.() : this.onReplay()) });
    this.setPlaying(false);
    this.meta.append(this.replayButton);
    this.meta.hidden = false;
  }

  /** setPlaying shows whether this bubble's replay is playing (the button then stops it). */
  setPlaying(playing) {
    this.playing = playing;
    this.el.classList.toggle('is-playing', playing);
    const b = this.replayButton;
    if (!b) return;
    const what = this.role === 'user' ? 'your recording' : 'this answer';
    b.textContent = playing ? '■ Stop' : '▶ Replay';
    b.setAttribute('aria-label', playing ? `Stop playing ${what}` : `Replay ${what}`);
  }

  /** keepAudio keeps the first offsetMs of the reply's audio: a resumed reply sends the rest again. */
  keepAudio(offsetMs, rate = 24000) {
    let keep = Math.round((offsetMs * rate) / 1000);
    const kept = [];
    for (const pcm of this.pcm) {
      if (keep <= 0) break;
      kept.push(pcm.length <= keep ? pcm : pcm.subarray(0, keep));
      keep -= pcm.length;
    }
    this.pcm = kept;
  }

  get hasAudio() {
    return this.pcm.length > 0 || this.audioUrl != null;
  }
}
