// The home page for visitors who are not signed in: what the tutor does, how a conversation
// goes, the plans a new account can buy (GET /api/plans/public) and the way in.

import { h, replace } from '../dom.js';
import { plural, priceText, reviewsText } from '../format.js';
import { errorText } from '../ui.js';

const STEPS = [
  ['Talk', 'Press start and speak. The tutor answers out loud within a second or two, at your level and about what interests you. Interrupt it any time, or type instead.'],
  ['Get a review', 'After a conversation, see each mistake beside your own words with a better way to say it, your CEFR level and why, how fluently you spoke, and what to practise next.'],
  ['Improve', 'Your level and speaking speed across reviews, and a tutor that remembers your goals and the mistakes you tend to make.'],
];

export async function welcomePage({ root, api, signal }) {
  const plans = h('div', { class: 'grid', id: 'public-plans', 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'Loading the plans…'));
  replace(
    root,
    h(
      'section',
      { class: 'hero', 'aria-labelledby': 'welcome-h' },
      h('h1', { id: 'welcome-h' }, 'Speak English with a tutor that listens and answers out loud'),
      h('p', { class: 'lead' }, 'aitutor is a conversation partner for learners of English: you talk, it listens, answers by voice at your level, and afterwards shows you what to say better.'),
      h(
        'div',
        { class: 'row hero-actions' },
        h('a', { class: 'button primary big', href: '#/signup', id: 'welcome-signup' }, 'Create a free account'),
        h('a', { class: 'button big', href: '#/signin', id: 'welcome-signin' }, 'Sign in'),
      ),
      h('p', { class: 'small muted' }, 'You need a microphone and your sound on. Typing works too.'),
    ),
    h(
      'section',
      { class: 'section', 'aria-labelledby': 'how-h' },
      h('h2', { id: 'how-h' }, 'How it works'),
      h(
        'ol',
        { class: 'steps' },
        STEPS.map(([title, text], i) => h('li', { class: 'card step' }, h('span', { class: 'step-number', 'aria-hidden': 'true' }, String(i + 1)), h('h3', {}, title), h('p', {}, text))),
      ),
    ),
    h(
      'section',
      { class: 'section', 'aria-labelledby': 'public-plans-h' },
      h('h2', { id: 'public-plans-h' }, 'Plans'),
      h(
        'p',
        { class: 'muted' },
        'A chat is one answer from the tutor; a review goes through a whole conversation. You are charged a chat only for an answer whose first sentence you heard.',
      ),
      plans,
      h(
        'p',
        { class: 'notice notice-info', id: 'company-note' },
        'Learning through your company? Create an account, then enter the code your company gave you on the Plans page: you get your company’s plans.',
      ),
    ),
  );

  try {
    const list = await api.get('/plans/public', { signal });
    plans.removeAttribute('aria-busy');
    if (!list.length) {
      replace(plans, h('p', { class: 'muted' }, 'No plans are on sale right now. Please check again later.'));
      return;
    }
    replace(plans, list.map(planCard));
  } catch (err) {
    if (err.name === 'AbortError') return;
    plans.removeAttribute('aria-busy');
    replace(plans, h('p', { class: 'notice notice-error', role: 'alert' }, `The plans could not be loaded: ${errorText(err)}`));
  }
}

function planCard(plan) {
  const features = [
    plan.chatUses == null ? 'Unlimited chats' : plural(plan.chatUses, 'chat'),
    reviewsText(plan.analysisUses),
    `Valid for ${plural(plan.durationDays, 'day')}`,
  ];
  return h(
    'article',
    { class: 'card plan', dataset: { planName: plan.name } },
    h('header', {}, h('h3', {}, plan.name), plan.oncePerUser ? h('span', { class: 'badge badge-accent' }, 'Once per account') : null),
    h('p', { class: 'price' }, priceText(plan.price, plan.currency), ' ', h('small', {}, `/ ${plural(plan.durationDays, 'day')}`)),
    plan.description ? h('p', {}, plan.description) : null,
    h('ul', {}, features.map((f) => h('li', {}, f))),
    h(
      'div',
      { class: 'actions' },
      h('a', { class: 'button', href: '#/signup' }, 'Create an account', h('span', { class: 'sr-only' }, ` to get ${plan.name}`)),
    ),
  );
}
