// Admin · Plans: every plan, deleted ones included; create a plan with all its fields; delete
// (take off sale) with a confirmation. Memberships of a deleted plan keep working.

import { field, h, replace } from '../dom.js';
import { customerTypeLabel, formatDate, formatPrice, minorDigits, parsePrice } from '../format.js';
import { confirm, errorText, toast } from '../ui.js';
import { adminHeader, num, table } from './admin.js';

const CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'KRW', 'CAD', 'AUD', 'CHF', 'INR', 'BRL'];

export async function adminPlansPage({ root, api, signal }) {
  const list = h('div', { id: 'admin-plans', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading plans…'));
  const form = createForm(async (plan) => {
    const created = await api.post('/admin/plan', plan);
    toast(`Plan created: ${created.name}`, { kind: 'ok' });
    await load();
    return created;
  });
  replace(
    root,
    adminHeader('plans', 'Plans, users and the tutor’s latency.'),
    h(
      'div',
      { class: 'two-col' },
      h('section', { class: 'card section', 'aria-labelledby': 'new-plan-h' }, h('h2', { id: 'new-plan-h' }, 'New plan'), form),
      h('section', { class: 'section', 'aria-labelledby': 'plans-h' }, h('h2', { id: 'plans-h' }, 'All plans'), list),
    ),
  );

  async function load() {
    const plans = await api.get('/admin/plans?includeDeleted=true', { signal });
    list.removeAttribute('aria-busy');
    if (plans.length === 0) {
      replace(list, h('p', { class: 'muted' }, 'No plans yet. Create the first one.'));
      return;
    }
    replace(
      list,
      table(
        'All plans, including deleted ones',
        ['Name', 'For', { label: 'Price', class: 'num' }, { label: 'Days', class: 'num' }, { label: 'Chats', class: 'num' }, { label: 'Reviews', class: 'num' }, 'Status', ''],
        plans.map((p) => [
          h('span', {}, h('strong', {}, p.name), p.description ? h('span', { class: 'muted small' }, h('br'), p.description) : null),
          customerTypeLabel(p.target),
          num(formatPrice(p.price, p.currency)),
          num(p.durationDays),
          num(p.chatUses ?? '∞'),
          num(p.analysisUses ?? '∞'),
          p.deletedAt ? h('span', { class: 'badge badge-deleted' }, `Deleted ${formatDate(p.deletedAt)}`) : h('span', { class: 'badge badge-active' }, 'On sale'),
          p.deletedAt ? '' : h('button', { type: 'button', class: 'danger', onclick: () => remove(p), 'aria-label': `Delete plan ${p.name}` }, 'Delete'),
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
}

/** createForm is the new-plan form; onCreate(body) is called with the API's body. */
function createForm(onCreate) {
  const name = h('input', { id: 'plan-name', name: 'name', required: true, maxlength: 200 });
  const description = h('textarea', { id: 'plan-description', name: 'description', rows: 2, maxlength: 2000 });
  const days = h('input', { id: 'plan-days', name: 'durationDays', type: 'number', min: 1, max: 3660, step: 1, value: '30', required: true });
  const price = h('input', { id: 'plan-price', name: 'price', inputmode: 'decimal', required: true, placeholder: '9.99' });
  const currency = h('select', { id: 'plan-currency', name: 'currency' }, CURRENCIES.map((c) => h('option', { value: c }, c)));
  const target = h('select', { id: 'plan-target', name: 'target' }, h('option', { value: 'B2C' }, 'Personal learners (B2C)'), h('option', { value: 'B2B' }, 'Companies (B2B)'));
  const chats = usesInput('plan-chats', 'Chats', '20');
  const analyses = usesInput('plan-analyses', 'Reviews (analysis uses)', '');
  analyses.unlimited.checked = true;
  analyses.sync();
  const preview = h('span', { class: 'hint', id: 'price-preview', 'aria-live': 'polite' });
  const error = h('div', { class: 'notice notice-error', role: 'alert', id: 'plan-error' });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'plan-create' }, 'Create plan');

  const updatePreview = () => {
    try {
      preview.textContent = price.value.trim() ? `Shown to learners as ${formatPrice(parsePrice(price.value, currency.value), currency.value)}.` : `Price in ${currency.value}${minorDigits(currency.value) ? `, up to ${minorDigits(currency.value)} decimals` : ', whole units'}.`;
    } catch (err) {
      preview.textContent = err.message;
    }
  };
  price.addEventListener('input', updatePreview);
  currency.addEventListener('change', updatePreview);
  updatePreview();

  const form = h(
    'form',
    { id: 'plan-form', novalidate: true },
    h(
      'div',
      { class: 'form-grid' },
      h('div', { class: 'wide' }, field('Name', name)),
      h('div', { class: 'wide' }, field('Description', description)),
      field('Duration (days)', days),
      field('Audience', target),
      h('div', { class: 'field' }, h('label', { htmlFor: price.id }, 'Price'), price, preview),
      field('Currency', currency),
      chats.el,
      analyses.el,
    ),
    error,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.replaceChildren();
    let body;
    try {
      body = {
        name: name.value.trim(),
        description: description.value.trim(),
        durationDays: wholeNumber(days.value, 'Duration', 1),
        price: parsePrice(price.value, currency.value),
        currency: currency.value,
        target: target.value,
        chatUses: chats.value(),
        analysisUses: analyses.value(),
      };
      if (!body.name) throw new Error('Give the plan a name.');
    } catch (err) {
      error.textContent = err.message;
      return;
    }
    submit.disabled = true;
    try {
      await onCreate(body);
      form.reset();
      days.value = '30';
      chats.sync();
      analyses.unlimited.checked = true;
      analyses.sync();
      updatePreview();
      name.focus();
    } catch (err) {
      error.textContent = errorText(err);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** usesInput is a number of uses with an "Unlimited" checkbox (null in the API). */
function usesInput(id, label, initial) {
  const input = h('input', { id, type: 'number', min: 0, step: 1, value: initial });
  const unlimited = h('input', { type: 'checkbox', id: `${id}-unlimited` });
  const sync = () => {
    input.disabled = unlimited.checked;
  };
  unlimited.addEventListener('change', sync);
  const el = h(
    'fieldset',
    {},
    h('legend', {}, label),
    h('div', { class: 'row' }, h('label', { class: 'sr-only', htmlFor: id }, `${label} included`), input, h('label', { class: 'check', htmlFor: unlimited.id }, unlimited, 'Unlimited')),
  );
  return {
    el,
    unlimited,
    sync,
    value: () => (unlimited.checked ? null : wholeNumber(input.value, label, 0)),
  };
}

function wholeNumber(text, label, min) {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < min) throw new Error(`${label} must be a whole number of at least ${min}.`);
  return n;
}
