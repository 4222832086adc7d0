// Admin · Users: search users and see their memberships; one user's page shows their
// memberships (revoke with a confirmation), assigns a plan, and lists the usage ledger: chat
// uses (answers) and analysis uses (conversation reviews), each described in words.

import { query } from '../api.js';
import { h, replace } from '../dom.js';
import { customerTypeLabel, formatDate, formatDateTime, formatPrice, plural, reviewsText, statusLabel } from '../format.js';
import { confirm, errorText, toast } from '../ui.js';
import { adminHeader, num, table } from './admin.js';

const PAGE = 20;

export async function adminUsersPage({ root, api, signal }) {
  const q = h('input', { type: 'search', id: 'user-search', name: 'q', placeholder: 'Name or e-mail', maxlength: 200 });
  const form = h('form', { class: 'search', role: 'search' }, h('label', { class: 'sr-only', htmlFor: 'user-search' }, 'Search users'), q, h('button', { type: 'submit', class: 'primary' }, 'Search'));
  const results = h('div', { id: 'admin-users', 'aria-live': 'polite', 'aria-busy': 'true' });
  const pager = h('div', { class: 'pager' });
  let offset = 0;
  replace(root, adminHeader('users'), h('section', { class: 'section', 'aria-label': 'Users' }, form, results, pager));

  async function load() {
    results.setAttribute('aria-busy', 'true');
    // Ask for one more than a page to know whether there is a next page.
    const users = await api.get(`/admin/users${query({ q: q.value.trim(), limit: PAGE + 1, offset })}`, { signal });
    results.removeAttribute('aria-busy');
    const more = users.length > PAGE;
    const shown = users.slice(0, PAGE);
    if (shown.length === 0) {
      replace(results, h('p', { class: 'muted' }, q.value.trim() ? `No user matches “${q.value.trim()}”.` : 'No users yet.'));
    } else {
      replace(
        results,
        table(
          'Users',
          ['Name', 'E-mail', 'Account', 'Role', 'Memberships', 'Joined'],
          shown.map((u) => [
            h('a', { href: `#/admin/users/${u.id}` }, u.name),
            u.email,
            customerTypeLabel(u.customerType),
            u.role === 'admin' ? h('span', { class: 'badge badge-accent' }, 'Admin') : 'Learner',
            membershipSummary(u.memberships),
            formatDate(u.createdAt),
          ]),
          { rowAttrs: (i) => ({ dataset: { userId: shown[i].id, email: shown[i].email } }) },
        ),
      );
    }
    replace(
      pager,
      h('span', { class: 'muted small' }, shown.length ? `${offset + 1}–${offset + shown.length}` : ''),
      h('button', { type: 'button', disabled: offset === 0, onclick: () => go(Math.max(0, offset - PAGE)) }, 'Previous'),
      h('button', { type: 'button', disabled: !more, onclick: () => go(offset + PAGE) }, 'Next'),
    );
  }
  const go = (o) => {
    offset = o;
    load().catch(showError);
  };
  const showError = (err) => {
    if (err.name !== 'AbortError') replace(results, h('p', { class: 'notice notice-error', role: 'alert' }, errorText(err)));
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    go(0);
  });
  await load();
}

function membershipSummary(ms) {
  if (!ms?.length) return h('span', { class: 'muted' }, 'None');
  const active = ms.filter((m) => m.status === 'active').length;
  return h('span', {}, `${active} active`, ms.length > active ? h('span', { class: 'muted' }, ` · ${ms.length - active} other`) : null);
}

export async function adminUserPage({ root, api, params, signal }) {
  const id = params.userId;
  const profile = h('div', { class: 'card', id: 'admin-user-profile' }, h('p', { class: 'loading' }, 'Loading…'));
  const memberships = h('div', { id: 'admin-user-memberships' });
  const assign = h('div', { class: 'card', id: 'admin-assign' });
  const usage = h('div', { id: 'admin-usage' });
  const heading = h('h2', { id: 'user-h' }, 'User');
  replace(
    root,
    adminHeader('users'),
    h('p', {}, h('a', { href: '#/admin/users' }, '← All users')),
    h(
      'div',
      { class: 'two-col' },
      h('div', { class: 'stack' }, h('section', { 'aria-labelledby': 'user-h' }, heading, profile), h('section', { 'aria-labelledby': 'assign-h' }, h('h2', { id: 'assign-h' }, 'Assign a plan'), assign)),
      h(
        'div',
        { class: 'stack' },
        h('section', { 'aria-labelledby': 'memberships-h' }, h('h2', { id: 'memberships-h' }, 'Memberships'), memberships),
        h('section', { 'aria-labelledby': 'usage-h' }, h('h2', { id: 'usage-h' }, 'Usage'), usage),
      ),
    ),
  );

  async function load() {
    const [user, use, plans, companyList] = await Promise.all([
      api.get(`/admin/users/${id}`, { signal }),
      api.get(`/admin/users/${id}/usage?limit=100`, { signal }),
      api.get('/admin/plans', { signal }),
      api.get('/admin/companies', { signal }),
    ]);
    const companies = new Map(companyList.map((c) => [c.id, c.name]));
    heading.textContent = user.name;
    replace(
      profile,
      h(
        'dl',
        { class: 'props' },
        [
          ['E-mail', user.email],
          ['Account', customerTypeLabel(user.customerType)],
          ['Company', user.companyId ? h('a', { href: `#/admin/companies/${user.companyId}` }, companies.get(user.companyId) ?? 'A company') : 'None'],
          ['Role', user.role === 'admin' ? 'Administrator' : 'Learner'],
          ['Joined', formatDate(user.createdAt)],
          ['Chats used', `${use.summary.net} (${plural(use.summary.charges, 'charge')}, ${plural(use.summary.refunds, 'refund')})`],
          ['Reviews used', `${use.summary.analysisNet ?? 0} (${plural(use.summary.analysisCharges ?? 0, 'charge')}, ${plural(use.summary.analysisRefunds ?? 0, 'refund')})`],
        ].map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
      ),
    );
    renderMemberships(user, companies);
    renderAssign(user, plans, companies);
    renderUsage(use);
  }

  function renderMemberships(user, companies) {
    if (!user.memberships.length) {
      replace(memberships, h('p', { class: 'muted' }, 'No memberships.'));
      return;
    }
    replace(
      memberships,
      table(
        `Memberships of ${user.name}`,
        ['Plan', 'Status', { label: 'Chats left', class: 'num' }, { label: 'Reviews left', class: 'num' }, 'Expires', { label: h('span', { class: 'sr-only' }, 'Actions') }],
        user.memberships.map((m) => [
          h(
            'span',
            {},
            m.plan.name,
            h('br'),
            h('span', { class: 'muted small' }, `${m.companyId ? `Through ${companies.get(m.companyId) ?? 'a company'}` : m.grantedByAdmin ? 'Assigned' : 'Bought'} ${formatDate(m.startedAt)}`),
          ),
          h('span', { class: `badge badge-${m.status}` }, statusLabel(m.status)),
          num(m.remainingChatUses ?? '∞'),
          num(m.remainingAnalysisUses ?? '∞'),
          formatDate(m.expiresAt),
          m.revokedAt ? h('span', { class: 'muted small' }, `Revoked ${formatDate(m.revokedAt)}`) : h('button', { type: 'button', class: 'danger', onclick: () => revoke(user, m) }, 'Revoke', h('span', { class: 'sr-only' }, ` ${m.plan.name}`)),
        ]),
        { rowAttrs: (i) => ({ dataset: { membershipId: user.memberships[i].id, status: user.memberships[i].status } }) },
      ),
    );
  }

  /**
   * renderAssign offers the plans on sale, those sold to this user first; nothing is chosen
   * until the admin chooses, and a plan that is not sold to the user says so before it is
   * assigned (administrators may still grant it).
   */
  function renderAssign(user, plans, companies) {
    if (!plans.length) {
      replace(assign, h('p', { class: 'muted' }, 'There are no plans to assign. Create one first.'));
      return;
    }
    const kind = user.companyId ? `a member of ${companies.get(user.companyId) ?? 'a company'}` : user.customerType === 'B2B' ? 'a company learner of no company' : 'a personal (B2C) learner';
    // Why a plan is not sold to this user, or null (the rule of GET /api/membership).
    const misfit = (p) => {
      if (p.companyId && p.companyId !== user.companyId) return `${p.name} is ${companies.get(p.companyId) ?? 'another company'}’s own plan, and ${user.name} is ${kind}.`;
      if (p.target !== user.customerType) return `${p.name} is sold to ${p.target === 'B2B' ? 'company learners' : 'personal learners'}, and ${user.name} is ${kind}.`;
      return null;
    };
    const option = (p) => h('option', { value: p.id }, `${p.name} — ${p.chatUses == null ? 'unlimited' : p.chatUses} chats, ${reviewsText(p.analysisUses).toLowerCase()}, ${p.durationDays} days, ${formatPrice(p.price, p.currency)}`);
    const fit = plans.filter((p) => !misfit(p));
    const other = plans.filter((p) => misfit(p));
    const select = h(
      'select',
      { id: 'assign-plan', 'aria-describedby': 'assign-hint assign-note' },
      h('option', { value: '' }, 'Choose a plan…'),
      fit.length ? h('optgroup', { label: `Sold to ${user.name}` }, fit.map(option)) : null,
      other.length ? h('optgroup', { label: `Not sold to ${user.name}` }, other.map(option)) : null,
    );
    const note = h('p', { class: 'notice notice-warn', id: 'assign-note', hidden: true });
    const showNote = () => {
      const p = plans.find((x) => x.id === select.value);
      const why = p && misfit(p);
      note.hidden = !why;
      note.textContent = why ? `${why} Assigning gives it anyway; their account does not change.` : '';
      select.removeAttribute('aria-invalid');
    };
    select.addEventListener('change', showNote);
    const form = h(
      'form',
      { id: 'assign-form', novalidate: true },
      h('div', { class: 'field' }, h('label', { htmlFor: 'assign-plan' }, 'Plan'), select, h('span', { class: 'hint', id: 'assign-hint' }, `${user.name} is ${kind}. They get a new membership of the plan at no charge, starting today.`)),
      note,
      h('button', { type: 'submit', class: 'primary' }, 'Assign plan'),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const plan = plans.find((p) => p.id === select.value);
      if (!plan) {
        select.setAttribute('aria-invalid', 'true');
        note.hidden = false;
        note.textContent = 'Choose the plan to assign first.';
        select.focus();
        return;
      }
      const why = misfit(plan);
      const ok = await confirm({
        title: `Assign ${plan.name}?`,
        body: h('div', {}, h('p', {}, `${user.name} gets a new membership of ${plan.name}, starting today, at no charge.`), why ? h('p', {}, `${why} They get it anyway.`) : null),
        confirmLabel: 'Assign',
        testid: 'confirm-assign',
      });
      if (!ok) return;
      try {
        await api.post(`/admin/users/${user.id}/plans/${plan.id}/assign`);
        toast(`${plan.name} assigned to ${user.name}`, { kind: 'ok' });
        await load();
      } catch (err) {
        toast(`Could not assign the plan: ${errorText(err)}`, { kind: 'error' });
      }
    });
    replace(assign, form);
  }

  async function revoke(user, m) {
    const ok = await confirm({
      title: `Revoke ${m.plan.name}?`,
      body: `${user.name} can no longer use this membership: it stops paying for conversations at once. Its history stays.`,
      confirmLabel: 'Revoke membership',
      danger: true,
      testid: 'confirm-revoke',
    });
    if (!ok) return;
    try {
      await api.post(`/admin/users/${user.id}/memberships/${m.id}/delete`);
      toast(`Membership revoked: ${m.plan.name}`, { kind: 'ok' });
      await load();
    } catch (err) {
      toast(`Could not revoke the membership: ${errorText(err)}`, { kind: 'error' });
    }
  }

  function renderUsage(use) {
    const s = use.summary;
    const stats = h(
      'div',
      { class: 'stats' },
      [
        ['Charges', s.charges],
        ['Refunds', s.refunds],
        ['Net chats', s.net],
        ['Answered', s.answered ?? 0],
        ['Reviews', s.analysisNet ?? 0],
      ].map(([label, value]) => h('div', { class: 'stat', dataset: { stat: label.toLowerCase().replace(/\s+/g, '-') } }, h('span', { class: 'value' }, String(value)), h('span', { class: 'label' }, label))),
    );
    if (!use.ledger.length) {
      replace(usage, stats, h('p', { class: 'muted' }, 'No chats or reviews yet.'));
      return;
    }
    replace(
      usage,
      stats,
      table(
        'Usage ledger (chats and reviews), newest first',
        ['When', 'Plan', 'Use', 'Kind', { label: 'Change', class: 'num' }, { label: 'Left after', class: 'num' }, 'What for'],
        use.ledger.map((e) => [
          formatDateTime(e.createdAt),
          e.planName,
          e.resource === 'analysis' ? h('span', { class: 'badge badge-accent' }, 'Review') : h('span', { class: 'badge' }, 'Chat'),
          e.kind === 'refund' ? h('span', { class: 'badge badge-active' }, 'Refund') : h('span', { class: 'badge' }, 'Charge'),
          num(e.delta > 0 ? `+${e.delta}` : `−${Math.abs(e.delta)}`),
          num(e.remainingAfter ?? '∞'),
          h('span', { class: 'small' }, e.description || 'Conversation turn'),
        ]),
        { rowAttrs: (i) => ({ dataset: { resource: use.ledger[i].resource ?? 'chat', kind: use.ledger[i].kind } }) },
      ),
    );
  }

  await load();
}
