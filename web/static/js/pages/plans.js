// Plans: the plans the learner may buy (their customer type), the ones in use marked, and a
// purchase with a confirmation dialog. A purchase carries an Idempotency-Key that is reused
// when the learner retries after a failure, so that a retry never buys twice.

import { newKey } from '../api.js';
import { h, replace } from '../dom.js';
import { formatPrice, plural, reviewsText } from '../format.js';
import { announce, confirm, errorText, toast } from '../ui.js';

// planId → the key of a purchase whose outcome is unknown (kept across visits of the page).
const pendingKeys = new Map();

export async function plansPage({ root, api, session, signal }) {
  const list = h('div', { class: 'grid', id: 'plans', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading plans…'));
  const result = h('div', { id: 'purchase-result', 'aria-live': 'polite' });
  const b2b = session.user.customerType === 'B2B';
  replace(
    root,
    h('div', { class: 'page-header' }, h('h1', {}, 'Plans'), h('p', {}, 'Each plan gives you a number of conversations with the tutor for a number of days, and reviews of them: a review goes through a conversation for corrections, your level, your fluency and what to practise next.')),
    h(
      'div',
      { class: 'notice notice-info page-notice', id: 'plan-audience' },
      b2b
        ? h('p', {}, 'You have a company account, so these are the company (B2B) plans. Your employer or an administrator can also assign a plan to you.')
        : h('p', {}, 'These are the plans for personal learners. Company (B2B) plans are not sold here: they are arranged by your employer or an administrator, and appear on your home page once assigned.'),
    ),
    result,
    h('section', { class: 'section', 'aria-label': 'Plans for sale' }, list),
  );

  const load = async () => {
    const plans = await api.get('/membership', { signal });
    list.removeAttribute('aria-busy');
    if (plans.length === 0) {
      replace(list, h('p', { class: 'muted' }, 'No plans are on sale right now. Please check again later.'));
      return;
    }
    replace(list, plans.map((p) => planCard(p, () => buy(p))));
  };

  const buy = async (plan) => {
    const price = formatPrice(plan.price, plan.currency);
    const ok = await confirm({
      title: `Buy ${plan.name}?`,
      testid: 'confirm-purchase',
      body: h(
        'div',
        {},
        h('p', {}, `You will be charged ${price}.`),
        h('p', {}, `${planSummary(plan)}.`),
        plan.active ? h('p', {}, 'You already have an active membership of this plan; this buys another one.') : null,
      ),
      confirmLabel: `Buy for ${price}`,
    });
    if (!ok) return;
    await purchase(plan);
  };

  const purchase = async (plan) => {
    const key = pendingKeys.get(plan.id) ?? newKey();
    pendingKeys.set(plan.id, key);
    replace(result, h('p', { class: 'notice', role: 'status' }, `Buying ${plan.name}…`));
    try {
      const membership = await api.post('/membership', { planId: plan.id }, { headers: { 'Idempotency-Key': key } });
      pendingKeys.delete(plan.id);
      replace(
        result,
        h(
          'div',
          { class: 'notice notice-ok banner', id: 'purchase-ok' },
          h('p', {}, `You bought ${plan.name}. Enjoy your conversations!`),
          h('a', { class: 'button primary', href: `#/tutor/${membership.id}` }, 'Start a conversation'),
        ),
      );
      toast(`Purchase complete: ${plan.name}`, { kind: 'ok' });
      await session.refresh(signal);
      await load();
    } catch (err) {
      if (err.name === 'AbortError') return;
      if (!err.retryable) pendingKeys.delete(plan.id);
      const retry = err.retryable
        ? h('button', { type: 'button', class: 'primary', onclick: () => purchase(plan) }, 'Try again')
        : null;
      replace(
        result,
        h(
          'div',
          { class: 'notice notice-error banner', role: 'alert' },
          h('p', {}, `The purchase of ${plan.name} did not go through: ${errorText(err)}${err.retryable ? ' Trying again is safe: you will not be charged twice.' : ''}`),
          retry,
        ),
      );
      announce('The purchase failed.');
    }
  };

  await load();
}

/** planSummary: "20 chats and 3 reviews for 30 days". */
function planSummary(plan) {
  const chats = plan.chatUses == null ? 'Unlimited chats' : plural(plan.chatUses, 'chat');
  const reviews = reviewsText(plan.analysisUses);
  return `${chats} and ${reviews.charAt(0).toLowerCase()}${reviews.slice(1)} for ${plural(plan.durationDays, 'day')}`;
}

function planCard(plan, onBuy) {
  const price = formatPrice(plan.price, plan.currency);
  const features = [
    plan.chatUses == null ? 'Unlimited conversations' : `${plural(plan.chatUses, 'conversation')}`,
    `Valid for ${plural(plan.durationDays, 'day')}`,
    reviewsText(plan.analysisUses),
  ];
  return h(
    'article',
    { class: `card plan${plan.active ? ' is-active' : ''}`, dataset: { planId: plan.id, planName: plan.name } },
    h(
      'header',
      {},
      h('h3', {}, plan.name),
      plan.active ? h('span', { class: 'badge badge-active', title: 'You have an active membership of this plan' }, 'Active') : null,
      plan.target === 'B2B' ? h('span', { class: 'badge badge-accent' }, 'Company') : null,
    ),
    h('p', { class: 'price' }, price, ' ', h('small', {}, `/ ${plural(plan.durationDays, 'day')}`)),
    plan.description ? h('p', {}, plan.description) : null,
    h('ul', {}, features.map((f) => h('li', {}, f))),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', class: plan.active ? '' : 'primary', onclick: onBuy, 'aria-label': `Buy ${plan.name} for ${price}` }, plan.active ? 'Buy again' : 'Buy'),
    ),
  );
}
