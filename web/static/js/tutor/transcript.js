// The transcript: chat bubbles for the learner and the tutor that fill in as text arrives.
// The list is a role="log" live region, so screen readers hear new bubbles.

import { h } from '../dom.js';

export class Transcript {
  constructor(el, { onReplay }) {
    this.el = el;
    this.onReplay = onReplay;
    this.empty = h('p', { class: 'transcript-empty' }, 'Your conversation appears here. Say hello, or type a message below.');
    this.el.append(this.empty);
    this.turns = new Map(); // turnId → tutor bubble
    this.pendingUser = null; // the learner bubble being spoken or sent, not yet transcribed
    this.pinned = true; // follow new text, unless the learner scrolled up to read
    el.addEventListener('scroll', () => {
      this.pinned = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    });
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
    b.turnId = turnId;
    b.setText(text);
    b.setPending(false);
    this.scroll();
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
      b.onReplay = () => this.onReplay(b);
      this.turns.set(turnId, b);
    }
    return b;
  }

  /** system adds a short note from the app (not a chat message). */
  system(text, { kind } = {}) {
    return this.add(new Bubble('system', text, { kind }));
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
    this.interrupted = false; // the learner cut the reply's audio short
    const who = { user: 'You', tutor: 'Tutor', system: null }[role];
    this.textEl = h('p', {});
    this.meta = h('div', { class: 'meta', hidden: true });
    this.el = h(
      'div',
      { class: `bubble bubble-${role}${kind ? ` bubble-${kind}` : ''}`, dataset: { role } },
      who ? h('span', { class: 'who' }, who) : null,
      this.textEl,
      this.meta,
    );
    this.setText(text);
    this.setPending(pending);
  }

  setText(text) {
    this.text = text;
    this.textEl.textContent = text;
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

  /** enableReplay shows the replay button once there is audio to replay. */
  enableReplay() {
    if (this.meta.querySelector('.replay') || !this.onReplay) return;
    this.meta.append(h('button', { type: 'button', class: 'replay', onclick: () => this.onReplay(), 'aria-label': 'Replay this answer' }, '▶ Replay'));
    this.meta.hidden = false;
  }

  get hasAudio() {
    return this.pcm.length > 0 || this.audioUrl != null;
  }
}
