// Admin · Companies: create a company (name, one or more join codes, an optional seat limit and
// code expiry) and list them; a company's page shows its codes (add, disable), its members
// (remove one, optionally revoking the memberships they got through the company), its plans,
// and assigns a plan to every member at once.

import { field, h, id as newId, replace } from '../dom.js';
import { formatDate, formatDateTime, formatPrice, plural, reviewsText } from '../format.js';
import { confirm, errorText, openDialog, toast } from '../ui.js';
import { adminHeader, num, table } from './admin.js';

const MAX_CODES = 20;
const CODE_RE = /^[A-Za-z0-9][A-Za-z0-9 -]*$/;

/** checkCode returns the code typed (trimmed; empty: generated) or throws why it is not one. */
function checkCode(text) {
  const code = text.trim();
  if (!code) return '';
  const symbols = code.replace(/[\s-]/g, '');
  if (!CODE_RE.test(code) || symbols.length < 8 || symbols.length > 32) {
    throw new Error('A code is 8 to 32 letters and digits (spaces and hyphens may separate them), or empty to have one generated.');
  }
  return code;
}

/** expiryOf turns a date field ("2026-12-31") into the end of that day, local time, or null. */
function expiryOf(value) {
  if (!value) return null;
  const [y, m, d] = value.split('-').map(Number);
  const end = new Date(y, m - 1, d, 23, 59, 59);
  if (!(end > new Date())) throw new Error('The expiry date must be today or later.');
  return end.toISOString();
}

/** today is the date field's value of today, its minimum. */
function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** seatsText: "3 of 25 seats taken", "3 members, no seat limit". */
function seatsText(c) {
  return c.seatLimit == null ? `${plural(c.seatsUsed, 'member')}, no seat limit` : `${c.seatsUsed} of ${plural(c.seatLimit, 'seat')} taken`;
}

/** codeRow is a code and its expiry, as a pair of fields with a way to remove it. */
function codeRow(onRemove) {
  const code = h('input', { type: 'text', name: 'code', maxlength: 64, autocomplete: 'off', spellcheck: 'false', placeholder: 'Generated' });
  const expiry = h('input', { type: 'date', name: 'expiresOn', min: today() });
  const remove = h('button', { type: 'button', class: 'link-button' }, 'Remove', h('span', { class: 'sr-only' }, ' this code'));
  const el = h('div', { class: 'code-row' }, field('Code', code, 'Empty: one is generated.'), field('Expires on', expiry, 'Empty: never.'), h('div', { class: 'code-remove' }, remove));
  remove.addEventListener('click', () => onRemove(row));
  const row = {
    el,
    code,
    remove,
    value: () => ({ code: checkCode(code.value), expiresAt: expiryOf(expiry.value) }),
  };
  return row;
}

export async function adminCompaniesPage({ root, api, navigate, signal }) {
  const list = h('div', { id: 'admin-companies', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading companies…'));
  const name = h('input', { id: 'company-name', name: 'name', maxlength: 200, 'aria-required': 'true' });
  const seats = h('input', { id: 'company-seats', name: 'seatLimit', type: 'number', min: 1, step: 1 });
  const rows = h('div', { class: 'code-rows', id: 'company-codes' });
  const codes = [];
  const addRow = () => {
    const row = codeRow((r) => {
      codes.splice(codes.indexOf(r), 1);
      r.el.remove();
      sync();
      codes[0]?.code.focus();
    });
    codes.push(row);
    rows.append(row.el);
    sync();
    return row;
  };
  const addCode = h('button', { type: 'button', id: 'company-add-code' }, 'Add another code');
  const sync = () => {
    for (const r of codes) r.remove.hidden = codes.length === 1;
    addCode.disabled = codes.length >= MAX_CODES;
  };
  addCode.addEventListener('click', () => addRow().code.focus());
  addRow();
  const error = h('div', { class: 'notice notice-error', role: 'alert', id: 'company-error' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'company-create' }, 'Create company');
  const form = h(
    'form',
    { id: 'company-form', novalidate: true },
    h('div', { class: 'form-grid' }, h('div', { class: 'wide' }, field('Name', name)), field('Seat limit', seats, 'Most members at once. Empty: no limit.')),
    h('fieldset', {}, h('legend', {}, 'Join codes'), h('p', { class: 'hint' }, 'Learners join the company by entering one of its codes. Give each group its own code if you like; any code can be turned off later.'), rows, addCode),
    error,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.replaceChildren();
    let body;
    try {
      if (!name.value.trim()) {
        name.focus();
        throw new Error('Give the company a name.');
      }
      let seatLimit = null;
      if (seats.value.trim()) {
        seatLimit = Number(seats.value);
        if (!Number.isInteger(seatLimit) || seatLimit < 1) {
          seats.focus();
          throw new Error('The seat limit is a whole number of at least 1, or empty for no limit.');
        }
      }
      body = { name: name.value.trim(), seatLimit, codes: codes.map((r) => r.value()) };
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    submit.disabled = true;
    try {
      const created = await api.post('/admin/companies', body);
      toast(`Company created: ${created.name}, with ${plural(created.codes.length, 'code')}`, { kind: 'ok' });
      navigate(`/admin/companies/${created.id}`);
    } catch (err) {
      error.textContent = err.code === 'company_name_taken' ? 'A company with this name exists already.' : err.code === 'code_taken' ? 'One of the codes is in use already (capitals, spaces and hyphens do not count): choose another.' : errorText(err);
    } finally {
      submit.disabled = false;
    }
  });

  replace(
    root,
    adminHeader('companies', 'Companies whose people learn with aitutor: their join codes, members and plans.'),
    h(
      'div',
      { class: 'two-col two-col-wide' },
      h('section', { class: 'section', 'aria-labelledby': 'companies-h' }, h('h2', { id: 'companies-h' }, 'Companies'), list),
      h('section', { class: 'card section', 'aria-labelledby': 'new-company-h' }, h('h2', { id: 'new-company-h' }, 'New company'), form),
    ),
  );

  const companies = await api.get('/admin/companies', { signal });
  list.removeAttribute('aria-busy');
  if (!companies.length) {
    replace(list, h('p', { class: 'muted' }, 'No companies yet. Create the first one.'));
    return;
  }
  replace(
    list,
    table(
      'Companies',
      ['Name', 'Seats', 'Created'],
      companies.map((c) => [h('a', { href: `#/admin/companies/${c.id}` }, c.name), seatsText(c), formatDate(c.createdAt)]),
      { rowAttrs: (i) => ({ dataset: { companyId: companies[i].id, companyName: companies[i].name } }) },
    ),
  );
}

export async function adminCompanyPage({ root, api, params, signal }) {
  const id = params.companyId;
  const heading = h('h2', { id: 'company-h' }, 'Company');
  const summary = h('p', { id: 'company-summary' }, 'Loading…');
  const codesEl = h('div', { id: 'company-codes' });
  const membersEl = h('div', { id: 'company-members' });
  const plansEl = h('div', { id: 'company-plans' });
  const assignEl = h('div', { id: 'company-assign' });
  replace(
    root,
    adminHeader('companies'),
    h('p', {}, h('a', { href: '#/admin/companies' }, '← All companies')),
    h('section', { class: 'section', 'aria-labelledby': 'company-h' }, heading, summary),
    h(
      'div',
      { class: 'two-col two-col-wide' },
      h(
        'div',
        { class: 'stack' },
        h('section', { 'aria-labelledby': 'members-h' }, h('h2', { id: 'members-h' }, 'Members'), membersEl),
        h('section', { 'aria-labelledby': 'codes-h' }, h('h2', { id: 'codes-h' }, 'Join codes'), codesEl),
      ),
      h(
        'div',
        { class: 'stack' },
        h('section', { class: 'card', 'aria-labelledby': 'assign-all-h' }, h('h2', { id: 'assign-all-h' }, 'Assign a plan to every member'), assignEl),
        h('section', { 'aria-labelledby': 'company-plans-h' }, h('h2', { id: 'company-plans-h' }, 'Its own plans'), plansEl),
      ),
    ),
  );

  let company;
  async function load() {
    const [c, plans] = await Promise.all([api.get(`/admin/companies/${id}`, { signal }), api.get('/admin/plans', { signal })]);
    company = c;
    heading.textContent = c.name;
    summary.textContent = `${seatsText(c)} · created ${formatDate(c.createdAt)}`;
    renderMembers();
    renderCodes();
    renderPlans();
    renderAssign(plans);
  }

  function renderMembers() {
    if (!company.members.length) {
      replace(membersEl, h('p', { class: 'muted' }, 'No members yet. Learners join by entering one of the codes below on their Plans page.'));
      return;
    }
    replace(
      membersEl,
      table(
        `Members of ${company.name}`,
        ['Name', 'E-mail', 'Joined', { label: h('span', { class: 'sr-only' }, 'Actions') }],
        company.members.map((m) => [
          h('a', { href: `#/admin/users/${m.id}` }, m.name),
          m.email,
          formatDate(m.joinedAt),
          h('button', { type: 'button', class: 'danger', onclick: () => removeMember(m) }, 'Remove', h('span', { class: 'sr-only' }, ` ${m.name}`)),
        ]),
        { rowAttrs: (i) => ({ dataset: { userId: company.members[i].id, email: company.members[i].email } }) },
      ),
    );
  }

  async function removeMember(m) {
    const revoke = h('input', { type: 'checkbox', id: newId('revoke') });
    const { result } = openDialog({
      title: `Remove ${m.name} from ${company.name}?`,
      testid: 'confirm-remove-member',
      body: h(
        'div',
        {},
        h('p', {}, `${m.name} becomes a personal learner and their seat is freed. They can join again only with a code.`),
        h('p', { class: 'check-line' }, h('label', { class: 'check', htmlFor: revoke.id }, revoke, `Also revoke the memberships ${m.name} got through ${company.name}`)),
        h('p', { class: 'small muted' }, 'Unticked, those memberships stay usable until they end. Memberships they bought themselves are never touched.'),
      ),
      actions: [
        { label: 'Cancel', value: false },
        { label: 'Remove member', value: true, kind: 'danger' },
      ],
    });
    if (!(await result)) return;
    try {
      const res = await api.post(`/admin/companies/${id}/members/${m.id}/delete${revoke.checked ? '?revokeMemberships=true' : ''}`);
      toast(`${m.name} removed from ${company.name}${revoke.checked ? `; ${plural(res.revokedMemberships, 'membership')} revoked` : ''}`, { kind: 'ok' });
      await load();
    } catch (err) {
      toast(`Could not remove ${m.name}: ${errorText(err)}`, { kind: 'error' });
    }
  }

  function renderCodes() {
    const code = h('input', { type: 'text', id: 'new-code', maxlength: 64, autocomplete: 'off', spellcheck: 'false', placeholder: 'Generated' });
    const expiry = h('input', { type: 'date', id: 'new-code-expiry', min: today() });
    const error = h('div', { class: 'notice notice-error', role: 'alert', id: 'new-code-error' });
    const add = h(
      'form',
      { id: 'add-code-form', class: 'card', novalidate: true },
      h('h3', {}, 'Add a code'),
      h('div', { class: 'form-grid' }, field('Code', code, 'Empty: one is generated.'), field('Expires on', expiry, 'Empty: never.')),
      error,
      h('button', { type: 'submit', id: 'add-code' }, 'Add code'),
    );
    add.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.replaceChildren();
      let body;
      try {
        body = { code: checkCode(code.value), expiresAt: expiryOf(expiry.value) };
      } catch (err) {
        error.textContent = err.message;
        code.focus();
        return;
      }
      try {
        const created = await api.post(`/admin/companies/${id}/codes`, body);
        toast(`Code added: ${created.code}`, { kind: 'ok' });
        await load();
        document.getElementById('new-code')?.focus();
      } catch (err) {
        error.textContent = err.code === 'code_taken' ? 'That code is in use already (capitals, spaces and hyphens do not count): choose another.' : errorText(err);
      }
    });
    const status = { active: ['Active', 'badge-active'], expired: ['Expired', 'badge-expired'], disabled: ['Turned off', 'badge-revoked'] };
    replace(
      codesEl,
      company.codes.length
        ? table(
          `Join codes of ${company.name}`,
          ['Code', 'Status', 'Expires', 'Created', { label: h('span', { class: 'sr-only' }, 'Actions') }],
          company.codes.map((c) => [
            h('code', { class: 'join-code' }, c.code),
            h('span', { class: `badge ${status[c.status]?.[1] ?? ''}` }, status[c.status]?.[0] ?? c.status),
            c.expiresAt ? formatDateTime(c.expiresAt) : 'Never',
            formatDate(c.createdAt),
            c.status === 'disabled' ? h('span', { class: 'muted small' }, `Off since ${formatDate(c.disabledAt)}`) : h('button', { type: 'button', onclick: () => disable(c) }, 'Turn off', h('span', { class: 'sr-only' }, ` code ${c.code}`)),
          ]),
          { rowAttrs: (i) => ({ dataset: { codeId: company.codes[i].id, code: company.codes[i].code, status: company.codes[i].status } }) },
        )
        : h('p', { class: 'muted' }, 'No codes: nobody can join. Add one below.'),
      add,
    );
  }

  async function disable(c) {
    const ok = await confirm({
      title: `Turn off ${c.code}?`,
      body: 'Nobody can join with this code any more. People who joined with it stay members.',
      confirmLabel: 'Turn off code',
      danger: true,
      testid: 'confirm-disable-code',
    });
    if (!ok) return;
    try {
      await api.post(`/admin/companies/${id}/codes/${c.id}/disable`);
      toast(`Code turned off: ${c.code}`, { kind: 'ok' });
      await load();
    } catch (err) {
      toast(`Could not turn the code off: ${errorText(err)}`, { kind: 'error' });
    }
  }

  function renderPlans() {
    const create = h('p', {}, h('a', { href: `#/admin/plans?company=${id}`, id: 'company-new-plan' }, `Create a plan for ${company.name}`));
    if (!company.plans.length) {
      replace(plansEl, h('p', { class: 'muted' }, `${company.name} has no plans of its own. Its members can get the plans for company learners.`), create);
      return;
    }
    replace(
      plansEl,
      table(
        `Plans of ${company.name}`,
        ['Name', { label: 'Price', class: 'num' }, { label: 'Chats', class: 'num' }, 'Status'],
        company.plans.map((p) => [
          p.name,
          num(formatPrice(p.price, p.currency)),
          num(p.chatUses ?? '∞'),
          p.deletedAt ? h('span', { class: 'badge badge-deleted' }, 'Deleted') : h('span', { class: 'badge badge-active' }, 'On sale'),
        ]),
      ),
      create,
    );
  }

  function renderAssign(plans) {
    // Plans that the members may be given: the company's own and the plans for company
    // learners of no company (the server refuses another company's plans).
    const fit = plans.filter((p) => p.target === 'B2B' && (!p.companyId || p.companyId === id));
    const n = company.members.length;
    if (!fit.length) {
      replace(assignEl, h('p', { class: 'muted' }, 'No plan for company learners is on sale. Create one first.'));
      return;
    }
    const select = h(
      'select',
      { id: 'assign-all-plan', 'aria-describedby': 'assign-all-hint' },
      h('option', { value: '' }, 'Choose a plan…'),
      fit.map((p) => h('option', { value: p.id }, `${p.name}${p.companyId ? ` (${company.name})` : ''} — ${p.chatUses == null ? 'unlimited' : p.chatUses} chats, ${reviewsText(p.analysisUses).toLowerCase()}, ${p.durationDays} days`)),
    );
    const error = h('div', { class: 'notice notice-error', role: 'alert', id: 'assign-all-error' });
    const submit = h('button', { type: 'submit', class: 'primary', disabled: n === 0 }, 'Assign to every member');
    const form = h(
      'form',
      { id: 'assign-all-form', novalidate: true },
      h('div', { class: 'field' }, h('label', { htmlFor: select.id }, 'Plan'), select, h('span', { class: 'hint', id: 'assign-all-hint' }, n ? `Each of the ${plural(n, 'member')} gets a new membership of it at no charge, starting today.` : 'There are no members yet.')),
      error,
      submit,
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.replaceChildren();
      const plan = fit.find((p) => p.id === select.value);
      if (!plan) {
        error.textContent = 'Choose the plan to assign first.';
        select.setAttribute('aria-invalid', 'true');
        select.focus();
        return;
      }
      select.removeAttribute('aria-invalid');
      const ok = await confirm({
        title: `Assign ${plan.name} to every member?`,
        body: `Each of the ${plural(n, 'member')} of ${company.name} gets a new membership of ${plan.name}, starting today, at no charge.`,
        confirmLabel: `Assign to ${plural(n, 'member')}`,
        testid: 'confirm-assign-all',
      });
      if (!ok) return;
      try {
        const res = await api.post(`/admin/companies/${id}/plans/${plan.id}/assign`);
        toast(`${plan.name}: ${plural(res.created, 'membership')} created`, { kind: 'ok' });
        await load();
      } catch (err) {
        error.textContent = errorText(err);
      }
    });
    replace(assignEl, form);
  }

  await load();
}
