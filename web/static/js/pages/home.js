// Home: the learner's profile and memberships, with a way into the tutor for active ones.

import { h, replace } from '../dom.js';
import { customerTypeLabel, formatDate, statusLabel } from '../format.js';

const ORDER = { active: 0, exhausted: 1, expired: 2, revoked: 3 };

export async function homePage({ root, session, signal }) {
  const list = h('div', { class: 'grid', id: 'memberships', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading your memberships…'));
  const profile = h('div', { class: 'card', id: 'profile' });
  replace(
    root,
    h('div', { class: 'page-header' }, h('h1', {}, `Welcome, ${session.user.name}`), h('p', {}, 'Ready for a conversation? Pick a membership and start talking.')),
    h(
      'div',
      { class: 'two-col' },
      h('section', { class: 'section', 'aria-labelledby': 'profile-h' }, h('h2', { id: 'profile-h' }, 'Profile'), profile),
      h('section', { class: 'section', 'aria-labelledby': 'memberships-h' }, h('h2', { id: 'memberships-h' }, 'Your memberships'), list),
    ),
  );
  const user = await session.refresh(signal);
  renderProfile(profile, user);
  renderMemberships(list, user.memberships ?? []);
}

function renderProfile(el, user) {
  const rows = [
    ['Name', user.name],
    ['E-mail', user.email],
    ['Account', customerTypeLabel(user.customerType)],
    user.region ? ['Region', user.region] : null,
    user.role === 'admin' ? ['Role', 'Administrator'] : null,
    ['Member since', formatDate(user.createdAt)],
  ].filter(Boolean);
  replace(el, h('dl', { class: 'props' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
}

function renderMemberships(el, memberships) {
  el.removeAttribute('aria-busy');
  if (memberships.length === 0) {
    replace(
      el,
      h(
        'div',
        { class: 'card stack' },
        h('p', {}, 'You have no membership yet. A membership gives you conversations with the tutor.'),
        h('a', { class: 'button primary', href: '#/plans' }, 'See plans'),
      ),
    );
    return;
  }
  const sorted = [...memberships].sort((a, b) => (ORDER[a.status] ?? 9) - (ORDER[b.status] ?? 9));
  replace(el, sorted.map(membershipCard));
}

export function membershipCard(m) {
  const active = m.status === 'active';
  const remaining = m.remainingChatUses;
  const uses = remaining == null
    ? h('p', { class: 'uses' }, h('strong', {}, 'Unlimited'), ' chats')
    : h('p', { class: 'uses' }, h('strong', {}, String(remaining)), ` ${remaining === 1 ? 'chat' : 'chats'} left`);
  const details = [];
  if (m.status === 'revoked') details.push(`Revoked on ${formatDate(m.revokedAt)}.`);
  else if (m.status === 'expired') details.push(`Expired on ${formatDate(m.expiresAt)}.`);
  else details.push(`Valid until ${formatDate(m.expiresAt)}.`);
  if (m.grantedByAdmin) details.push('Arranged by an administrator.');
  const why = {
    exhausted: 'All chats of this membership are used up.',
    expired: 'This membership has expired.',
    revoked: 'An administrator revoked this membership.',
  }[m.status];
  return h(
    'article',
    { class: 'card membership', dataset: { membershipId: m.id, status: m.status } },
    h('header', {}, h('h3', {}, m.plan?.name ?? 'Membership'), h('span', { class: `badge badge-${m.status}` }, statusLabel(m.status))),
    uses,
    h('p', { class: 'muted small' }, details.join(' ')),
    why ? h('p', { class: 'small' }, why) : null,
    h(
      'div',
      { class: 'actions' },
      active
        ? h('a', { class: 'button primary', href: `#/tutor/${m.id}`, 'aria-label': `Start a conversation with ${m.plan?.name ?? 'this membership'}` }, 'Start conversation')
        : h('a', { class: 'button', href: '#/plans' }, 'See plans'),
    ),
  );
}
