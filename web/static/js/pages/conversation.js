// A past conversation: its turns (what the learner said, what the tutor said as far as it was
// heard, and how each turn was charged) with both recordings to replay, and a way to continue
// it while its membership can pay (the tutor page with the conversation); a review of it (one
// analysis use of its membership) and the review written already, if any.

import { h, replace } from '../dom.js';
import { formatDateTime, plural, statusLabel } from '../format.js';
import { reviewControl, reviewPath } from '../review.js';
import { errorText } from '../ui.js';
import { loadClip } from '../tutor/clips.js';
import * as debug from '../tutor/debug.js';
import { Player } from '../tutor/playback.js';
import { Transcript } from '../tutor/transcript.js';

const LEVELS = { beginner: 'Beginner', intermediate: 'Intermediate', advanced: 'Advanced' };
const WHY = { exhausted: 'has no chats left', expired: 'has expired', revoked: 'was revoked' };

export async function conversationPage({ root, params, api, session, navigate, signal }) {
  debug.reset();
  const heading = h('h1', {}, 'Conversation');
  const meta = h('p', { id: 'conversation-meta' }, 'Loading…');
  const actions = h('div', { class: 'row conversation-actions', id: 'conversation-actions' });
  const reviewBox = h('section', { class: 'card conversation-review', id: 'conversation-review', 'aria-labelledby': 'conversation-review-h', hidden: true });
  const stopButton = h('button', { type: 'button', id: 'stop-playback', disabled: true }, 'Stop playback');
  const el = h('div', { class: 'transcript transcript-static', id: 'transcript', role: 'region', 'aria-label': 'Conversation transcript', 'aria-busy': 'true', tabindex: '0' });
  replace(root, h('p', {}, h('a', { href: '#/' }, '← Home')), h('div', { class: 'page-header' }, heading, meta), actions, reviewBox, el);

  let audioCtx = null;
  let player = null;
  let replays = 0;
  const stopAll = () => {
    player?.stop();
    for (const b of playing.values()) b.setPlaying(false);
    playing.clear();
    stopButton.disabled = true;
  };
  const transcript = new Transcript(el, { onReplay: (b) => replay(b), onStopReplay: stopAll, emptyText: 'Loading the conversation…' });
  transcript.pinned = false; // read from the top
  const playing = new Map(); // replay clip id → its bubble

  async function replay(bubble) {
    // A click: audio may start.
    if (!audioCtx) {
      audioCtx = new AudioContext();
      player = new Player(audioCtx);
      player.onclipend = (id) => {
        playing.get(id)?.setPlaying(false);
        playing.delete(id);
        player.forget(id);
        if (!playing.size) stopButton.disabled = true;
      };
    }
    if (audioCtx.state !== 'running') await audioCtx.resume();
    stopAll();
    replays += 1;
    const id = `replay:${replays}`;
    debug.log('replay', { turnId: bubble.turnId, role: bubble.role, source: 'url' });
    playing.set(id, bubble);
    bubble.setPlaying(true);
    stopButton.disabled = false;
    try {
      const { rate, pcm } = await loadClip(bubble.audioUrl, { signal });
      if (playing.has(id)) player.enqueue(id, pcm, rate);
    } catch (err) {
      playing.delete(id);
      bubble.setPlaying(false);
      stopButton.disabled = !playing.size;
      if (err.name === 'AbortError') return;
      const what = bubble.role === 'user' ? 'Your recording' : 'The answer';
      transcript.system(`${what} could not be replayed: ${errorText(err)}`, { kind: 'error' });
    }
  }
  stopButton.addEventListener('click', stopAll);
  // Escape stops a replay, as on the tutor page.
  const onKey = (e) => {
    if (e.key === 'Escape' && playing.size && !document.querySelector('dialog[open]')) stopAll();
  };
  document.addEventListener('keydown', onKey);
  const cleanup = () => {
    document.removeEventListener('keydown', onKey);
    player?.close();
    audioCtx?.close();
  };

  let conv;
  let user;
  let review;
  try {
    [conv, user, review] = await Promise.all([
      api.get(`/conversations/${encodeURIComponent(params.conversationId)}`, { signal }),
      session.refresh(signal),
      // The review written already, if any (404: none).
      api.get(`/conversations/${encodeURIComponent(params.conversationId)}/review`, { signal }).catch((err) => {
        if (err.status === 404 || err.name === 'AbortError') return null;
        throw err;
      }),
    ]);
  } catch (err) {
    if (err.status !== 404) throw err;
    heading.textContent = 'Conversation not found';
    replace(meta, 'This conversation does not exist or is not yours.');
    el.remove();
    return cleanup;
  }

  const m = user.memberships?.find((x) => x.id === conv.membershipId);
  const when = formatDateTime(conv.createdAt);
  heading.textContent = `Conversation of ${when}`;
  replace(
    meta,
    [m?.plan?.name ?? 'Membership', plural(conv.messages.length, 'turn'), LEVELS[conv.level] ?? null, conv.topic ? `topic: ${conv.topic}` : null, conv.updatedAt !== conv.createdAt ? `last turn ${formatDateTime(conv.updatedAt)}` : null]
      .filter(Boolean)
      .join(' · '),
  );
  if (m?.status === 'active') {
    replace(
      actions,
      h('a', { class: 'button primary', id: 'continue-conversation', href: `#/tutor/${m.id}/${conv.id}` }, 'Continue this conversation'),
      stopButton,
    );
  } else {
    const why = m ? `Its membership ${WHY[m.status] ?? `is ${statusLabel(m.status).toLowerCase()}`}` : 'Its membership is no longer yours';
    replace(actions, h('p', { class: 'muted', id: 'cannot-continue' }, `${why}: you can read and replay it, but not continue it.`), h('a', { class: 'button', href: '#/plans' }, 'See plans'), stopButton);
  }

  if (conv.messages.some((x) => x.userText?.trim())) {
    reviewBox.hidden = false;
    replace(
      reviewBox,
      h('h2', { id: 'conversation-review-h' }, 'Review'),
      review
        ? h('p', {}, `Reviewed ${formatDateTime(review.createdAt)}: `, h('a', { href: `#${reviewPath(conv.id)}`, id: 'see-review' }, `see the review (level ${review.level.cefr})`), '.')
        : h('p', {}, 'Get corrections beside your own words, your level, how fluently you spoke and what to practise next.'),
      reviewControl({ api, navigate, signal, conversation: conv.id, membership: m, label: review ? 'Review it again' : 'Review this conversation', id: 'review-conversation' }).el,
    );
  }

  el.removeAttribute('aria-busy');
  if (conv.messages.length === 0) {
    transcript.empty.textContent = 'This conversation has no turns.';
  } else {
    transcript.history(conv.messages);
    el.scrollTop = 0;
  }
  return cleanup;
}
