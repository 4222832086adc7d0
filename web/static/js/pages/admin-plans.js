// Admin · Plans: create a plan with all its fields (a company's own plan, once per account for
// trials), then every plan, deleted ones included; delete (take off sale) with a confirmation.
// Memberships of a deleted plan keep working.

import { h, id as newId, replace } from '../dom.js';
import { formatDate, formatPrice, minorDigits, parsePrice } from '../format.js';
import { confirm, errorText, toast } from '../ui.js';
import { adminHeader, num, table } from './admin.js';

const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'KRW', 'CAD', 'AUD', 'CHF', 'INR', 'BRL'];

/** audienceLabel says who a plan is sold to. */
export function audienceLabel(plan, companies) {
  if (plan.companyId) return `${companies.get(plan.companyId) ?? 'A company'}’s learners`;
  return plan.target === 'B2B' ? 'Company learners' : 'Personal learners';
}

export async function adminPlansPage({ root, api, signal }) {
  const list = h('div', { id: 'admin-plans', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading plans…'));
  let companies = new Map();
  const form = createForm(async (plan) => {
    const created = await api.post('/admin/plan', plan);
    toast(`Plan created: ${created.name}`, { kind: 'ok' });
    await load();
    return created;
  });
  replace(
    root,
    adminHeader('plans', 'Plans, users, companies and the tutor’s latency.'),
    h('section', { class: 'card section', 'aria-labelledby': 'new-plan-h' }, h('h2', { id: 'new-plan-h' }, 'New plan'), form.el),
    h('section', { class: 'section', 'aria-labelledby': 'plans-h' }, h('h2', { id: 'plans-h' }, 'All plans'), list),
  );

  async function load() {
    const [plans, cs] = await Promise.all([api.get('/admin/plans?includeDeleted=true', { signal }), api.get('/admin/companies', { signal })]);
    companies = new Map(cs.map((c) => [c.id, c.name]));
    form.setCompanies(cs);
    list.removeAttribute('aria-busy');
    if (plans.length === 0) {
      replace(list, h('p', { class: 'muted' }, 'No plans yet. Create the first one.'));
      return;
    }
    replace(
      list,
      table(
        'All plans, including deleted ones',
        ['Name', 'Sold to', { label: 'Price', class: 'num' }, { label: 'Days', class: 'num' }, { label: 'Chats', class: 'num' }, { label: 'Reviews', class: 'num' }, 'Status', { label: h('span', { class: 'sr-only' }, 'Actions') }],
        plans.map((p) => [
          h('span', {}, h('strong', {}, p.name), p.description ? h('span', { class: 'muted small' }, h('br'), p.description) : null),
          h('span', {}, audienceLabel(p, companies), p.oncePerUser ? h('span', { class: 'muted small' }, h('br'), 'once per account') : null),
          num(formatPrice(p.price, p.currency)),
          num(p.durationDays),
          num(p.chatUses ?? '∞'),
          num(p.analysisUses ?? '∞'),
          p.deletedAt ? h('span', { class: 'badge badge-deleted' }, `Deleted ${formatDate(p.deletedAt)}`) : h('span', { class: 'badge badge-active' }, 'On sale'),
          p.deletedAt ? '' : h('button', { type: 'button', class: 'danger', onclick: () => remove(p) }, 'Delete', h('span', { class: 'sr-only' }, ` plan ${p.name}`)),
        ]),
        { rowAttrs: (i) => ({ class: plans[i].deletedAt ? 'is-deleted' : null, dataset: { planId: plans[i].id, planName: plans[i].name } }) },
      ),
    );
  }

  async function remove(plan) {
    const ok = await confirm({
      title: `Delete ${plan.name}?`,
      body: 'The plan leaves the shop: nobody can buy it or be assigned it any more. Memberships that learners already have keep working until they end.',
      confirmLabel: 'Delete plan',
      danger: true,
      testid: 'confirm-delete-plan',
    });
    if (!ok) return;
    try {
      await api.post(`/admin/plans/${plan.id}/delete`);
      toast(`Plan deleted: ${plan.name}`, { kind: 'ok' });
      await load();
    } catch (err) {
      toast(`Could not delete ${plan.name}: ${errorText(err)}`, { kind: 'error' });
    }
  }

  await load();
  // "Create a plan for <company>" on a company's page comes here with ?company=<id>.
  const wanted = new URLSearchParams(window.location.hash.split('?')[1] ?? '').get('company');
  if (wanted && companies.has(wanted)) form.preselect(wanted);
}

/**
 * validatedField is a labelled control with a hint and a place for its error; the control
 * references both (aria-describedby) and is marked aria-invalid while wrong.
 */
function validatedField(label, control, hint, { wide = false, hintId } = {}) {
  control.id ||= newId('f');
  const hintEl = hint ? h('span', { class: 'hint', id: hintId ?? newId('hint') }, hint) : null;
  const errorEl = h('span', { class: 'field-error', id: newId('err'), hidden: true });
  control.setAttribute('aria-describedby', [hintEl?.id, errorEl.id].filter(Boolean).join(' '));
  const el = h('div', { class: `field${wide ? ' wide' : ''}` }, h('label', { htmlFor: control.id }, label), control, hintEl, errorEl);
  return {
    el,
    hint: hintEl,
    setError(text) {
      errorEl.textContent = text ?? '';
      errorEl.hidden = !text;
      if (text) control.setAttribute('aria-invalid', 'true');
      else control.removeAttribute('aria-invalid');
    },
  };
}

/** createForm is the new-plan form; onCreate(body) is called with the API's body. */
function createForm(onCreate) {
  const name = h('input', { id: 'plan-name', name: 'name', maxlength: 200, 'aria-required': 'true' });
  const description = h('textarea', { id: 'plan-description', name: 'description', rows: 2, maxlength: 2000 });
  const days = h('input', { id: 'plan-days', name: 'durationDays', type: 'number', min: 1, max: 3660, step: 1, value: '30', 'aria-required': 'true' });
  const price = h('input', { id: 'plan-price', name: 'price', inputmode: 'decimal', placeholder: '9.99', 'aria-required': 'true' });
  const currency = h('select', { id: 'plan-currency', name: 'currency' }, CURRENCIES.map((c) => h('option', { value: c }, c)));
  const target = h('select', { id: 'plan-target', name: 'target' }, h('option', { value: 'B2C' }, 'Personal learners (B2C)'), h('option', { value: 'B2B' }, 'Company learners (B2B)'));
  const company = h('select', { id: 'plan-company', name: 'companyId' }, h('option', { value: '' }, 'No company'));
  const once = h('input', { type: 'checkbox', id: 'plan-once', name: 'oncePerUser' });
  const chats = usesInput('plan-chats', 'Chats', '20', 'One chat is one answer of the tutor.');
  const analyses = usesInput('plan-analyses', 'Reviews', '', 'One review goes through a whole conversation.');
  analyses.unlimited.checked = true;
  analyses.sync();
  const error = h('div', { class: 'notice notice-error', role: 'alert', id: 'plan-error' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'plan-create' }, 'Create plan');

  const fName = validatedField('Name', name, null, { wide: true });
  const fDays = validatedField('Duration (days)', days, 'From 1 to 3660.');
  const fPrice = validatedField('Price', price, 'The price.', { hintId: 'price-preview' });
  const fTarget = validatedField('Sold to', target, null);
  const fCompany = validatedField('Company', company, 'A company’s own plan is sold to its members only; with no company, a plan for company learners is sold to all of them.');
  const updatePreview = () => {
    try {
      fPrice.hint.textContent = price.value.trim()
        ? `Shown to learners as ${formatPrice(parsePrice(price.value, currency.value), currency.value)}.`
        : `In ${currency.value}${minorDigits(currency.value) ? `, up to ${minorDigits(currency.value)} decimals` : ', whole units'}; 0 for a free plan.`;
    } catch (err) {
      fPrice.hint.textContent = err.message;
    }
  };
  fPrice.hint.setAttribute('aria-live', 'polite');
  price.addEventListener('input', updatePreview);
  currency.addEventListener('change', updatePreview);
  updatePreview();
  // A company's plan is a company plan (B2B).
  const syncCompany = () => {
    company.disabled = target.value !== 'B2B';
    if (company.disabled) company.value = '';
  };
  target.addEventListener('change', syncCompany);
  syncCompany();

  const el = h(
    'form',
    { id: 'plan-form', novalidate: true },
    h(
      'div',
      { class: 'form-grid' },
      fName.el,
      h('div', { class: 'field wide' }, h('label', { htmlFor: description.id }, 'Description'), description),
      fDays.el,
      fPrice.el,
      h('div', { class: 'field' }, h('label', { htmlFor: currency.id }, 'Currency'), currency),
      fTarget.el,
      fCompany.el,
      h('div', { class: 'field field-check' }, h('label', { class: 'check', htmlFor: once.id }, once, 'Once per account'), h('span', { class: 'hint' }, 'For trials: each learner can get it once (administrators can still assign it).')),
      chats.el,
      analyses.el,
    ),
    error,
    submit,
  );
  el.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.replaceChildren();
    // Every field is checked, and every problem said beside its field at once.
    const problems = [];
    const check = (f, control, fn) => {
      try {
        const v = fn();
        f.setError(null);
        return v;
      } catch (err) {
        f.setError(err.message);
        problems.push(control);
        return undefined;
      }
    };
    const body = {
      name: check(fName, name, () => {
        if (!name.value.trim()) throw new Error('Give the plan a name.');
        return name.value.trim();
      }),
      description: description.value.trim(),
      durationDays: check(fDays, days, () => wholeNumber(days.value, 'The duration', 1, 3660)),
      price: check(fPrice, price, () => {
        if (!price.value.trim()) throw new Error('Enter a price (0 for a free plan).');
        return parsePrice(price.value, currency.value);
      }),
      currency: currency.value,
      target: target.value,
      companyId: company.value || null,
      oncePerUser: once.checked,
      chatUses: check(chats, chats.input, () => chats.value()),
      analysisUses: check(analyses, analyses.input, () => analyses.value()),
    };
    if (problems.length) {
      error.textContent = problems.length === 1 ? 'One field needs a change: see below it.' : `${problems.length} fields need a change: see below each.`;
      problems[0].focus();
      return;
    }
    submit.disabled = true;
    try {
      await onCreate(body);
      el.reset();
      days.value = '30';
      chats.sync();
      analyses.unlimited.checked = true;
      analyses.sync();
      syncCompany();
      updatePreview();
      name.focus();
    } catch (err) {
      error.textContent = errorText(err);
    } finally {
      submit.disabled = false;
    }
  });
  return {
    el,
    preselect(companyId) {
      target.value = 'B2B';
      syncCompany();
      company.value = companyId;
      name.focus();
    },
    setCompanies(cs) {
      const keep = company.value;
      replace(company, h('option', { value: '' }, 'No company'), cs.map((c) => h('option', { value: c.id }, c.name)));
      company.value = keep;
    },
  };
}

/** usesInput is a number of uses with an "Unlimited" checkbox (null in the API). */
function usesInput(id, label, initial, hint) {
  const input = h('input', { id, type: 'number', min: 0, step: 1, value: initial });
  const unlimited = h('input', { type: 'checkbox', id: `${id}-unlimited` });
  const errorEl = h('span', { class: 'field-error', id: `${id}-error`, hidden: true });
  const hintEl = h('span', { class: 'hint', id: `${id}-hint` }, hint);
  input.setAttribute('aria-describedby', `${hintEl.id} ${errorEl.id}`);
  const sync = () => {
    input.disabled = unlimited.checked;
  };
  unlimited.addEventListener('change', sync);
  const el = h(
    'fieldset',
    {},
    h('legend', {}, label),
    h('div', { class: 'row' }, h('label', { class: 'sr-only', htmlFor: id }, `${label} included`), input, h('label', { class: 'check', htmlFor: unlimited.id }, unlimited, 'Unlimited')),
    hintEl,
    errorEl,
  );
  return {
    el,
    input,
    unlimited,
    sync,
    value: () => (unlimited.checked ? null : wholeNumber(input.value, label, 0)),
    setError(text) {
      errorEl.textContent = text ?? '';
      errorEl.hidden = !text;
      if (text) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    },
  };
}

function wholeNumber(text, label, min, max = Infinity) {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(max === Infinity ? `${label} must be a whole number of at least ${min}.` : `${label} must be a whole number from ${min} to ${max}.`);
  }
  return n;
}
