// Home: the learner's profile and memberships, with a way into the tutor for active ones; their
// past conversations (to read, replay and continue) and their recent usage in words.

import { query } from '../api.js';
import { h, replace } from '../dom.js';
import { customerTypeLabel, formatDate, formatDateTime, plural, statusLabel } from '../format.js';
import { errorText } from '../ui.js';

const ORDER = { active: 0, exhausted: 1, expired: 2, revoked: 3 };
const PAGE = 10; // conversations a page
const USAGE = 20; // ledger entries shown

export async function homePage({ root, api, session, signal }) {
  const list = h('div', { class: 'grid', id: 'memberships', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading your memberships…'));
  const profile = h('div', { class: 'card', id: 'profile' });
  const conversations = h('ul', { class: 'conversation-list', id: 'conversations', 'aria-busy': 'true' }, h('li', { class: 'loading' }, 'Loading your conversations…'));
  const more = h('button', { type: 'button', id: 'more-conversations', hidden: true }, 'Load more conversations');
  const usage = h('div', { id: 'usage', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading your usage…'));
  replace(
    root,
    h('div', { class: 'page-header' }, h('h1', {}, `Welcome, ${session.user.name}`), h('p', {}, 'Ready for a conversation? Pick a membership and start talking.')),
    h(
      'div',
      { class: 'two-col' },
      h('section', { class: 'section', 'aria-labelledby': 'profile-h' }, h('h2', { id: 'profile-h' }, 'Profile'), profile),
      h('section', { class: 'section', 'aria-labelledby': 'memberships-h' }, h('h2', { id: 'memberships-h' }, 'Your memberships'), list),
    ),
    h(
      'div',
      { class: 'two-col two-col-wide section' },
      h(
        'section',
        { class: 'section', 'aria-labelledby': 'conversations-h' },
        h('h2', { id: 'conversations-h' }, 'Your conversations'),
        conversations,
        h('div', { class: 'pager' }, more),
      ),
      h('section', { class: 'section', 'aria-labelledby': 'usage-h' }, h('h2', { id: 'usage-h' }, 'Recent usage'), usage),
    ),
  );
  const user = await session.refresh(signal);
  renderProfile(profile, user);
  renderMemberships(list, user.memberships ?? []);
  await Promise.all([
    loadConversations(api, conversations, more, user.memberships ?? [], signal).catch((err) => showError(conversations, err, 'li')),
    loadUsage(api, usage, signal).catch((err) => showError(usage, err, 'p')),
  ]);
}

function showError(el, err, tag) {
  if (err.name === 'AbortError' || err.status === 401) return;
  el.removeAttribute('aria-busy');
  replace(el, h(tag, { class: 'notice notice-error', role: 'alert' }, errorText(err)));
}

/** loadConversations lists the learner's conversations, newest activity first, a page at a time. */
async function loadConversations(api, el, more, memberships, signal) {
  let cursor = '';
  const load = async () => {
    el.setAttribute('aria-busy', 'true');
    const page = await api.get(`/conversations${query({ limit: PAGE, cursor })}`, { signal });
    el.removeAttribute('aria-busy');
    const first = cursor === '';
    if (first) el.replaceChildren();
    if (first && page.conversations.length === 0) {
      el.append(h('li', { class: 'muted' }, 'No conversations yet. Start one with a membership above: it appears here, to read, replay and continue.'));
    }
    const items = page.conversations.map((c) => conversationItem(c, memberships));
    el.append(...items);
    cursor = page.nextCursor ?? '';
    more.hidden = !cursor;
    return items;
  };
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const items = await load();
      // Keyboard users go on at the first conversation added.
      items[0]?.querySelector('a')?.focus();
    } catch (err) {
      if (err.name !== 'AbortError') el.append(h('li', { class: 'notice notice-error', role: 'alert' }, errorText(err)));
    } finally {
      more.disabled = false;
    }
  });
  await load();
}

function conversationItem(c, memberships) {
  const m = memberships.find((x) => x.id === c.membershipId);
  const when = formatDateTime(c.updatedAt);
  const details = [plural(c.turns, 'turn'), c.channel === 'rest' ? 'recorded messages' : 'live conversation', c.topic ? `topic: ${c.topic}` : null, `started ${formatDate(c.createdAt)}`];
  return h(
    'li',
    { class: 'card conversation', dataset: { conversationId: c.id } },
    h(
      'div',
      { class: 'conversation-text' },
      h('header', {}, h('h3', {}, when), h('span', { class: 'badge' }, c.planName)),
      c.preview ? h('p', { class: 'preview' }, `“${c.preview}”`) : null,
      h('p', { class: 'muted small' }, details.filter(Boolean).join(' · ')),
    ),
    h(
      'div',
      { class: 'actions' },
      h('a', { class: 'button open', href: `#/conversations/${c.id}`, 'aria-label': `Open the conversation of ${when}` }, 'Open'),
      m?.status === 'active'
        ? h('a', { class: 'button primary continue', href: `#/tutor/${c.membershipId}/${c.id}`, 'aria-label': `Continue the conversation of ${when}` }, 'Continue')
        : null,
    ),
  );
}

/** loadUsage shows the learner's recent charges and refunds in words. */
async function loadUsage(api, el, signal) {
  const use = await api.get(`/users/me/usage${query({ limit: USAGE })}`, { signal });
  el.removeAttribute('aria-busy');
  const s = use.summary;
  const rule = h(
    'p',
    { class: 'small muted', id: 'usage-rule' },
    'A chat is charged for an answer whose first sentence you heard. If you stop or interrupt the tutor before that, or it cannot answer, the chat is given back.',
  );
  if (use.ledger.length === 0) {
    replace(el, h('div', { class: 'card stack' }, h('p', {}, 'No chats yet.'), rule));
    return;
  }
  replace(
    el,
    h(
      'div',
      { class: 'card stack' },
      h('p', { id: 'usage-summary' }, h('strong', {}, plural(s.net, 'chat')), ` used in all: ${plural(s.charges, 'charge')}, ${plural(s.refunds, 'refund')}.`),
      rule,
      h(
        'ul',
        { class: 'usage-list', 'aria-label': 'Charges and refunds, newest first' },
        use.ledger.map((e) => {
          const refund = e.kind === 'refund';
          const delta = e.delta > 0 ? `+${e.delta}` : `−${Math.abs(e.delta)}`;
          return h(
            'li',
            { class: `usage-entry usage-${refund ? 'refund' : 'charge'}`, dataset: { kind: e.kind } },
            h('span', { class: 'delta' }, h('span', { 'aria-hidden': 'true' }, delta), h('span', { class: 'sr-only' }, `${plural(Math.abs(e.delta), 'chat')} ${e.delta > 0 ? 'given back' : 'used'}: `)),
            h('div', {}, h('p', { class: 'description' }, e.description), h('p', { class: 'muted small' }, `${formatDateTime(e.createdAt)} · ${e.planName}`)),
          );
        }),
      ),
    ),
  );
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
