// The review of a conversation (#/conversations/<id>/review): each correction beside the
// learner's own words (with a replay of that turn's recording), the CEFR level and why, the
// fluency figures the server measured from the learner's voice as a small bar chart in plain
// words, useful vocabulary, strengths and next goals. Without a review yet, or with turns newer
// than the review, the page offers to write one.

import { h, replace } from '../dom.js';
import { CEFR, CORRECTION_KINDS as KINDS, cefrLabel, formatDateTime, plural } from '../format.js';
import { reviewControl } from '../review.js';
import { errorText } from '../ui.js';
import { loadClip } from '../tutor/clips.js';
import * as debug from '../tutor/debug.js';
import { Player } from '../tutor/playback.js';

const seconds = (v) => `${(v / 1000).toFixed(1)} s`;
const percent = (v) => `${Math.round(v * 100)} %`;

/**
 * The fluency figures of a review, in plain words. max is the end of each bar's scale; the
 * hint says what the figure means.
 */
export const FIGURES = [
  { key: 'wordsPerMinute', label: 'Speaking speed', max: 200, text: (v) => `${Math.round(v)} words a minute`, hint: 'While you were speaking. Relaxed conversation is often 110–150 words a minute.' },
  { key: 'pauseRatio', label: 'Time spent pausing', max: 1, text: (v) => `${percent(v)} of your speaking time`, hint: 'Silences of a quarter of a second or more in the middle of what you said.' },
  { key: 'meanPauseMs', label: 'Average pause', max: 3000, text: seconds, hint: 'How long those silences lasted on average.' },
  { key: 'longestPauseMs', label: 'Longest pause', max: 5000, text: seconds, hint: 'Your longest silence in the middle of a turn.' },
  { key: 'fillersPerMinute', label: 'Filler words', max: 20, text: (v) => `${v.toFixed(1)} a minute`, hint: '“um”, “uh”, “er”, “you know”… A few are natural.' },
  { key: 'responseTimeMs', label: 'Time before you answered', max: 5000, text: seconds, hint: 'From the end of the tutor’s turn to your first word.' },
  { key: 'talkTimeShare', label: 'Your share of the talking', max: 1, text: (v) => `${percent(v)}, the tutor the rest`, hint: 'The more you speak, the more you practise.' },
];

export async function reviewPage({ root, params, api, session, navigate, signal }) {
  debug.reset();
  const id = params.conversationId;
  const heading = h('h1', {}, 'Review');
  const meta = h('p', { id: 'review-meta' }, 'Loading…');
  const body = h('div', { id: 'review', 'aria-busy': 'true' });
  replace(
    root,
    h('nav', { class: 'row crumbs', 'aria-label': 'Breadcrumbs' }, h('a', { href: '#/' }, '← Home'), h('a', { href: `#/conversations/${id}`, id: 'back-to-conversation' }, 'The conversation')),
    h('div', { class: 'page-header' }, heading, meta),
    body,
  );

  // Replays of the learner's recordings.
  let audioCtx = null;
  let player = null;
  let replays = 0;
  const cleanup = () => {
    player?.close();
    audioCtx?.close();
  };
  async function replay(url, status) {
    if (!audioCtx) {
      audioCtx = new AudioContext();
      player = new Player(audioCtx);
    }
    if (audioCtx.state !== 'running') await audioCtx.resume();
    player.stop();
    replays += 1;
    debug.log('replay', { role: 'user', source: 'url', url });
    status.textContent = '';
    try {
      const { rate, pcm } = await loadClip(url, { signal });
      player.enqueue(`replay:${replays}`, pcm, rate);
    } catch (err) {
      if (err.name !== 'AbortError') status.textContent = `Your recording could not be replayed: ${errorText(err)}`;
    }
  }

  let conv;
  let review;
  let user;
  try {
    [conv, review, user] = await Promise.all([
      api.get(`/conversations/${encodeURIComponent(id)}`, { signal }),
      api.get(`/conversations/${encodeURIComponent(id)}/review`, { signal }).catch((err) => {
        if (err.status === 404) return null;
        throw err;
      }),
      session.refresh(signal),
    ]);
  } catch (err) {
    if (err.status !== 404) throw err;
    heading.textContent = 'Conversation not found';
    replace(meta, 'This conversation does not exist or is not yours.');
    body.remove();
    return cleanup;
  }
  body.removeAttribute('aria-busy');
  const m = user.memberships?.find((x) => x.id === conv.membershipId);
  const control = (label) =>
    reviewControl({ api, navigate, signal, conversation: conv.id, membership: m, label, id: 'review-conversation' }).el;
  const said = conv.messages.filter((x) => x.userText?.trim());

  if (!review) {
    heading.textContent = `Review of the conversation of ${formatDateTime(conv.createdAt)}`;
    replace(meta, 'This conversation has not been reviewed yet.');
    replace(
      body,
      h(
        'section',
        { class: 'card stack', id: 'no-review' },
        h('p', {}, 'A review goes through what you said: corrections beside your own words, your level with its reasons, how fluently you spoke, useful vocabulary and what to practise next.'),
        said.length ? control('Review this conversation') : h('p', { class: 'muted' }, 'There is nothing of yours to review in this conversation yet.'),
      ),
    );
    return cleanup;
  }

  heading.textContent = `Review of the conversation of ${formatDateTime(conv.createdAt)}`;
  replace(meta, `Written ${formatDateTime(review.createdAt)} · ${plural(said.length, 'turn')} of yours · ${m?.plan?.name ?? 'Membership'}`);
  const newer = conv.messages.filter((x) => x.userText?.trim() && Date.parse(x.createdAt) > Date.parse(review.createdAt));
  const turns = new Map(conv.messages.map((x) => [x.turnId, x]));

  replace(
    body,
    newer.length
      ? h(
          'div',
          { class: 'notice notice-info page-notice stack', id: 'review-outdated' },
          h('p', {}, `You said more in this conversation after this review (${plural(newer.length, 'turn')}). A new review would include it.`),
          control('Review again'),
        )
      : null,
    h(
      'div',
      { class: 'review-grid' },
      levelSection(review.level),
      fluencySection(review.fluency),
    ),
    correctionsSection(review.corrections, turns, replay),
    h('div', { class: 'review-grid' }, vocabularySection(review.vocabulary), h('div', { class: 'stack' }, listSection('strengths', 'Strengths', review.strengths, 'ul', 'Nothing noted this time.'), listSection('goals', 'Next goals', review.nextGoals, 'ol', 'No goals this time.'))),
    h('p', { class: 'small muted', id: 'review-engine' }, `Written by the ${review.engine || 'tutor'} reviewer. The fluency figures are measured by the server from your voice; the rest is the reviewer's judgement.`),
  );
  return cleanup;
}

function levelSection(level) {
  const steps = Object.keys(CEFR);
  return h(
    'section',
    { class: 'card section review-level', id: 'review-level', 'aria-labelledby': 'level-h' },
    h('h2', { id: 'level-h' }, 'Your level'),
    h('p', { class: 'cefr' }, h('span', { class: 'cefr-badge', id: 'review-cefr' }, level.cefr || '—'), h('span', {}, CEFR[level.cefr] ?? 'Not estimated')),
    h(
      'ol',
      { class: 'cefr-scale', 'aria-label': `${cefrLabel(level.cefr)}, on the six CEFR levels from A1 (beginner) to C2 (proficient)` },
      steps.map((s) => h('li', { class: s === level.cefr ? 'is-current' : null, 'aria-current': s === level.cefr ? 'step' : null }, s)),
    ),
    level.reasons?.length ? [h('h3', {}, 'Why'), h('ul', { class: 'reasons' }, level.reasons.map((r) => h('li', {}, r)))] : null,
  );
}

function fluencySection(f) {
  const figures = FIGURES.filter((x) => f?.[x.key] != null);
  const intro = f?.spokenTurns
    ? h('p', { class: 'small' }, `Measured from your voice in ${plural(f.spokenTurns, 'spoken turn')}: ${plural(f.words, 'word')} in ${seconds(f.speakingMs)} of speaking.`)
    : h('p', { class: 'small', id: 'fluency-typed' }, 'These figures are measured from your voice. You typed in this conversation, so there was nothing to measure: speak to the tutor next time to see them.');
  return h(
    'section',
    { class: 'card section', id: 'review-fluency', 'aria-labelledby': 'fluency-h' },
    h('h2', { id: 'fluency-h' }, 'Fluency'),
    intro,
    figures.length
      ? h(
          'dl',
          { class: 'figures', 'aria-label': 'Fluency figures' },
          figures.map((x) => {
            const v = f[x.key];
            const share = Math.max(0.02, Math.min(1, v / x.max));
            return h(
              'div',
              { class: 'figure', dataset: { figure: x.key } },
              h('dt', {}, x.label),
              h(
                'dd',
                {},
                h('span', { class: 'bar', 'aria-hidden': 'true' }, h('span', { style: { width: `${(share * 100).toFixed(1)}%` } })),
                h('span', { class: 'value' }, x.text(v)),
                h('span', { class: 'hint' }, x.hint),
              ),
            );
          }),
        )
      : null,
  );
}

/** highlight returns the learner's text with the first occurrence of original in a <mark>. */
export function highlight(text, original) {
  const words = original.trim().split(/[\s,.!?;:"]+/).filter(Boolean);
  if (!words.length) return [text];
  const re = new RegExp(words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s,.!?;:"]+'), 'i');
  const m = re.exec(text);
  if (!m) return null;
  return [text.slice(0, m.index), h('mark', {}, m[0]), text.slice(m.index + m[0].length)];
}

function correctionsSection(corrections, turns, replay) {
  const items = corrections.map((c, i) => {
    const turn = turns.get(c.turnId);
    const marked = turn?.userText ? highlight(turn.userText, c.original) : null;
    const replayStatus = h('span', { class: 'small', role: 'status' });
    const url = turn?.userAudioUrl;
    return h(
      'li',
      { class: 'card correction', dataset: { turnId: c.turnId, kind: c.kind } },
      h('h3', {}, h('span', { class: 'sr-only' }, `Correction ${i + 1}: `), h('span', { class: `badge badge-kind kind-${c.kind}` }, KINDS[c.kind] ?? c.kind)),
      h(
        'div',
        { class: 'correction-pair' },
        h(
          'div',
          { class: 'said' },
          h('p', { class: 'label' }, 'You said'),
          h('blockquote', { class: 'learner-words' }, h('p', {}, marked ?? `“${c.original}”`)),
          marked ? h('p', { class: 'small muted original' }, 'The part to change: ', h('q', {}, c.original)) : null,
          url
            ? h('p', { class: 'row' }, h('button', { type: 'button', class: 'replay', 'aria-label': `Replay your recording of “${shorten(turn.userText)}”`, onclick: () => replay(url, replayStatus) }, '▶ Replay your recording'), replayStatus)
            : null,
        ),
        h('div', { class: 'better' }, h('p', { class: 'label' }, 'Better'), h('p', { class: 'corrected' }, h('q', {}, c.corrected))),
      ),
      c.explanation ? h('p', { class: 'explanation' }, c.explanation) : null,
    );
  });
  return h(
    'section',
    { class: 'section', id: 'review-corrections', 'aria-labelledby': 'corrections-h' },
    h('h2', { id: 'corrections-h' }, corrections.length ? `Corrections (${corrections.length})` : 'Corrections'),
    items.length ? h('ol', { class: 'corrections' }, items) : h('p', { class: 'card' }, 'Nothing to correct this time. Well done!'),
  );
}

function vocabularySection(vocabulary) {
  return h(
    'section',
    { class: 'card section', id: 'review-vocabulary', 'aria-labelledby': 'vocabulary-h' },
    h('h2', { id: 'vocabulary-h' }, 'Vocabulary'),
    vocabulary.length
      ? h(
          'dl',
          { class: 'vocabulary' },
          vocabulary.map((v) => h('div', {}, h('dt', {}, v.phrase), h('dd', {}, v.meaning), v.example ? h('dd', { class: 'example' }, h('q', {}, v.example)) : null)),
        )
      : h('p', { class: 'muted' }, 'No new vocabulary this time.'),
  );
}

function listSection(key, title, items, tag, empty) {
  return h(
    'section',
    { class: 'card section', id: `review-${key}`, 'aria-labelledby': `${key}-h` },
    h('h2', { id: `${key}-h` }, title),
    items.length ? h(tag, {}, items.map((x) => h('li', {}, x))) : h('p', { class: 'muted' }, empty),
  );
}

function shorten(text, n = 60) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}
