// Home: the learner's profile and memberships, with a way into the tutor for active ones; their
// progress over their reviews (level and fluency) and what the tutor remembers of them, which
// they can clear; their past conversations (to read, replay, review and continue) and their
// recent usage in words.

import { query } from '../api.js';
import { pointsChart } from '../charts.js';
import { joinCompanyDialog, leaveCompany } from '../company.js';
import { h, replace } from '../dom.js';
import { CEFR, CORRECTION_KINDS as KINDS, cefrLabel, customerTypeLabel, formatDate, formatDateTime, plural, reviewsLeftText, statusLabel } from '../format.js';
import { reviewControl, reviewPath } from '../review.js';
import { confirm, errorText, toast } from '../ui.js';

const ORDER = { active: 0, exhausted: 1, expired: 2, revoked: 3 };
const PAGE = 10; // conversations a page
const USAGE = 20; // ledger entries shown

export async function homePage({ root, api, session, navigate, signal }) {
  const list = h('div', { class: 'grid', id: 'memberships', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading your memberships…'));
  const profile = h('div', { class: 'card', id: 'profile' });
  const conversations = h('ul', { class: 'conversation-list', id: 'conversations', 'aria-busy': 'true' }, h('li', { class: 'loading' }, 'Loading your conversations…'));
  const more = h('button', { type: 'button', id: 'more-conversations', hidden: true }, 'Load more conversations');
  const usage = h('div', { id: 'usage', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading your usage…'));
  const progress = h('div', { id: 'progress', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading your progress…'));
  const memory = h('div', { id: 'tutor-memory', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading what the tutor remembers…'));
  const charts = [];
  replace(
    root,
    h('div', { class: 'page-header' }, h('h1', {}, `Welcome, ${session.user.name}`), h('p', {}, 'Ready for a conversation? Pick a membership and start talking.')),
    h(
      'div',
      { class: 'two-col two-col-wide' },
      h('section', { class: 'section', 'aria-labelledby': 'memberships-h' }, h('h2', { id: 'memberships-h' }, 'Your memberships'), list),
      h('section', { class: 'section', 'aria-labelledby': 'profile-h' }, h('h2', { id: 'profile-h' }, 'Profile'), profile),
    ),
    h(
      'div',
      { class: 'two-col two-col-wide section' },
      h('section', { class: 'section', 'aria-labelledby': 'progress-h' }, h('h2', { id: 'progress-h' }, 'Your progress'), progress),
      h('section', { class: 'section', 'aria-labelledby': 'memory-h' }, h('h2', { id: 'memory-h' }, 'What the tutor remembers'), memory),
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
  const cleanup = () => {
    for (const c of charts.splice(0)) c.destroy();
  };
  const user = await session.refresh(signal);
  const rerender = () => {
    renderProfile(profile, session.user, { api, session, rerender });
    renderMemberships(list, session.user);
  };
  rerender();
  const ctx = { api, navigate, signal };
  await Promise.all([
    loadConversations(ctx, conversations, more, user.memberships ?? []).catch((err) => showError(conversations, err, 'li')),
    loadUsage(api, usage, signal).catch((err) => showError(usage, err, 'p')),
    loadProfile(ctx, progress, memory, charts).catch((err) => {
      showError(progress, err, 'p');
      showError(memory, err, 'p');
    }),
  ]);
  return cleanup;
}

function showError(el, err, tag) {
  if (err.name === 'AbortError' || err.status === 401) return;
  el.removeAttribute('aria-busy');
  replace(el, h(tag, { class: 'notice notice-error', role: 'alert' }, errorText(err)));
}

/** loadConversations lists the learner's conversations, newest activity first, a page at a time. */
async function loadConversations(ctx, el, more, memberships) {
  const { api, signal } = ctx;
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
    const items = page.conversations.map((c) => conversationItem(ctx, c, memberships));
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

function conversationItem(ctx, c, memberships) {
  const m = memberships.find((x) => x.id === c.membershipId);
  const when = formatDateTime(c.updatedAt);
  // Asking again when nothing new was said shows the stored review at no charge.
  const review = reviewControl({ ...ctx, conversation: c.id, membership: m, label: 'Review', ariaLabel: `Review the conversation of ${when}`, compact: true });
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
      review.button,
      m?.status === 'active'
        ? h('a', { class: 'button primary continue', href: `#/tutor/${c.membershipId}/${c.id}`, 'aria-label': `Continue the conversation of ${when}` }, 'Continue')
        : null,
    ),
    review.status,
  );
}

/** loadUsage shows the learner's recent charges and refunds (chats and reviews) in words. */
async function loadUsage(api, el, signal) {
  const use = await api.get(`/users/me/usage${query({ limit: USAGE })}`, { signal });
  el.removeAttribute('aria-busy');
  const s = use.summary;
  const rule = h(
    'p',
    { class: 'small muted', id: 'usage-rule' },
    'A chat is charged for an answer whose first sentence you heard. If you stop or interrupt the tutor before that, or it cannot answer, the chat is given back. A review is charged once it is written; one that cannot be written is given back.',
  );
  if (use.ledger.length === 0) {
    replace(el, h('div', { class: 'card stack' }, h('p', {}, 'No chats yet.'), rule));
    return;
  }
  const what = (e, n) => (e.resource === 'analysis' ? plural(n, 'review') : plural(n, 'chat'));
  replace(
    el,
    h(
      'div',
      { class: 'card stack' },
      h(
        'p',
        { id: 'usage-summary' },
        h('strong', {}, plural(s.net, 'chat')),
        ` used in all: ${plural(s.charges, 'charge')}, ${plural(s.refunds, 'refund')}.`,
        s.analysisCharges
          ? [' ', h('strong', {}, plural(s.analysisNet ?? 0, 'review')), ` used: ${plural(s.analysisCharges, 'charge')}, ${plural(s.analysisRefunds ?? 0, 'refund')}.`]
          : null,
      ),
      rule,
      h(
        'ul',
        { class: 'usage-list', 'aria-label': 'Charges and refunds, newest first' },
        use.ledger.map((e) => {
          const refund = e.kind === 'refund';
          const delta = e.delta > 0 ? `+${e.delta}` : `−${Math.abs(e.delta)}`;
          const resource = e.resource === 'analysis' ? 'analysis' : 'chat';
          return h(
            'li',
            { class: `usage-entry usage-${refund ? 'refund' : 'charge'} usage-${resource}`, dataset: { kind: e.kind, resource } },
            h('span', { class: 'delta' }, h('span', { 'aria-hidden': 'true' }, delta), h('span', { class: 'sr-only' }, `${what(e, Math.abs(e.delta))} ${e.delta > 0 ? 'given back' : 'used'}: `)),
            h(
              'div',
              {},
              h('p', { class: 'description' }, e.description),
              h('p', { class: 'muted small' }, `${formatDateTime(e.createdAt)} · ${e.planName}${resource === 'analysis' ? ' · review' : ''}`),
            ),
          );
        }),
      ),
    ),
  );
}

/**
 * loadProfile shows the learner's progress over their reviews (GET /api/users/me/profile:
 * progress, oldest first) and what the tutor remembers of them, with "Forget this".
 */
async function loadProfile(ctx, progressEl, memoryEl, charts) {
  const { api, signal } = ctx;
  const p = await api.get('/users/me/profile', { signal });
  renderProgress(progressEl, p.progress ?? [], charts);
  const forget = async () => {
    const ok = await confirm({
      title: 'Forget what the tutor remembers?',
      body: h(
        'div',
        {},
        h('p', {}, 'The tutor forgets your level, the mistakes you tend to make, your topics and your goals, and no longer uses them in your conversations.'),
        h('p', {}, 'Your conversations and their reviews stay, and so does your progress. New reviews teach the tutor again.'),
      ),
      confirmLabel: 'Forget this',
      danger: true,
      testid: 'confirm-forget',
    });
    if (!ok) return;
    try {
      await api.del('/users/me/profile');
      toast('The tutor has forgotten what it remembered about you.', { kind: 'ok' });
      const fresh = await api.get('/users/me/profile', { signal });
      renderMemory(memoryEl, fresh, forget);
      memoryEl.querySelector('h3, p')?.setAttribute('tabindex', '-1');
      memoryEl.querySelector('h3, p')?.focus();
    } catch (err) {
      if (err.name !== 'AbortError') toast(`Could not clear it: ${errorText(err)}`, { kind: 'error' });
    }
  };
  renderMemory(memoryEl, p, forget);
}

const LEVEL_VALUE = Object.fromEntries(Object.keys(CEFR).map((l, i) => [l, i + 1]));

function renderProgress(el, points, charts) {
  el.removeAttribute('aria-busy');
  for (const c of charts.splice(0)) c.destroy();
  if (points.length === 0) {
    replace(el, h('div', { class: 'card' }, h('p', { class: 'muted', id: 'progress-empty' }, 'No reviews yet. Review a conversation to see your level and fluency here, review after review.')));
    return;
  }
  const latest = points.at(-1);
  const first = points[0];
  const wpm = (x) => x.fluency?.wordsPerMinute ?? null;
  const xs = points.map((x) => Math.floor(Date.parse(x.createdAt) / 1000));
  const levelEl = h('div', { class: 'chart chart-small', id: 'chart-level' });
  const speedEl = h('div', { class: 'chart chart-small', id: 'chart-speed' });
  const spoken = points.some((x) => wpm(x) != null);
  let change = null;
  if (points.length > 1 && LEVEL_VALUE[first.cefr] && LEVEL_VALUE[latest.cefr]) {
    const d = LEVEL_VALUE[latest.cefr] - LEVEL_VALUE[first.cefr];
    change = d > 0 ? `up from ${first.cefr}` : d < 0 ? `down from ${first.cefr}` : 'the same as at your first review';
  }
  replace(
    el,
    h(
      'div',
      { class: 'card stack' },
      h(
        'p',
        { id: 'progress-latest' },
        'Your level: ',
        h('strong', {}, cefrLabel(latest.cefr)),
        change ? ` (${change})` : null,
        ` · ${plural(points.length, 'review')}, the latest ${formatDate(latest.createdAt)}.`,
      ),
      h('h3', {}, 'Level over time'),
      levelEl,
      h('h3', {}, 'Speaking speed over time (words a minute)'),
      spoken ? speedEl : h('p', { class: 'muted small' }, 'Speak to the tutor (rather than type) to see your speaking speed here.'),
      h(
        'details',
        { class: 'progress-details' },
        h('summary', {}, 'Every review as a table'),
        h(
          'div',
          { class: 'table-wrap', role: 'region', 'aria-label': 'Your reviews', tabindex: '0' },
          h(
            'table',
            { id: 'progress-table' },
            h('caption', { class: 'sr-only' }, 'Your reviews, oldest first'),
            h('thead', {}, h('tr', {}, ['Date', 'Level', 'Words a minute', 'Pausing', 'Corrections', ''].map((c) => h('th', { scope: 'col' }, c)))),
            h(
              'tbody',
              {},
              points.map((x) =>
                h(
                  'tr',
                  { dataset: { reviewId: x.reviewId } },
                  h('td', {}, formatDate(x.createdAt)),
                  h('td', {}, x.cefr || '—'),
                  h('td', { class: 'num' }, wpm(x) == null ? '—' : String(Math.round(wpm(x)))),
                  h('td', { class: 'num' }, x.fluency?.pauseRatio == null ? '—' : `${Math.round(x.fluency.pauseRatio * 100)} %`),
                  h('td', { class: 'num' }, String(x.corrections)),
                  h('td', {}, h('a', { href: `#${reviewPath(x.conversationId)}`, 'aria-label': `Open the review of ${formatDate(x.createdAt)}` }, 'Open')),
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
  charts.push(
    pointsChart(levelEl, {
      label: `Line chart of your CEFR level over ${plural(points.length, 'review')}: now ${latest.cefr}`,
      xs,
      height: 180,
      y: { min: 1, max: 6, values: (v) => Object.keys(CEFR)[v - 1] ?? '', incrs: [1], space: 12, size: 40 },
      series: [{ label: 'Level', color: 'var(--chart-1)', values: points.map((x) => LEVEL_VALUE[x.cefr] ?? null), value: (v) => Object.keys(CEFR)[v - 1] ?? '—' }],
    }),
  );
  if (spoken) {
    charts.push(
      pointsChart(speedEl, {
        label: `Line chart of your speaking speed in words a minute over ${plural(points.length, 'review')}`,
        xs,
        height: 180,
        y: { min: 0 },
        series: [{ label: 'Words a minute', color: 'var(--chart-4)', values: points.map(wpm), value: (v) => `${Math.round(v)} wpm` }],
      }),
    );
  }
}

function renderMemory(el, p, forget) {
  el.removeAttribute('aria-busy');
  const known = p.reviews > 0 || p.level || p.mistakes?.length || p.topics?.length || p.goals?.length;
  const how = h('p', { class: 'small muted' }, 'Each review teaches the tutor: it greets you as a returning learner and gives you chances to practise your weak points. Only you and the tutor see this.');
  if (!known) {
    replace(
      el,
      h('div', { class: 'card stack' }, h('p', { id: 'memory-empty' }, 'The tutor remembers nothing about you yet.'), how),
    );
    return;
  }
  replace(
    el,
    h(
      'div',
      { class: 'card stack' },
      h(
        'dl',
        { class: 'props' },
        h('dt', {}, 'Level'),
        h('dd', { id: 'memory-level' }, p.level ? cefrLabel(p.level) : '—'),
        h('dt', {}, 'From'),
        h('dd', {}, plural(p.reviews, 'review')),
        p.updatedAt ? [h('dt', {}, 'Updated'), h('dd', {}, formatDateTime(p.updatedAt))] : null,
      ),
      p.mistakes?.length
        ? [
            h('h3', {}, 'Mistakes you tend to make'),
            h(
              'ul',
              { class: 'memory-mistakes', id: 'memory-mistakes' },
              p.mistakes.map((m) =>
                h(
                  'li',
                  {},
                  h('q', { class: 'was' }, m.original),
                  h('span', { 'aria-hidden': 'true' }, ' → '),
                  h('span', { class: 'sr-only' }, ' better: '),
                  h('q', { class: 'better' }, m.corrected),
                  h('span', { class: 'muted small' }, ` · ${KINDS[m.kind] ?? m.kind}${m.count > 1 ? ` · ${m.count} times` : ''}`),
                ),
              ),
            ),
          ]
        : null,
      p.topics?.length ? [h('h3', {}, 'Topics'), h('ul', { class: 'chips', id: 'memory-topics' }, p.topics.map((t) => h('li', {}, t.topic)))] : null,
      p.goals?.length ? [h('h3', {}, 'Goals'), h('ul', { id: 'memory-goals' }, p.goals.map((g) => h('li', {}, g)))] : null,
      how,
      h('div', { class: 'row' }, h('button', { type: 'button', class: 'danger', id: 'forget-profile', onclick: forget }, 'Forget this')),
    ),
  );
}

function renderProfile(el, user, ctx) {
  const rows = [
    ['Name', user.name],
    ['E-mail', user.email],
    ['Account', customerTypeLabel(user.customerType)],
    user.company ? ['Company', user.company.name] : null,
    user.region ? ['Region', user.region] : null,
    user.role === 'admin' ? ['Role', 'Administrator'] : null,
    ['Member since', formatDate(user.createdAt)],
  ].filter(Boolean);
  const company = user.company
    ? h('button', { type: 'button', id: 'leave-company', onclick: async () => { if (await leaveCompany(ctx)) ctx.rerender(); } }, `Leave ${user.company.name}`)
    : h('button', { type: 'button', id: 'join-company', onclick: async () => { if (await joinCompanyDialog(ctx)) ctx.rerender(); } }, 'Enter a company code');
  replace(
    el,
    h('dl', { class: 'props' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', { dataset: { prop: k.toLowerCase() } }, v)])),
    h('div', { class: 'row profile-actions' }, company),
  );
}

function renderMemberships(el, user) {
  const memberships = user.memberships ?? [];
  el.removeAttribute('aria-busy');
  if (memberships.length === 0) {
    replace(
      el,
      h(
        'div',
        { class: 'card stack' },
        h('p', {}, 'You have no membership yet. A membership pays for your chats with the tutor.'),
        h('a', { class: 'button primary', href: '#/plans' }, 'See plans'),
      ),
    );
    return;
  }
  const sorted = [...memberships].sort((a, b) => (ORDER[a.status] ?? 9) - (ORDER[b.status] ?? 9) || Date.parse(b.startedAt) - Date.parse(a.startedAt));
  // Memberships of the same plan are told apart by when they started (to the minute when
  // they started on the same day).
  const byPlan = new Map();
  for (const m of memberships) byPlan.set(m.plan?.name, [...(byPlan.get(m.plan?.name) ?? []), m]);
  const twins = (m) => (byPlan.get(m.plan?.name) ?? []).sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt) || a.id.localeCompare(b.id));
  const sameDay = (m) => twins(m).some((o) => o !== m && formatDate(o.startedAt) === formatDate(m.startedAt));
  replace(
    el,
    sorted.map((m) => {
      const all = twins(m);
      return membershipCard(m, { company: user.company, precise: sameDay(m), nth: all.length > 1 ? [all.indexOf(m) + 1, all.length] : null });
    }),
  );
}

/**
 * membershipCard shows a membership: what it can still pay for (or had left when it ended),
 * where it came from and when it started; memberships of one plan are numbered in the order
 * they started (nth: [n, of]), so that they are told apart.
 */
export function membershipCard(m, { company, precise = false, nth = null } = {}) {
  const active = m.status === 'active';
  const ended = m.status === 'revoked' || m.status === 'expired';
  const remaining = m.remainingChatUses;
  let uses;
  if (ended) {
    const had = remaining == null ? 'Unlimited chats' : remaining === 0 ? 'No chats' : plural(remaining, 'chat');
    uses = h('p', { class: 'uses muted' }, `${had} ${remaining === 1 ? 'was' : 'were'} left when it ${m.status === 'revoked' ? 'was revoked' : 'expired'}.`);
  } else {
    uses = remaining == null
      ? h('p', { class: 'uses' }, h('strong', {}, 'Unlimited'), ' chats')
      : h('p', { class: 'uses' }, h('strong', {}, String(remaining)), ` ${remaining === 1 ? 'chat' : 'chats'} left`);
  }
  // Reviews are paid with analysis uses: say how many are left, or that the plan has none.
  const reviewsLeft = m.remainingAnalysisUses;
  const reviews = ended
    ? null
    : h('p', { class: 'uses-reviews' }, reviewsLeft === 0 && m.plan?.analysisUses === 0 ? 'No reviews included' : reviewsLeftText(reviewsLeft));
  const started = precise ? formatDateTime(m.startedAt) : formatDate(m.startedAt);
  let source;
  if (m.companyId) source = `From ${m.companyId === company?.id ? company.name : 'your company'}`;
  else if (m.grantedByAdmin) source = 'Given by an administrator';
  else source = 'Bought';
  const details = [`${source} on ${started}.`];
  if (m.status === 'revoked') details.push(`Revoked on ${formatDate(m.revokedAt)}.`);
  else if (m.status === 'expired') details.push(`Expired on ${formatDate(m.expiresAt)}.`);
  else details.push(`Valid until ${formatDate(m.expiresAt)}.`);
  const why = {
    exhausted: reviewsLeft === 0 ? 'All chats of this membership are used up.' : 'All chats of this membership are used up; its reviews can still review your conversations.',
    revoked: 'An administrator revoked this membership: it can no longer be used.',
  }[m.status];
  const name = m.plan?.name ?? 'Membership';
  return h(
    'article',
    { class: 'card membership', dataset: { membershipId: m.id, status: m.status } },
    h('header', {}, h('h3', {}, name, nth ? h('span', { class: 'muted small' }, ` · ${nth[0]} of ${nth[1]}`) : null), h('span', { class: `badge badge-${m.status}` }, statusLabel(m.status))),
    uses,
    reviews,
    h('p', { class: 'muted small' }, details.join(' ')),
    why ? h('p', { class: 'small' }, why) : null,
    h(
      'div',
      { class: 'actions' },
      active
        ? h('a', { class: 'button primary', href: `#/tutor/${m.id}` }, 'Start conversation', h('span', { class: 'sr-only' }, ` with ${name}`))
        : h('a', { class: 'button', href: '#/plans' }, 'See plans'),
    ),
  );
}
