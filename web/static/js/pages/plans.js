// Plans: the plans sold to the learner (GET /api/membership: personal plans, or as a member of
// a company its plans and the plans for company learners), the ones in use marked, the ones
// used up marked (once-per-account plans such as a trial), the company code that makes a
// learner a company learner, and getting a plan with a confirmation. A purchase carries an
// Idempotency-Key that is reused when the learner retries after a failure, so that a retry
// never buys twice.

import { newKey } from '../api.js';
import { joinCompanyDialog } from '../company.js';
import { h, replace } from '../dom.js';
import { planSummary, plural, priceText, reviewsText } from '../format.js';
import { announce, confirm, errorText, toast } from '../ui.js';

// planId → the key of a purchase whose outcome is unknown (kept across visits of the page).
const pendingKeys = new Map();

export async function plansPage({ root, api, session, signal }) {
  const list = h('div', { class: 'grid', id: 'plans', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading plans…'));
  const result = h('div', { id: 'purchase-result', 'aria-live': 'polite' });
  const audience = h('div', { class: 'notice notice-info page-notice banner', id: 'plan-audience' });
  replace(
    root,
    h(
      'div',
      { class: 'page-header' },
      h('h1', {}, 'Plans'),
      h('p', {}, 'A plan gives you chats with the tutor for a number of days, and reviews. A chat is one answer from the tutor; a review goes through a whole conversation: corrections, your level, your fluency and what to practise next.'),
    ),
    audience,
    result,
    h('section', { class: 'section', 'aria-label': 'Plans for sale' }, list),
  );

  const renderAudience = () => {
    const user = session.user;
    const company = user.company;
    if (company) {
      replace(
        audience,
        h('p', {}, 'You learn through ', h('strong', { id: 'plan-company' }, company.name), `: here are ${company.name}’s own plans and the plans for company learners. To leave ${company.name}, go to your home page.`),
      );
      return;
    }
    const join = h('button', { type: 'button', id: 'join-company' }, 'Enter a company code');
    join.addEventListener('click', async () => {
      if (await joinCompanyDialog({ api, session })) {
        renderAudience();
        await load();
      }
    });
    replace(
      audience,
      h(
        'p',
        {},
        user.customerType === 'B2B'
          ? 'You have a company account: these are the plans for company learners. '
          : 'These are the plans for personal learners. ',
        'Learning through your employer or school? Enter the code they gave you to see their plans.',
      ),
      join,
    );
  };

  const load = async () => {
    const plans = await api.get('/membership', { signal });
    list.removeAttribute('aria-busy');
    if (plans.length === 0) {
      replace(list, h('p', { class: 'muted' }, 'No plans are on sale to you right now. Please check again later.'));
      return;
    }
    replace(list, plans.map((p) => planCard(p, session.user.company, () => buy(p))));
  };

  const buy = async (plan) => {
    const price = priceText(plan.price, plan.currency);
    const ok = await confirm({
      title: `Get ${plan.name}?`,
      testid: 'confirm-purchase',
      body: h(
        'div',
        {},
        h('p', {}, h('strong', {}, `${planSummary(plan)}.`)),
        h('p', {}, `Price: ${price}. There is no payment step: confirming adds the membership to your account at once, starting today.`),
        plan.oncePerUser ? h('p', {}, 'You can get this plan once.') : null,
        plan.active ? h('p', {}, 'You already have an active membership of this plan; this adds another one.') : null,
      ),
      confirmLabel: `Get ${plan.name}`,
    });
    if (!ok) return;
    await purchase(plan);
  };

  const purchase = async (plan) => {
    const key = pendingKeys.get(plan.id) ?? newKey();
    pendingKeys.set(plan.id, key);
    replace(result, h('p', { class: 'notice', role: 'status' }, `Adding ${plan.name}…`));
    try {
      const membership = await api.post('/membership', { planId: plan.id }, { headers: { 'Idempotency-Key': key } });
      pendingKeys.delete(plan.id);
      replace(
        result,
        h(
          'div',
          { class: 'notice notice-ok banner', id: 'purchase-ok' },
          h('p', {}, `${plan.name} is yours. Enjoy your conversations!`),
          h('a', { class: 'button primary', href: `#/tutor/${membership.id}` }, 'Start a conversation'),
        ),
      );
      toast(`${plan.name} added to your account`, { kind: 'ok' });
      await session.refresh(signal);
      await load();
    } catch (err) {
      if (err.name === 'AbortError') return;
      if (!err.retryable || err.code === 'plan_already_used') pendingKeys.delete(plan.id);
      let why = `${errorText(err)}${err.retryable ? ' Trying again is safe: you will not get it twice.' : ''}`;
      let retry = err.retryable;
      if (err.code === 'plan_already_used') {
        why = `you have had ${plan.name} already, and it can be had once per account.`;
        retry = false;
      } else if (err.code === 'plan_not_available' || err.code === 'plan_not_for_sale') {
        why = `${plan.name} is not sold to you any more.`;
        retry = false;
      }
      replace(
        result,
        h(
          'div',
          { class: 'notice notice-error banner', role: 'alert', dataset: { code: err.code } },
          h('p', {}, `${plan.name} was not added: ${why}`),
          retry ? h('button', { type: 'button', class: 'primary', onclick: () => purchase(plan) }, 'Try again') : null,
        ),
      );
      announce(`${plan.name} was not added.`);
      if (!retry) await load().catch(() => {});
    }
  };

  renderAudience();
  await load();
}

function planCard(plan, company, onBuy) {
  const price = priceText(plan.price, plan.currency);
  const used = plan.available === false;
  const features = [
    plan.chatUses == null ? 'Unlimited chats' : plural(plan.chatUses, 'chat'),
    reviewsText(plan.analysisUses),
    `Valid for ${plural(plan.durationDays, 'day')}`,
  ];
  const badges = [];
  if (plan.active) badges.push(h('span', { class: 'badge badge-active', title: 'You have an active membership of this plan' }, 'Active'));
  if (used) badges.push(h('span', { class: 'badge badge-used' }, 'Already used'));
  else if (plan.oncePerUser) badges.push(h('span', { class: 'badge' }, 'Once per account'));
  if (plan.companyId) badges.push(h('span', { class: 'badge badge-accent' }, plan.companyId === company?.id ? company.name : 'Company plan'));
  else if (plan.target === 'B2B') badges.push(h('span', { class: 'badge badge-accent' }, 'For company learners'));
  const button = used
    ? h('button', { type: 'button', disabled: true, 'aria-describedby': `used-${plan.id}` }, 'Already used', h('span', { class: 'sr-only' }, `: ${plan.name}`))
    : h('button', { type: 'button', class: plan.active ? '' : 'primary', onclick: onBuy }, plan.active ? 'Get again' : 'Get', h('span', { class: 'sr-only' }, ` ${plan.name} ${plan.price === 0 ? 'for free' : `for ${price}`}`));
  return h(
    'article',
    { class: `card plan${plan.active ? ' is-active' : ''}${used ? ' is-used' : ''}`, dataset: { planId: plan.id, planName: plan.name, available: String(!used) } },
    h('header', {}, h('h3', {}, plan.name), badges.length ? h('span', { class: 'badges' }, badges) : null),
    h('p', { class: 'price' }, price, ' ', h('small', {}, `/ ${plural(plan.durationDays, 'day')}`)),
    plan.description ? h('p', {}, plan.description) : null,
    h('ul', {}, features.map((f) => h('li', {}, f))),
    used ? h('p', { class: 'small', id: `used-${plan.id}` }, 'You have had this plan: it can be had once per account.') : null,
    h('div', { class: 'actions' }, button),
  );
}
