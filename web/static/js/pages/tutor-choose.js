// Tutor (the navigation's item): straight to the tutor with the learner's one usable
// membership, or a choice between several, or the way to get one.

import { h, replace } from '../dom.js';
import { formatDate, membershipUses, reviewsLeftText, usableMemberships } from '../format.js';

export async function tutorChoicePage({ root, session, navigate, signal }) {
  const user = await session.refresh(signal);
  const usable = usableMemberships(user);
  if (usable.length === 1) {
    navigate(`/tutor/${usable[0].id}`, { replace: true });
    return;
  }
  const header = h('div', { class: 'page-header' }, h('h1', {}, 'Talk with the tutor'));
  if (!usable.length) {
    replace(
      root,
      header,
      h(
        'div',
        { class: 'card stack', id: 'tutor-none' },
        h('p', {}, user.memberships?.length ? 'None of your memberships can pay for chats right now: they have expired, were revoked or have no chats left.' : 'You have no membership yet. A membership pays for your chats with the tutor.'),
        h('p', {}, h('a', { class: 'button primary', href: '#/plans' }, 'See plans'), ' ', h('a', { class: 'button', href: '#/' }, 'Back home')),
      ),
    );
    return;
  }
  replace(
    root,
    header,
    h('p', { class: 'muted' }, 'Which membership should pay for this conversation?'),
    h(
      'ul',
      { class: 'grid choices', id: 'tutor-choices' },
      usable.map((m) =>
        h(
          'li',
          { class: 'card membership', dataset: { membershipId: m.id } },
          h('header', {}, h('h2', { class: 'h3' }, m.plan.name)),
          h('p', { class: 'uses' }, membershipUses(m)),
          h('p', { class: 'muted small' }, `${reviewsLeftText(m.remainingAnalysisUses)} · valid until ${formatDate(m.expiresAt)}`),
          h('div', { class: 'actions' }, h('a', { class: 'button primary', href: `#/tutor/${m.id}` }, 'Start conversation', h('span', { class: 'sr-only' }, ` with ${m.plan.name}`))),
        ),
      ),
    ),
  );
}
