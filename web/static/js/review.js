// "Review this conversation": the button that asks for a review of a conversation
// (POST /api/conversations/{id}/review), the progress while it is written (it can take seconds)
// and what a refusal or a failure means for the learner. On success it opens the review page.
//
// A review is paid with one analysis use of the membership that pays for the conversation.
// Asking again while nothing new was said gives the stored review back (200) at no charge; a
// review that could not be written is refunded (5xx).

import { h, replace } from './dom.js';
import { reviewsLeftText } from './format.js';
import { announce, errorText, toast } from './ui.js';

/** reviewPath is the hash route of a conversation's review. */
export function reviewPath(conversationId) {
  return `/conversations/${conversationId}/review`;
}

/**
 * usesHint says what a review costs on a membership, truthfully: how many reviews are left, and
 * that asking again with nothing new is free.
 */
export function usesHint(m) {
  if (!m) return 'A review uses one review of the membership that pays for the conversation.';
  const left = m.remainingAnalysisUses;
  const plan = m.plan?.name ?? 'this membership';
  if (left == null) return `${plan}: unlimited reviews.`;
  if (left === 0) return m.plan?.analysisUses === 0 ? `${plan} includes no reviews.` : `${plan}: no reviews left.`;
  return `Uses one review of ${plan} (${reviewsLeftText(left)}). Asking again when nothing new was said shows the same review, free.`;
}

/**
 * explain builds the notice for a refused or failed review request: what happened, whether it
 * cost anything, and what the learner can do.
 */
export function explain(err, m, retry) {
  const plan = m?.plan?.name ? `(${m.plan.name}) ` : '';
  const plans = h('a', { class: 'button', href: '#/plans' }, 'See plans');
  let title;
  let text;
  let action = null;
  switch (err.code) {
    case 'quota_exhausted':
      title = m?.plan?.analysisUses === 0 ? 'No reviews on this membership' : 'No reviews left';
      text = m?.plan?.analysisUses === 0
        ? `The membership that pays for this conversation ${plan}includes no reviews. Nothing was charged. Plans that include reviews are on the plans page.`
        : `The membership that pays for this conversation ${plan}has no reviews left. Nothing was charged. Plans that include reviews are on the plans page.`;
      action = plans;
      break;
    case 'membership_expired':
      title = 'Membership expired';
      text = `The membership that paid for this conversation ${plan}has expired, so it cannot pay for a review. Nothing was charged.`;
      action = plans;
      break;
    case 'membership_revoked':
      title = 'Membership revoked';
      text = `An administrator revoked the membership that paid for this conversation ${plan}, so it cannot pay for a review. Nothing was charged.`;
      action = plans;
      break;
    case 'nothing_to_review':
      title = 'Nothing to review yet';
      text = 'The review is about what you said, and this conversation has nothing of yours yet. Say or type something to the tutor first. Nothing was charged.';
      break;
    case 'not_found':
      title = 'Conversation not found';
      text = 'This conversation does not exist or is not yours.';
      break;
    case 'provider_timeout':
      title = 'The review took too long';
      text = 'The reviewer did not answer in time. You were not charged: the use was given back to your membership. Please try again in a moment.';
      if (retry) action = h('button', { type: 'button', class: 'primary review-retry', onclick: retry }, 'Try again');
      break;
    default:
      if (err.status === 0) {
        title = 'Could not reach the server';
        text = 'Check your connection and try again. Trying again is safe: a conversation is never charged twice for the same review.';
      } else if (err.status >= 500 || err.status === 429) {
        // review_failed, provider_error, unavailable…: the server's own message speaks of
        // providers; the learner needs to know that it cost nothing and can be retried.
        title = 'The review could not be written';
        text = 'Something went wrong while writing the review. You were not charged: the use was given back to your membership. Please try again in a moment.';
      } else {
        title = 'The review could not be written';
        text = errorText(err);
      }
      if (retry && err.retryable) action = h('button', { type: 'button', class: 'primary review-retry', onclick: retry }, 'Try again');
  }
  return h(
    'div',
    { class: 'notice notice-error review-error', role: 'alert', dataset: { code: err.code ?? '' } },
    h('h3', {}, title),
    h('p', {}, text),
    action ? h('div', { class: 'row' }, action) : null,
  );
}

/**
 * reviewControl is a "Review this conversation" button with its progress and error display.
 * conversation and membership may be values or functions (the tutor page learns them late).
 * On success it goes to the review page (unless the page was left meanwhile: then a toast says
 * the review is ready). setEnabled(bool) turns the button on and off from outside. A compact
 * control has no hint; its button and status may be placed apart.
 *
 * @param {{api: object, navigate: Function, signal: AbortSignal, conversation: string|Function,
 *   membership?: object|Function, label?: string, ariaLabel?: string, compact?: boolean,
 *   id?: string}} o
 */
export function reviewControl({ api, navigate, signal, conversation, membership, label = 'Review this conversation', ariaLabel, compact = false, id }) {
  const value = (x) => (typeof x === 'function' ? x() : x);
  const button = h('button', { type: 'button', class: `review-button${compact ? '' : ' primary'}`, id: id ?? null, 'aria-label': ariaLabel ?? null }, label);
  const status = h('div', { class: 'review-status', id: id ? `${id}-status` : null });
  const hint = compact ? null : h('p', { class: 'hint review-hint' });
  const el = h('div', { class: `review-control${compact ? ' compact' : ''}` }, h('div', { class: 'row' }, button), hint, status);
  let busy = false;
  let enabled = true;
  const sync = () => {
    button.disabled = busy || !enabled;
    const text = usesHint(value(membership));
    if (hint && hint.textContent !== text) hint.textContent = text;
  };

  async function run() {
    const conversationId = value(conversation);
    if (busy || !conversationId) return;
    busy = true;
    sync();
    button.setAttribute('aria-busy', 'true');
    const started = Date.now();
    const elapsed = h('span', { class: 'elapsed' }, '0 s');
    replace(
      status,
      h(
        'div',
        { class: 'review-progress', role: 'status' },
        h('progress', { 'aria-label': 'Writing the review' }),
        h('p', {}, 'Writing your review… The reviewer reads the whole conversation: this can take up to a minute. ', elapsed),
      ),
    );
    announce('Writing your review. This can take up to a minute.');
    const timer = setInterval(() => {
      elapsed.textContent = `${Math.round((Date.now() - started) / 1000)} s`;
    }, 1000);
    try {
      // Not cancelled when the page is left: the review is written (and paid) either way, and
      // the learner finds it later on the conversation's page.
      const { status: code } = await api.request('POST', `/conversations/${encodeURIComponent(conversationId)}/review`, { withStatus: true });
      status.replaceChildren();
      const msg = code === 201
        ? 'Your review is ready.'
        : 'Nothing was said since your last review of this conversation, so here it is again: nothing was charged.';
      if (signal?.aborted) {
        toast(`${code === 201 ? 'Your review is ready' : 'Your review is unchanged'}: open it from the conversation on your home page.`, { kind: 'ok' });
        return;
      }
      toast(msg, { kind: 'ok' });
      navigate(reviewPath(conversationId));
    } catch (err) {
      if (signal?.aborted) return;
      replace(status, explain(err, value(membership), run));
      announce('The review could not be written.');
    } finally {
      clearInterval(timer);
      busy = false;
      button.removeAttribute('aria-busy');
      if (!signal?.aborted) sync();
    }
  }
  button.addEventListener('click', run);
  sync();
  return {
    el,
    button,
    status,
    setEnabled(on) {
      enabled = on;
      sync();
    },
    refresh: sync,
  };
}
